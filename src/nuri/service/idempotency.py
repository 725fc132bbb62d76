"""Requests carried out at most once per ``Idempotency-Key``.

A client that may send a request twice (it timed out, the connection dropped, the server
restarted) names the request with a key of its own choosing. nuri then carries it out at most once
for that caller and key, and answers every retry with the first answer:

- **Claim with the work.** The key is recorded in the *same transaction* as the request's first
  write. There is no moment at which the work has committed and the key has not, or the other way
  round: a crash either loses both (the retry does the work) or keeps both (the retry is refused).
- **Answer after.** Just after the request, its answer (status, type and body) is stored beside the
  key, so a retry is answered from the store without touching anything else.
- **Same key, other request.** A key reused with a different method, path or body is refused
  (:class:`IdempotencyKeyReused`), so that a client bug cannot silently return the wrong job.
- **Or with the work.** A use case that knows its answer before it commits (a job submission)
  hands it over (:meth:`IdempotentRequests.answer_with_claim`), and it is stored with the claim:
  one statement fewer, and no gap at all.
- **The gap.** If the server dies after the work commits but before the answer is stored, a retry
  runs the request again. A request whose use case notices the repeat itself (a job submission
  finds its job by key; a name already taken) answers as it would; any other reaches its commit,
  finds the key claimed and is rolled back whole (:class:`RequestAlreadyCarriedOut`, 409). Either
  way nothing is done twice.

The claim rides on SQLAlchemy session events of the commons' sessionmaker, so no use case needs to
know about keys: :meth:`IdempotentRequests.carrying_out` marks the current context, and the first
transaction in that context that writes anything adds the key row before it commits. Keys are kept
for :data:`KEY_RETENTION`; an older key is forgotten and may be used afresh.
"""

import contextvars
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, event, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from nuri.domain.errors import Conflict, DomainError, InvalidInput
from nuri.store.tables import Base, IdempotencyKeyRow

KEY_RETENTION = timedelta(hours=24)
"""How long a key and its answer are kept: far longer than any client retries."""

PRUNE_EVERY = timedelta(minutes=10)
"""How often one process deletes keys past their retention (any replica's pruning serves all)."""

MAX_STORED_ANSWER_BYTES = 1_000_000
"""Larger answers are not stored; a retry of such a request is then refused, never repeated."""

_VALID_KEY = re.compile(r"[\x21-\x7e]{1,100}")
"""Printable ASCII without spaces: a UUID, a ULID, or any token a client makes."""

# Every keyed request runs these two; built once, so their compiled forms are reused.
_THIS_KEY = (
    IdempotencyKeyRow.user_id == bindparam("owner"),
    IdempotencyKeyRow.key == bindparam("named"),
)
_CLAIM_KEY = insert(Base.metadata.tables[IdempotencyKeyRow.__tablename__])  # see Jobs.submit
_STORE_ANSWER = (
    update(IdempotencyKeyRow)
    .where(*_THIS_KEY)
    .values(
        # Not named like the columns: SQLAlchemy keeps those names for its own parameters.
        status_code=bindparam("answer_status"),
        content_type=bindparam("answer_type"),
        response_body=bindparam("answer_body"),
    )
)

_WROTE = "nuri_idempotency_wrote"
"""Session info: this transaction has written something (so it carries the request's work)."""
_CLAIMS = "nuri_idempotency_claims"
"""Session info: the claims this transaction adds keys for, marked claimed once it commits."""


class IdempotencyKeyReused(DomainError):
    """A key already used for a different request (method, path or body)."""


class RequestAlreadyCarriedOut(Conflict):
    """The key's request was carried out before, but its answer was not stored (a crash)."""


