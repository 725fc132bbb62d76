"""Signing in with a bearer token: the address's failures, the token's owner and the caller's
record of an ``Idempotency-Key``, read in one statement, for one request or for several.

Every API request signs in, and every keyed one (each ``nuri submit``) looks its key up as well.
Asked one after another, that was three round trips to the database before the request's own work
began; asked together, it is one, and the sign-ins of requests that arrive together
(:mod:`nuri.api.sign_ins`) share one. The rules stay where they were: the sign-in limit in
:mod:`nuri.service.sign_in_limits`, what makes a token valid in :mod:`nuri.service.directory`, what
a key's record means in :mod:`nuri.service.idempotency`. As before, an address over the limit is
refused whether or not its token is valid, and a failure is recorded only when it is not.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy import and_, bindparam, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from nuri.domain.commons import Role
from nuri.domain.errors import DomainError
from nuri.engine.clock import Clock
from nuri.service.auth import Actor, token_digest
from nuri.service.directory import TOKEN_OWNER
from nuri.service.idempotency import KeyRecord
from nuri.service.sign_in_limits import MAX_ADDRESS_LENGTH, RECENT_FAILURES, SignInLimits
from nuri.store.numbered_statements import numbered_parameters, numbered_union
from nuri.store.tables import IdempotencyKeyRow

_FAILURES = RECENT_FAILURES.subquery("failures")
_OWNER = TOKEN_OWNER.subquery("owner")
# count(*) always yields one row, so the outer joins yield exactly one: the token's owner and
# the key's record are NULL where there are none (and for a request without a key).
_SIGN_IN = (
    select(
        _FAILURES.c[0].label("failures"),
        _OWNER.c.id.label("user_id"),
        _OWNER.c.name,
        _OWNER.c.role,
        IdempotencyKeyRow.id.label("key_id"),
        IdempotencyKeyRow.request,
        IdempotencyKeyRow.fingerprint,
        IdempotencyKeyRow.created_at,
        IdempotencyKeyRow.status_code,
        IdempotencyKeyRow.content_type,
        IdempotencyKeyRow.response_body,
    )
    .select_from(_FAILURES.outerjoin(_OWNER, true()))
    .outerjoin(
        IdempotencyKeyRow,
        and_(IdempotencyKeyRow.user_id == _OWNER.c.id, IdempotencyKeyRow.key == bindparam("key")),
    )
)


@cache
def _sign_ins(count: int) -> Executable:
    """:data:`_SIGN_IN` for ``count`` attempts in one statement (numbered copies). Built once per
    count: building a statement costs more than running it, and a statement object keeps its
    compiled form."""
    return numbered_union(_SIGN_IN, count)


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    """A bearer token presented from a client address, with the request's key if it has one."""

    address: str
    token: str
    key: str | None = None


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a token signs in as, and their record of the request's key if it has one."""

    actor: Actor
    key_record: KeyRecord | None


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
        (outcome,) = self.attempt_many(session, [SignInAttempt(address, token, key)])
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    def attempt_many(
        self, session: Session, attempts: Sequence[SignInAttempt]
    ) -> list[SignedIn | DomainError | None]:
        """For each attempt, in order, what :meth:`attempt` returns, or the TooManyAttempts it
        raises; all read in one statement. A failure counts against the attempts after it from
        the same address, as it would one after another."""
        if not attempts:
            return []
        now = self._clock()
        since = self._limits.window_start(now)
        parameters = numbered_parameters(
            [
                {
                    "address": attempt.address[:MAX_ADDRESS_LENGTH],
                    "since": since,
                    "digest": token_digest(attempt.token),
                    "now": now,
                    "key": attempt.key,
                }
                for attempt in attempts
            ]
        )
        rows = {
            int(row.i): row
            for row in session.connection().execute(_sign_ins(len(attempts)), parameters)
        }
        failed_here: Counter[str] = Counter()
        outcomes: list[SignedIn | DomainError | None] = []
        for i, attempt in enumerate(attempts):
            row, address = rows[i], attempt.address[:MAX_ADDRESS_LENGTH]
            try:
                self._limits.refuse_if_blocked(
                    address, int(row.failures or 0) + failed_here[address], now, session
                )
            except DomainError as error:
                outcomes.append(error)
                continue
            if row.user_id is None:
                self._limits.record_failure(address, session)
                failed_here[address] += 1
                outcomes.append(None)
                continue
            record = (
                None
                if row.key_id is None
                else KeyRecord(
                    id=row.key_id,
                    request=row.request,
                    fingerprint=row.fingerprint,
                    created_at=row.created_at,
                    status_code=row.status_code,
                    content_type=row.content_type,
                    response_body=row.response_body,
                )
            )
            actor = Actor(user_id=row.user_id, name=row.name, role=Role(row.role))
            outcomes.append(SignedIn(actor, record))
        return outcomes
