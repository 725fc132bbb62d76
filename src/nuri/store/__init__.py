"""Storage adapter: SQLAlchemy 2 tables, database set-up and Alembic migrations.

SQLite (WAL) under ``NURI_HOME`` by default; any SQLAlchemy URL through ``NURI_DATABASE_URL``.
Repositories here never commit: the service layer owns each transaction.
"""
