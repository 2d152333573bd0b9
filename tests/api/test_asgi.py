"""The plain ASGI middleware pieces: a buffered body is replayed exactly once, a status is
seen (or 500 when the app raised), the request log marks /v1 answers no-store, and a
replayed idempotent answer is byte-for-byte the first one with a correct length."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from guardpay.api import asgi
from guardpay.api.app import RequestLog
from guardpay.api.idempotency import Idempotency, IdempotencySettings
from tests.api.api_fixtures import Api
from tests.api.api_fixtures import api_fixture as api_fixture


def _receiver(messages: list[asgi.Message]) -> asgi.Receive:
    queue = list(messages)

    async def receive() -> asgi.Message:
        return queue.pop(0)

    return receive


def test_a_buffered_body_is_whole_and_handed_on_once() -> None:
    parts = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
        {"type": "http.disconnect"},
    ]

    async def run() -> tuple[bytes, asgi.Message, asgi.Message]:
        body, replay, complete = await asgi.buffer_body(_receiver(parts))
        assert complete
        return body, await replay(), await replay()

    body, first, then = asyncio.run(run())
    assert body == b"abcd"
    assert (first["body"], first["more_body"]) == (b"abcd", False)
    assert then == {"type": "http.disconnect"}  # afterwards, the real channel


def test_a_body_cut_off_by_a_disconnect_is_not_whole() -> None:
    parts = [
        {"type": "http.request", "body": b'{"amount": 1', "more_body": True},
        {"type": "http.disconnect"},
    ]
    body, _replay, complete = asyncio.run(asgi.buffer_body(_receiver(parts)))
    assert (body, complete) == (b'{"amount": 1', False)


def test_an_idempotent_request_cut_off_mid_body_claims_nothing() -> None:
    """The client left mid-body: no claim (its retry with the whole body must run), and
    the endpoint never sees a part of a body as if it were all of it."""
    reached: list[bool] = []

    async def endpoint(scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        reached.append(True)

    app = SimpleNamespace(state=SimpleNamespace(db=None, clock=None))  # a claim would fail
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/transfers",
        "app": app,
        "headers": [(b"idempotency-key", b"k-cut")],
    }
    parts = [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]
    sent: list[asgi.Message] = []

    async def send(message: asgi.Message) -> None:
        sent.append(message)

    middleware = Idempotency(endpoint, IdempotencySettings())
    asyncio.run(middleware(scope, _receiver(parts), send))
    assert (reached, sent) == ([], [])


async def _collect(app: asgi.ASGIApp, path: str) -> list[asgi.Message]:
    sent: list[asgi.Message] = []

    async def send(message: asgi.Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": []}
    await app(scope, _receiver([{"type": "http.request", "body": b""}]), send)
    return sent


async def _ok(scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
    await asgi.send_whole(send, 200, [(b"content-length", b"999")], b"{}")


@pytest.mark.parametrize(("path", "marked"), [("/v1/me", True), ("/healthz", False)])
def test_the_request_log_marks_only_api_answers_no_store(path: str, marked: bool) -> None:
    start, body = asyncio.run(_collect(RequestLog(_ok), path))
    headers = dict(start["headers"])
    assert (headers.get(b"cache-control") == b"no-store") is marked
    assert headers[b"content-length"] == b"2"  # send_whole replaced the wrong length
    assert body["body"] == b"{}"


def test_a_status_watch_says_500_when_the_app_raised() -> None:
    async def failing(scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        raise RuntimeError("boom")

    async def run() -> int:
        async def send(message: asgi.Message) -> None:
            pass

        watch = asgi.StatusWatch(send)
        with pytest.raises(RuntimeError):
            await failing({}, _receiver([]), watch)
        return watch.status

    assert asyncio.run(run()) == 500


def test_a_replayed_answer_is_the_first_one(api: Api) -> None:
    body = {"phone": "13900001111", "password": "Jade7-Heron-cove"}
    headers = {"Idempotency-Key": "k-asgi-1"}
    first = api.client.post("/v1/users", json=body, headers=headers)
    again = api.client.post("/v1/users", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["content-length"] == str(len(first.content))
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["cache-control"] == "no-store"
