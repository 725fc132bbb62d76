"""The ``Idempotency-Key`` header on every request that changes something under ``/api/``.

A POST, PUT, PATCH or DELETE that carries the header and a valid bearer token is carried out at
most once for that caller and key (the rules are in :mod:`nuri.service.idempotency`):

- the first time, it runs as usual, and its answer is stored;
- a retry with the same request gets the stored answer again, with ``Idempotent-Replayed: true``;
- the same key with another method, path or body gets 422, and nothing is done;
- an answer marked ``Cache-Control: no-store`` (one that shows a new token) is never stored, so
  a retry of its request is refused (409) instead of showing the secret again.

Requests without the header, or whose token does not resolve (the route then answers 401, or 429
for an address with too many failed sign-ins), pass through untouched. The sign-in attempt made
here counts against the address's limit as the route's own would, and the route takes its outcome
from the request's state rather than making (and counting) a second one. The body is read whole
before the route sees it, to fingerprint it; the body size limit outside this middleware bounds it.
"""

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nuri.api.detail_answer import send_detail
from nuri.api.sign_ins import SignInAsked, SignInBatches
from nuri.domain.errors import DomainError, TooManyAttempts
from nuri.service.idempotency import (
    IdempotencyKeyReused,
    IdempotentRequests,
    KeyedRequest,
    StoredAnswer,
    check_key,
    fingerprint,
)

KEY_HEADER = b"idempotency-key"
REPLAYED_HEADER = b"idempotent-replayed"
CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RESOLVED_ACTOR = "nuri_resolved_actor"
"""Request state: the (token, Actor) this middleware resolved, so a request asks only once."""


class IdempotencyMiddleware:
    """Pure ASGI, so streamed answers (logs) pass through unbuffered when no key is given."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        requests: IdempotentRequests,
        sign_ins: SignInBatches,
    ) -> None:
        self._app = app
        self._requests = requests
        self._sign_ins = sign_ins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in CHANGING_METHODS
            or not str(scope["path"]).startswith("/api/")
        ):
            await self._app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(KEY_HEADER)
        token = _bearer_token(headers.get(b"authorization"))
        if raw_key is None or token is None:
            await self._app(scope, receive, send)
            return
        try:
            key = check_key(raw_key.decode("latin-1"))
        except DomainError as error:
            await send_detail(send, 400, error.message)
            return
        address = scope["client"][0] if scope.get("client") else "unknown"
        body = await _read_body(receive)
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        try:
            answer = await self._sign_ins.submit(
                SignInAsked(
                    address=address,
                    token=token,
                    key=key,
                    request_line=f"{scope['method']} {scope['path']}",
                    fingerprint=fingerprint(scope["method"], scope["path"], query, body),
                )
            )
        except TooManyAttempts:
            # The route refuses it again, with its 429 and Retry-After.
            await self._app(scope, _replaying(body), send)
            return
        except IdempotencyKeyReused as error:
            await send_detail(send, 422, error.message)
            return
        # The route's own authentication takes the outcome from here: one attempt counted.
        scope.setdefault("state", {})[RESOLVED_ACTOR] = (token, answer.actor)
        if answer.request is None:
            await self._app(scope, _replaying(body), send)
        elif answer.stored is not None:
            await _replay(send, answer.stored)
        else:
            await self._carry_out(scope, body, send, answer.request)

    async def _carry_out(
        self, scope: Scope, body: bytes, send: Send, request: KeyedRequest
    ) -> None:
        status = 500
        content_type = "application/json"
        secret = False
        chunks: list[bytes] = []

        async def send_and_keep(message: Message) -> None:
            nonlocal status, content_type, secret
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", ()):
                    if name.lower() == b"content-type":
                        content_type = bytes(value).decode("latin-1")
                    elif name.lower() == b"cache-control" and b"no-store" in bytes(value):
                        secret = True
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))
            await send(message)

        with self._requests.carrying_out(request) as claim:
            await self._app(scope, _replaying(body), send_and_keep)
        if status < 500 and not secret and self._requests.needs_storing(claim):
            await anyio.to_thread.run_sync(
                self._requests.store_answer, claim, status, content_type, b"".join(chunks)
            )


def _bearer_token(value: bytes | None) -> str | None:
    if value is None:
        return None
    scheme, _, token = value.decode("latin-1").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(bytes(message.get("body", b"")))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes) -> Receive:
    """A receive channel that hands the route the body already read here."""

    async def receive_body() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_body


async def _replay(send: Send, stored: StoredAnswer) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": stored.status_code,
            "headers": [
                (b"content-type", stored.content_type.encode("latin-1")),
                (b"content-length", str(len(stored.body)).encode()),
                (REPLAYED_HEADER, b"true"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": stored.body})
