"""A database lease, so that exactly one nuri instance schedules at a time.

Every instance tries to take or renew the lease before each cycle. The holder renews it; anyone
may take it once it has expired (its holder died or hung). Because the lease lives in the shared
database, API replicas can come and go freely.
"""

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from nuri.store.tables import LeaseRow

SCHEDULER_LEASE = "scheduler"


def try_acquire(
    sessions: sessionmaker[Session], name: str, holder: str, now: datetime, duration_s: float
) -> bool:
    """Take or renew lease ``name`` for ``holder`` until ``now + duration_s``; True if held."""
    try:
        with sessions.begin() as session:
            row = session.get(LeaseRow, name, with_for_update=True)
            expires_at = now + timedelta(seconds=duration_s)
            if row is None:
                session.add(LeaseRow(name=name, holder=holder, expires_at=expires_at))
            elif row.holder == holder or row.expires_at <= now:
                row.holder = holder
                row.expires_at = expires_at
            else:
                return False
        return True
    except (IntegrityError, OperationalError):
        return False  # another instance took it at the same moment


def release(sessions: sessionmaker[Session], name: str, holder: str) -> None:
    """Give the lease up at once (on clean shutdown) so another instance need not wait."""
    with sessions.begin() as session:
        row = session.get(LeaseRow, name, with_for_update=True)
        if row is not None and row.holder == holder:
            session.delete(row)
