"""Sign-ins of the requests that arrive together, in one session on one thread.

Every API request signs in, and every keyed one (each ``nuri submit``) looks its key up as well:
one statement each (:mod:`nuri.service.sign_in`). Each of them used to pay, besides that statement,
a hand-off to a worker thread, a connection checked out and the worker threads' contention for the
GIL: under a submission load the sign-in threads took a third of the API's CPU, as much as the
submissions themselves. They now go through :class:`nuri.api.batches.Batches`: the sign-ins that
wait are made one after another in one session on one thread, each still with its own outcome.

The session is the commons' autocommit one, as before: each write (a failed sign-in recorded, a
stale key forgotten) stands alone, and no answer depends on seeing the others' rows at one instant.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from nuri.api.batches import Batches
from nuri.domain.errors import DomainError
from nuri.service.auth import Actor
from nuri.service.commons import Commons
from nuri.service.idempotency import KeyedRequest, StoredAnswer
from nuri.service.sign_in import SignedIn, SignInAttempt


@dataclass(frozen=True, slots=True)
class SignInAsked:
    """A request's token, and for a keyed request what its key must match."""

    address: str
    token: str
    key: str | None = None
    request_line: str = ""
    """Method and path, e.g. ``POST /api/v1/jobs`` (keyed requests)."""
    fingerprint: str = ""
    """Of the method, path, query and body (keyed requests)."""


@dataclass(frozen=True, slots=True)
class SignInAnswer:
    """The token's user (None if it does not sign in); for a keyed request, the request and its
    stored answer if it has one."""

    actor: Actor | None
    request: KeyedRequest | None = None
    stored: StoredAnswer | None = None


class SignIns:
    """Bearer sign-ins, with the key's record for keyed requests, several in one session."""

    def __init__(self, commons: Commons) -> None:
        self._commons = commons

    def answer_many(self, asked: Sequence[SignInAsked]) -> list[SignInAnswer | DomainError]:
        """Each one's answer, or the DomainError that refuses it (TooManyAttempts for an address
        over the limit, IdempotencyKeyReused for a key used for another request)."""
        answers: list[SignInAnswer | DomainError] = []
        # The commons' sign-in as it is set now (operators and tests may change its limits).
        sign_in = self._commons.bearer_sign_in
        with self._commons.autocommit_sessions.begin() as session:
            signed = sign_in.attempt_many(
                session, [SignInAttempt(each.address, each.token, each.key) for each in asked]
            )
            for each, outcome in zip(asked, signed, strict=True):
                if isinstance(outcome, DomainError):
                    answers.append(outcome)
                    continue
                try:
                    answers.append(self._answer(session, each, outcome))
                except DomainError as error:  # the key used for another request
                    answers.append(error)
        return answers

    def _answer(
        self, session: Session, asked: SignInAsked, signed_in: SignedIn | None
    ) -> SignInAnswer:
        if signed_in is None:
            return SignInAnswer(None)
        if asked.key is None:
            return SignInAnswer(signed_in.actor)
        request = KeyedRequest(
            user_id=signed_in.actor.user_id,
            key=asked.key,
            request=asked.request_line,
            fingerprint=asked.fingerprint,
        )
        stored = self._commons.idempotent_requests.answer_in(request, signed_in.key_record, session)
        return SignInAnswer(signed_in.actor, request, stored)


SignInBatches = Batches[SignInAsked, SignInAnswer]


def sign_in_batches(connection: HTTPConnection) -> SignInBatches:
    """The app's SignInBatches (``create_app`` keeps them in its state)."""
    batches: SignInBatches = connection.app.state.sign_in_batches
    return batches
