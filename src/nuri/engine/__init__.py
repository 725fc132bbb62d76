"""The scheduling engine: snapshot -> policy -> apply, one leader at a time."""
