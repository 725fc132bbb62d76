"""The ``nuri`` command: a thin client of the HTTP API (plus ``nuri serve`` to run the server)."""
