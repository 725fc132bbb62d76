"""Version 1 of the API. Breaking changes go to a new version beside it."""
