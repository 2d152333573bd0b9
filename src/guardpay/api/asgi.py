"""Plain ASGI plumbing shared by the app's middleware (request log, metrics, idempotency).

Starlette's `BaseHTTPMiddleware` runs every request through a task group, a memory
stream and a streaming response; with three of them stacked, a `GET /healthz` spent
two thirds of its time in that machinery (profiled: 600 requests/s on this machine).
These middlewares see the same messages directly: `status_of` watches the response
start go by, `buffer_body` reads a request body once and replays it downstream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def header(scope: Scope, name: bytes) -> str | None:
    """A request header (`name` lower-case), decoded as latin-1 the way HTTP sends it."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class StatusWatch:
    """Wraps `send` and remembers the response status (500 until one is sent: an
    exception escaping the app becomes a 500 further out)."""

    __slots__ = ("send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        await self.send(message)


async def buffer_body(receive: Receive) -> tuple[bytes, Receive, bool]:
    """The whole request body, a `receive` that hands it downstream once and then
    behaves as the original (so a disconnect still arrives), and whether the body came
    whole: False when the client went away first (the caller must not act on a part)."""
    chunks: list[bytes] = []
    complete = False
    while True:
        message = await receive()
        if message["type"] != "http.request":  # a disconnect before the body ended
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            complete = True
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay, complete


async def send_whole(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    """A complete response: start (with a correct Content-Length) and one body message."""
    kept = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    kept.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": kept})
    await send({"type": "http.response.body", "body": body, "more_body": False})