def check_key(key: str) -> str:
    """``key`` if it is 1 to 100 printable ASCII characters without spaces, else InvalidInput."""
    if not _VALID_KEY.fullmatch(key):
        raise InvalidInput(
            "an Idempotency-Key must be 1 to 100 printable ASCII characters without spaces,"
            " e.g. a UUID"
        )
    return key


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """SHA-256 of a request: method, path, query and body (JSON compared by value, not layout)."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except ValueError:  # not JSON (or not UTF-8): compare the bytes as they are
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class KeyedRequest:
    """One request as a caller named it."""

    user_id: int
    key: str
    request: str
    """Method and path, e.g. ``POST /api/v1/jobs``."""
    fingerprint: str


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A caller's record of a key, as sign-in reads it (:mod:`nuri.service.sign_in`)."""

    id: int
    request: str
    fingerprint: str
    created_at: datetime
    status_code: int | None
    content_type: str | None
    response_body: str | None


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The answer the first request with a key got."""

    status_code: int
    content_type: str
    body: bytes


@dataclass(slots=True)
class Claim:
    """A keyed request being carried out; ``claimed`` once a transaction with its key commits."""

    request: KeyedRequest
    now: datetime
    claimed: bool = False
    answer: StoredAnswer | None = None
    """The answer, when the request's transaction knew it before committing: stored with the
    claim, so there is nothing to store after."""


_CURRENT: contextvars.ContextVar[Claim | None] = contextvars.ContextVar(
    "nuri_idempotency_claim", default=None
)


class IdempotentRequests:
    """Keys, their claims and their stored answers, in the commons' database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        answers: sessionmaker[Session] | None = None,
    ) -> None:
        """``answers``: sessions to store answers in, which may commit statement by statement
        (the update and the occasional pruning need nothing around them); ``sessions`` then."""
        self._sessions = sessions
        self._answers = sessions if answers is None else answers
        self._clock = clock
        self._pruned_at: datetime | None = None
        _install_claim_hooks(sessions)

    def answer_in(
        self, request: KeyedRequest, row: KeyRecord | None, session: Session
    ) -> StoredAnswer | None:
        """The answer stored for ``request``'s key, or None if it must be carried out now, given
        the caller's record of the key (None if it has none) as read in ``session``: sign-in
        reads it in the same statement as the token (:mod:`nuri.service.sign_in`).

        Raises IdempotencyKeyReused if the key was used for another request. A key older than
        KEY_RETENTION is forgotten here, so the request is carried out afresh.
        """
        if row is None:
            return None
        if row.created_at < self._clock() - KEY_RETENTION:
            session.execute(delete(IdempotencyKeyRow).where(IdempotencyKeyRow.id == row.id))
            return None
        if row.fingerprint != request.fingerprint:
            raise IdempotencyKeyReused(
                f"Idempotency-Key {request.key!r} was used for {row.request} with a different"
                " body; use a new key for a new request"
            )
        if row.status_code is None or row.response_body is None:
            return None  # carried out, answer lost: run again; the claim refuses a repeat
        return StoredAnswer(
            status_code=row.status_code,
            content_type=row.content_type or "application/json",
            body=row.response_body.encode(),
        )

    @contextmanager
    def carrying_out(self, request: KeyedRequest) -> Iterator[Claim]:
        """While this is open, the first writing transaction in this context claims the key.

        The context is copied into the worker thread that runs a route, so the claim is seen
        there; the yielded Claim says afterwards whether it was made.
        """
        claim = Claim(request=request, now=self._clock())
        reset = _CURRENT.set(claim)
        try:
            yield claim
        finally:
            _CURRENT.reset(reset)

    def current_claim(self) -> Claim | None:
        """The claim of the keyed request being carried out in this context, if any: for work
        handed to another thread that does not run in this context (a batch of submissions),
        which then claims the key itself (:func:`claim_keys`)."""
        return _CURRENT.get()

    def answer_with_claim(
        self, status_code: int, content_type: str, body: bytes, *, claim: Claim | None = None
    ) -> None:
        """The answer the request being carried out (in this context, or by ``claim``) will get,
        handed over by its use case before its transaction commits, to be stored with the claim
        in that transaction. Nothing happens outside a keyed request, or for an answer that
        would not be stored."""
        claim = _CURRENT.get() if claim is None else claim
        if claim is not None and _storable(body) is not None:
            claim.answer = StoredAnswer(status_code, content_type, body)

    def needs_storing(self, claim: Claim) -> bool:
        """Whether :meth:`store_answer` has anything to do after ``claim``'s request: store its
        answer, or prune stale keys, which it does now and then."""
        return (claim.claimed and claim.answer is None) or self._pruning_due(claim.now)

    def store_answer(self, claim: Claim, status_code: int, content_type: str, body: bytes) -> None:
        """Keep the answer of a claimed request for its retries (nothing if it is too large, or if
        it was stored with the claim)."""
        text = _storable(body) if claim.claimed and claim.answer is None else None
        if text is None and not self._pruning_due(claim.now):
            return
        request = claim.request
        with self._answers.begin() as session:
            if text is not None:
                session.execute(
                    _STORE_ANSWER,
                    {
                        "owner": request.user_id,
                        "named": request.key,
                        "answer_status": status_code,
                        "answer_type": content_type,
                        "answer_body": text,
                    },
                )
            # Forgetting stale keys here, now and then, keeps the table small without a sweeper.
            if self._pruning_due(claim.now):
                session.execute(
                    delete(IdempotencyKeyRow).where(
                        IdempotencyKeyRow.created_at < claim.now - KEY_RETENTION
                    )
                )
                self._pruned_at = claim.now

    def _pruning_due(self, now: datetime) -> bool:
        return self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY


