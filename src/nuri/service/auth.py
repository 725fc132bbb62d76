"""API tokens and the caller they identify.

A token is 32 random bytes, URL-safe, prefixed ``nuri_``. Only its SHA-256 digest is stored: the
token has enough entropy that a slow password hash would add nothing but latency.
"""

import hashlib
import secrets
from dataclasses import dataclass

from nuri.domain.commons import Role

TOKEN_PREFIX = "nuri_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling: resolved from a bearer token on every request."""

    user_id: int
    name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
