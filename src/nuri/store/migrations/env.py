"""Alembic environment: runs migrations on the connection the caller passes in."""

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from nuri.store.tables import Base, UtcDateTime


def render_item(kind: str, item: Any, _context: AutogenContext) -> str | Literal[False]:
    """Write nuri's UTC column type as a plain DateTime, so migrations never import live code."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime()"
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("nuri migrations run through nuri.store.migrate, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite can only alter tables by copying them
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
