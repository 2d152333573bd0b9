"""The gate: on SQLite at most `writers` API requests run at once (a signed-in GET opens
a write unit of work too), paths outside /v1 pass straight through, PostgreSQL is not
gated, and a request whose body never came whole takes no slot and reaches no one."""

from __future__ import annotations

import asyncio

import pytest

from guardpay.api import asgi
from guardpay.api.gate import WriteGate


class _Slow:
    """An app that records how many requests it is running at once."""

    def __init__(self) -> None:
        self.now = self.most = 0

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        self.now += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(0.01)
        self.now -= 1


async def _many(gate: WriteGate, method: str, n: int, path: str = "/v1/x") -> None:
    async def send(message: asgi.Message) -> None:
        pass

    async def receive() -> asgi.Message:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": method, "path": path}
    await asyncio.gather(*(gate(dict(scope), receive, send) for _ in range(n)))


@pytest.mark.parametrize(
    ("backend", "method", "path", "most"),
    [
        ("sqlite", "POST", "/v1/x", 2),
        ("sqlite", "DELETE", "/v1/x", 2),
        ("sqlite", "GET", "/v1/x", 2),
        ("sqlite", "GET", "/healthz", 10),
        ("postgresql", "POST", "/v1/x", 10),
    ],
)
def test_api_requests_are_admitted_a_few_at_a_time(
    backend: str, method: str, path: str, most: int
) -> None:
    app = _Slow()
    gate = WriteGate(app, backend, writers=2)
    asyncio.run(_many(gate, method, 10, path))
    assert app.most == most
    asyncio.run(_many(gate, method, 10, path))  # a second loop gets slots of its own
    assert app.most == most


def test_a_request_cut_off_mid_body_reaches_no_one() -> None:
    app = _Slow()
    gate = WriteGate(app, "sqlite", writers=1)
    parts = [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]

    async def receive() -> asgi.Message:
        return parts.pop(0)

    async def send(message: asgi.Message) -> None:
        raise AssertionError("nothing is sent to a client that left")

    asyncio.run(gate({"type": "http", "method": "POST", "path": "/v1/x"}, receive, send))
    assert app.most == 0
