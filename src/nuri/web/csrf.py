"""Cross-site request forgery protection for the portal's forms.

Every form carries a hidden ``csrf_token`` field, and every POST is refused (403, with a page
that says what to do) unless the field matches:

- signed in, the session's own token (stored with the session, so any replica can check it);
- on the sign-in form, where there is no session yet, a random token the page also set as a
  short-lived cookie (the "double submit" pattern). Another site can make a browser send the
  cookie but cannot read it, so it cannot put the same value in the form. This stops a forged
  sign-in that would put a victim in the attacker's account.

The session cookie is also ``SameSite=Lax``, so browsers do not send it with cross-site POSTs at
all; the token is the defence that does not depend on the browser.
"""

import hmac
import secrets

CSRF_FIELD = "csrf_token"
"""The hidden form field every POST must carry."""
SIGN_IN_CSRF_COOKIE = "nuri_sign_in_csrf"
SIGN_IN_CSRF_MAX_AGE_S = 3600
"""The sign-in form is good for an hour; after that a reload gives a fresh one."""


class CsrfRefused(Exception):
    """A POST whose CSRF token is missing or wrong."""


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def check_csrf(submitted: str | None, expected: str | None) -> None:
    """Raise CsrfRefused unless ``submitted`` equals ``expected`` (compared in constant time)."""
    if not submitted or not expected or not hmac.compare_digest(submitted, expected):
        raise CsrfRefused()
