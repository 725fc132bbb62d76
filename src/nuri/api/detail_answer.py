"""An error answer sent by ASGI middleware, before any route (and its error handlers) runs.

Middleware that refuses a request itself (too large a body, a malformed or reused idempotency key)
answers the way the API's error handlers do: ``{"detail": "..."}`` as JSON.
"""

import json

from starlette.types import Send


async def send_detail(send: Send, status: int, detail: str, *, close: bool = False) -> None:
    """Send ``status`` with ``{"detail": detail}``; ``close`` ends the connection after it (for
    a request whose unread body would otherwise be taken for the next request)."""
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
