"""The request body size limit: bodies over it are refused with 413 before any route sees them.

A pure ASGI middleware, so that it also guards the portal's forms and works the same under any
ASGI server. It refuses in two ways:

- a declared ``Content-Length`` over the limit: at once, without reading the body;
- a body sent without a length (chunked) or longer than it declared: as soon as the bytes read
  pass the limit, so the server never holds more than the limit of it in memory.

The body is read whole before the application runs and then handed to it in one message, so the
refusal always comes before any answer has started and no route ever sees part of a body.
"""

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nuri.api.detail_answer import send_detail

MIB = 1024 * 1024


class BodyLimitMiddleware:
    """Refuse requests whose body is longer than ``max_body_bytes`` with 413 and one ``detail``."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be at least 1, got {max_body_bytes}")
        self._app = app
        self._max = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        try:
            declared = _declared_length(scope)
        except ValueError:
            await send_detail(
                send, 400, "the Content-Length header must be a whole number of bytes", close=True
            )
            return
        if declared is not None and declared > self._max:
            await send_detail(send, 413, self._too_large(f"declares {declared} bytes"), close=True)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away; the app sees that
                await self._app(scope, _replaying(message, receive), send)
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self._max:
                await send_detail(
                    send, 413, self._too_large(f"is longer than {self._max} bytes"), close=True
                )
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self._app(scope, _replaying(whole, receive), send)

    def _too_large(self, what: str) -> str:
        return (
            f"the request body {what}; this server accepts at most {self._max} bytes"
            f" ({self._max / MIB:g} MiB): send less, e.g. split a long list over several requests"
        )


def _declared_length(scope: Scope) -> int | None:
    """The ``Content-Length`` in bytes, or None if the request has none.

    Raises:
        ValueError: the header is not a whole number.
    """
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            if not (text.isascii() and text.isdigit()):
                raise ValueError(f"Content-Length {text!r} is not a whole number")
            return int(text)
    return None


def _replaying(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that gives ``first`` once, then whatever the server sends next (the
    disconnect a streaming answer waits for)."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def install_body_limit(app: FastAPI, max_body_bytes: int) -> None:
    """Refuse bodies over ``max_body_bytes`` in ``app`` (see ``ServerSettings``)."""
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes)
