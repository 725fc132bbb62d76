"""Errors raised by domain rules.

Every error carries a message written for the person who must fix the input, because adapters
(HTTP, CLI) show it to them verbatim::

    DomainError
     +-- InvalidInput          a value is malformed or out of range
     +-- NotFound              a named thing does not exist (or is not visible to the caller)
     +-- Conflict              the request clashes with existing state (duplicate name, ...)
     +-- Forbidden             the caller's role does not allow the action
     +-- AdmissionRefused      a job cannot be accepted (award, pool, size, command)
     +-- InvalidTransition     a job state change the state machine does not allow
     +-- TooManyAttempts       too many failed sign-ins from one address; wait and retry
"""

from collections.abc import Mapping


class DomainError(Exception):
    """Base of every error whose message is meant for the end user.

    ``message`` is the English text the API and the CLI show. A ``key`` names the same message in
    the portal's catalogue (``refusal.<key>``, in every language it speaks), filled with
    ``params``: the refusals a researcher meets most have one, so that a Korean page says them
    in Korean. Without a key the portal shows ``message`` as it is.
    """

    def __init__(
        self, message: str, *, key: str | None = None, params: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.params: Mapping[str, object] = params or {}


class InvalidInput(DomainError):
    """A value is malformed or out of range."""


class NotFound(DomainError):
    """A named thing does not exist, or the caller may not see it."""


class Conflict(DomainError):
    """The request clashes with existing state, such as a duplicate name."""


class Forbidden(DomainError):
    """The caller's role does not allow the action."""


class AdmissionRefused(DomainError):
    """A job cannot be accepted; the message says which rule refused it and what to change."""


class InvalidTransition(DomainError):
    """A job state change that the state machine does not allow."""


class TooManyAttempts(DomainError):
    """Too many failed sign-ins from one client address; ``retry_after_s`` says how long to wait."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
