"""The write gate: on SQLite at most `writers` writing requests run at once, reads pass
straight through, and PostgreSQL is not gated."""

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


async def _many(gate: WriteGate, method: str, n: int) -> None:
    async def send(message: asgi.Message) -> None:
        pass

    async def receive() -> asgi.Message:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": method, "path": "/v1/x"}
    await asyncio.gather(*(gate(dict(scope), receive, send) for _ in range(n)))


@pytest.mark.parametrize(
    ("backend", "method", "most"),
    [
        ("sqlite", "POST", 2),
        ("sqlite", "DELETE", 2),
        ("sqlite", "GET", 10),
        ("postgresql", "POST", 10),
    ],
)
def test_writers_are_admitted_a_few_at_a_time(backend: str, method: str, most: int) -> None:
    app = _Slow()
    gate = WriteGate(app, backend, writers=2)
    asyncio.run(_many(gate, method, 10))
    assert app.most == most
    asyncio.run(_many(gate, method, 10))  # a second loop gets slots of its own
    assert app.most == most