def _storable(body: bytes) -> str | None:
    """``body`` as the text to store, or None if it is too large or not UTF-8."""
    if len(body) > MAX_STORED_ANSWER_BYTES:
        return None
    try:
        return body.decode()
    except UnicodeDecodeError:
        return None


# -- the claim, inside the request's own transaction ------------------------------------------


def _install_claim_hooks(sessions: sessionmaker[Session]) -> None:
    if event.contains(sessions, "before_commit", _claim_before_commit):
        return
    event.listen(sessions, "after_flush", _note_flushed_writes)
    event.listen(sessions, "do_orm_execute", _note_statement_writes)
    event.listen(sessions, "before_commit", _claim_before_commit)
    event.listen(sessions, "after_commit", _mark_claimed)
    event.listen(sessions, "after_rollback", _forget_writes)


def _note_flushed_writes(session: Session, _flush_context: Any) -> None:
    if _CURRENT.get() is not None and (session.new or session.dirty or session.deleted):
        session.info[_WROTE] = True


def _note_statement_writes(state: ORMExecuteState) -> None:
    if _CURRENT.get() is not None and (state.is_insert or state.is_update or state.is_delete):
        state.session.info[_WROTE] = True


def _claim_before_commit(session: Session) -> None:
    claim = _CURRENT.get()
    if claim is None or claim.claimed or any(c is claim for c in session.info.get(_CLAIMS, ())):
        return
    session.flush()
    if not session.info.get(_WROTE):
        return  # a read, or a write refused before it happened: the key stays unclaimed
    claim_keys(session, [claim])


def claim_keys(session: Session, claims: Sequence[Claim]) -> None:
    """Add the keys of ``claims`` in ``session``'s transaction, each with its answer if it has
    one; once the transaction commits, each is marked claimed.

    Raises RequestAlreadyCarriedOut if the one key given was claimed before; with several, the
    IntegrityError, which does not say whose key it was.
    """
    if not claims:
        return
    try:
        session.execute(_CLAIM_KEY, [_claim_row(claim) for claim in claims])
    except IntegrityError:
        if len(claims) > 1:
            raise
        raise RequestAlreadyCarriedOut(
            f"the request with Idempotency-Key {claims[0].request.key!r} was already carried out"
            " (by a concurrent retry, or before a restart that lost its answer); retry in a"
            " moment for its answer, or look the result up"
        ) from None
    session.info.setdefault(_CLAIMS, []).extend(claims)


def _claim_row(claim: Claim) -> dict[str, object]:
    request, answer = claim.request, claim.answer
    return {
        "user_id": request.user_id,
        "key": request.key,
        "request": request.request,
        "fingerprint": request.fingerprint,
        "created_at": claim.now,
        "status_code": None if answer is None else answer.status_code,
        "content_type": None if answer is None else answer.content_type,
        "response_body": None if answer is None else answer.body.decode(),
    }


def _mark_claimed(session: Session) -> None:
    for claim in session.info.pop(_CLAIMS, ()):
        claim.claimed = True
    session.info.pop(_WROTE, None)


def _forget_writes(session: Session) -> None:
    session.info.pop(_CLAIMS, None)
    session.info.pop(_WROTE, None)
