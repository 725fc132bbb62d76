"""Signed-in browsers: sessions kept in the database, so that any replica can serve any request.

Signing in exchanges an API token (the one the ``nuri`` command uses) for a session: a random
session id goes to the browser in an HttpOnly cookie and only its SHA-256 digest is stored, with
the id of the API token it was opened with and the session's CSRF token. Every request looks the
session up again, and a session stops working when

- it reaches ``expires_at`` (``SESSION_LIFETIME`` after sign-in, never later than its token's
  own expiry),
- its owner signs out (the row is deleted), or
- the API token it was opened with is revoked or expires (checked on every request, so revoking
  a token signs its browsers out at once).

Expired rows are deleted at the next sign-in; nothing else writes, so reading a page never does.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from nuri.domain.commons import Role
from nuri.engine.clock import Clock
from nuri.service.auth import Actor, token_digest
from nuri.store.tables import TokenRow, UserRow, WebSessionRow

SESSION_LIFETIME = timedelta(hours=12)
"""A working day: long enough not to interrupt anyone, short enough that a forgotten browser
does not stay signed in for days."""
SESSION_ID_BYTES = 32


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session: who it is, the token that must accompany their forms, and when it ends."""

    actor: Actor
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A session just opened: the id for the cookie (never stored) and the session itself."""

    session_id: str
    signed_in: SignedIn


class WebSessions:
    """Opening, resolving and closing portal sessions; one transaction per method."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def open(self, token: str) -> OpenedSession | None:
        """A new session for the holder of ``token``; None if the token is unknown, revoked or
        expired (the caller must not say which)."""
        now = self._clock()
        with self._sessions.begin() as session:
            found = session.execute(
                select(TokenRow, UserRow)
                .join(UserRow, UserRow.id == TokenRow.user_id)
                .where(TokenRow.digest == token_digest(token), *_token_usable(now))
            ).one_or_none()
            if found is None:
                return None
            token_row, user = found
            session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
            expires_at = now + SESSION_LIFETIME
            if token_row.expires_at is not None:
                expires_at = min(expires_at, token_row.expires_at)
            session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
            csrf_token = secrets.token_urlsafe(SESSION_ID_BYTES)
            session.add(
                WebSessionRow(
                    digest=session_digest(session_id),
                    token_id=token_row.id,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            actor = Actor(user_id=user.id, name=user.name, role=Role(user.role))
            return OpenedSession(session_id, SignedIn(actor, csrf_token, expires_at))

    def resolve(self, session_id: str) -> SignedIn | None:
        """The live session with this id, or None (unknown, expired, signed out, token gone)."""
        if not session_id or len(session_id) > 100:
            return None
        now = self._clock()
        with self._sessions.begin() as session:
            found = session.execute(
                select(WebSessionRow, UserRow)
                .join(TokenRow, TokenRow.id == WebSessionRow.token_id)
                .join(UserRow, UserRow.id == TokenRow.user_id)
                .where(
                    WebSessionRow.digest == session_digest(session_id),
                    WebSessionRow.expires_at > now,
                    *_token_usable(now),
                )
            ).one_or_none()
            if found is None:
                return None
            row, user = found
            actor = Actor(user_id=user.id, name=user.name, role=Role(user.role))
            return SignedIn(actor, row.csrf_token, row.expires_at)

    def close(self, session_id: str) -> None:
        """Sign out: the session's row is deleted, so its cookie signs nobody in any more."""
        with self._sessions.begin() as session:
            session.execute(
                delete(WebSessionRow).where(WebSessionRow.digest == session_digest(session_id))
            )


def session_digest(session_id: str) -> str:
    """What is stored of a session id. A plain SHA-256 suffices: the id has 256 random bits."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def _token_usable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    # The same rule as Directory.actor_for_token: not revoked, not expired.
    return (
        TokenRow.revoked_at.is_(None),
        or_(TokenRow.expires_at.is_(None), TokenRow.expires_at > now),
    )
