"""Rate limits on failed sign-ins, kept in the database so that every replica enforces them.

A sign-in is a bearer token presented to the API or a token typed into the portal's form. Each
failure is a row keyed by the client's address (nothing else: not a user name, not the token),
and an address with ``limit`` failures inside the sliding ``window`` is refused every further
attempt, valid or not, until enough of them have aged out; the refusal says how long that is.

- Checking an address that is not blocked costs one indexed count.
- A refused attempt (HTTP 429) is not recorded, so waiting the advertised time always works.
- A successful sign-in deletes nothing: it neither resets its own address's failures nor anyone
  else's, so a valid token interleaved with guesses does not lift the limit.
- Recording a failure prunes every row older than the window, so the table stays small.

Replicas count and insert in separate statements, so under concurrent guessing a few attempts
beyond ``limit`` may slip through; the limit bounds guessing, it does not meter it exactly.
"""

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.errors import TooManyAttempts
from nuri.engine.clock import Clock
from nuri.store.database import joined_or_new
from nuri.store.tables import SignInFailureRow

T = TypeVar("T")
MAX_ADDRESS_LENGTH = 64

# Every sign-in asks this first; built once, so its compiled form is reused. Parameters:
# ``address`` and ``since`` (:meth:`SignInLimits.window_start`).
RECENT_FAILURES = select(func.count()).where(
    SignInFailureRow.client_address == bindparam("address"),
    SignInFailureRow.at > bindparam("since"),
)


class SignInLimits:
    """Failed sign-ins per client address over a sliding window; one transaction per method."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, *, limit: int, window_s: int
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._limit = limit
        self._window = timedelta(seconds=window_s)

    def attempt(
        self, address: str, sign_in: Callable[[], T | None], session: Session | None = None
    ) -> T | None:
        """``sign_in()`` for a client at ``address``, or TooManyAttempts if the address is blocked.

        ``sign_in`` returns None for a failure, which is then recorded against the address. With
        ``session``, the check and the record are made in that open transaction.
        """
        address = address[:MAX_ADDRESS_LENGTH]
        self.check(address, session)
        signed_in = sign_in()
        if signed_in is None:
            self.record_failure(address, session)
        return signed_in

    def check(self, address: str, session: Session | None = None) -> None:
        """Raise TooManyAttempts, with the seconds to wait, if ``address`` is blocked now."""
        now = self._clock()
        with joined_or_new(self._sessions, session) as session:
            address = address[:MAX_ADDRESS_LENGTH]
            count = session.scalar(
                RECENT_FAILURES, {"address": address, "since": self.window_start(now)}
            )
            self.refuse_if_blocked(address, count or 0, now, session)

    def window_start(self, now: datetime) -> datetime:
        """Failures after this instant count against an address at ``now``."""
        return now - self._window

    def refuse_if_blocked(self, address: str, count: int, now: datetime, session: Session) -> None:
        """Raise TooManyAttempts, with the seconds to wait, if ``count`` (the address's failures
        inside the window at ``now``, as :data:`RECENT_FAILURES` counts them) reaches the limit."""
        if count < self._limit:
            return
        address = address[:MAX_ADDRESS_LENGTH]
        # Once the (count - limit + 1) oldest failures leave the window, one attempt is free.
        freeing = session.scalar(
            select(SignInFailureRow.at)
            .where(
                SignInFailureRow.client_address == address,
                SignInFailureRow.at > self.window_start(now),
            )
            .order_by(SignInFailureRow.at)
            .offset(count - self._limit)
            .limit(1)
        )
        # A failure may have aged out since it was counted: the oldest that is left frees one.
        if freeing is None:
            freeing = self.window_start(now)
        wait_s = max(1, math.ceil((freeing + self._window - now).total_seconds()))
        raise TooManyAttempts(
            f"too many failed sign-ins from your address ({count} in the last"
            f" {_duration(self._window)}); wait {wait_s} s and try again with a valid token",
            retry_after_s=wait_s,
        )

    def record_failure(self, address: str, session: Session | None = None) -> None:
        """Count one failed sign-in against ``address``, and prune failures older than the window."""
        now = self._clock()
        with joined_or_new(self._sessions, session) as session:
            session.execute(
                delete(SignInFailureRow).where(SignInFailureRow.at <= self.window_start(now))
            )
            session.add(SignInFailureRow(client_address=address[:MAX_ADDRESS_LENGTH], at=now))

    def failures(self, address: str) -> int:
        """Failures of ``address`` inside the window now (for operators and tests)."""
        now = self._clock()
        with self._sessions.begin() as session:
            parameters = {"address": address[:MAX_ADDRESS_LENGTH], "since": self.window_start(now)}
            return session.scalar(RECENT_FAILURES, parameters) or 0


def _duration(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    return f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} s"
