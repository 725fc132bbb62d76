"""The audit log: an append-only record of who did what to which subject, and why.

Every use case that changes the commons on someone's authority (an admin creating a hub, a PI
adding a member, a manager deciding awards, a user revoking a token) appends one entry with
:func:`audit_entry` in the same transaction as the change, so the log holds an entry exactly when
the change was committed. Managers and admins read it (``GET /api/v1/audit``, ``nuri audit``).
"""

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from nuri.service.auth import Actor
from nuri.store.tables import AuditRow


def audit_entry(
    session: Session,
    now: datetime,
    actor: Actor | None,
    action: str,
    subject: str,
    detail: dict[str, Any],
) -> None:
    """Append to the audit log in ``session``'s transaction. ``actor`` None: the bootstrap (the
    first admin, created on the server's host without a token)."""
    actor_user_id = None if actor is None else actor.user_id
    session.add(
        AuditRow(at=now, actor_user_id=actor_user_id, action=action, subject=subject, detail=detail)
    )
