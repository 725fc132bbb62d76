"""Signing in with a bearer token: the address's failures, the token's owner and the caller's
record of an ``Idempotency-Key``, read in one statement.

Every API request signs in, and every keyed one (each ``nuri submit``) looks its key up as well.
Asked one after another, that was three round trips to the database before the request's own work
began; asked together, it is one. The rules stay where they were: the sign-in limit in
:mod:`nuri.service.sign_in_limits`, what makes a token valid in :mod:`nuri.service.directory`, what
a key's record means in :mod:`nuri.service.idempotency`. As before, an address over the limit is
refused whether or not its token is valid, and a failure is recorded only when it is not.
"""

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, select, true
from sqlalchemy.orm import Session

from nuri.domain.commons import Role
from nuri.engine.clock import Clock
from nuri.service.auth import Actor, token_digest
from nuri.service.directory import TOKEN_OWNER
from nuri.service.sign_in_limits import MAX_ADDRESS_LENGTH, RECENT_FAILURES, SignInLimits
from nuri.store.tables import IdempotencyKeyRow

_FAILURES = RECENT_FAILURES.subquery("failures")
_OWNER = TOKEN_OWNER.subquery("owner")
# Built once: every request runs one of these, and a statement object keeps its compiled form.
# count(*) always yields one row, so the outer joins yield exactly one: the token's owner and
# the key's record are NULL where there are none.
_SIGN_IN = select(_FAILURES.c[0], _OWNER.c.id, _OWNER.c.name, _OWNER.c.role).select_from(
    _FAILURES.outerjoin(_OWNER, true())
)
_SIGN_IN_WITH_KEY = _SIGN_IN.add_columns(IdempotencyKeyRow).outerjoin(
    IdempotencyKeyRow,
    and_(IdempotencyKeyRow.user_id == _OWNER.c.id, IdempotencyKeyRow.key == bindparam("key")),
)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a token signs in as, and their record of the request's key if it has one."""

    actor: Actor
    key_record: IdempotencyKeyRow | None


class BearerSignIn:
    """Bearer-token sign-ins under the sign-in limit."""

    def __init__(self, limits: SignInLimits, clock: Clock) -> None:
        self._limits = limits
        self._clock = clock

    def attempt(
        self, session: Session, address: str, token: str, key: str | None = None
    ) -> SignedIn | None:
        """The token's owner (and, with ``key``, their record of it), or None if the token is
        unknown, revoked or expired: a failure, recorded against ``address``. TooManyAttempts if
        the address is blocked. Reads in ``session``, which may commit statement by statement."""
        address = address[:MAX_ADDRESS_LENGTH]
        now = self._clock()
        parameters = {
            "address": address,
            "since": self._limits.window_start(now),
            "digest": token_digest(token),
            "now": now,
        }
        if key is None:
            failures, user_id, name, role = session.execute(_SIGN_IN, parameters).one()
            record = None
        else:
            failures, user_id, name, role, record = session.execute(
                _SIGN_IN_WITH_KEY, parameters | {"key": key}
            ).one()
        self._limits.refuse_if_blocked(address, int(failures or 0), now, session)
        if user_id is None:
            self._limits.record_failure(address, session)
            return None
        return SignedIn(Actor(user_id=user_id, name=name, role=Role(role)), record)
