"""The HTTP API: FastAPI under ``/api/v1``. It keeps no state outside the database."""
