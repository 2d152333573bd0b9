"""At most a few API requests run at once on the embedded database.

A request's unit of work runs start to finish in one worker thread (api/deps.py
`Deferred`), so no request waits for a thread that its own lock holder needs. On SQLite
every such unit holds this process's write lock (storage/engine/db.py) — a signed-in GET too,
since its session is checked in a write unit of work — so admitting more of them than
can write at once only parks threads on the lock, threads the requests that need no lock
(`/healthz`, the payment password's argon2 check) would rather have. Writes serialise on
SQLite anyway, so admitting a few at a time loses nothing. The body is read before a
slot is taken, so a client trickling its upload holds no slot. Paths outside /v1
(`/healthz`, `/metrics`, the docs) never wait; PostgreSQL, with row locks and many
writers, is not gated. Nor are the payments run in micro-batches (api/batching.py
`BATCHED`): they wait in the batcher's queue holding no thread, and the more of them
wait, the larger and cheaper the next batch.
"""

from __future__ import annotations

import asyncio

from guardpay.api import asgi
from guardpay.api.batching import BATCHED

#: API requests admitted at once: enough to overlap one request's HTTP and JSON work
#: with another's transaction, far below the thread pool's 40 threads
WRITERS = 8
GATED = "/v1/"


class WriteGate:
    def __init__(self, app: asgi.ASGIApp, backend: str, writers: int = WRITERS) -> None:
        self.app = app
        self.gated = backend == "sqlite"
        self.writers = writers
        self._slots = asyncio.Semaphore(writers)
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the slots belong to

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if not self._gates(scope):
            await self.app(scope, receive, send)
            return
        _body, replay, complete = await asgi.buffer_body(receive)
        if not complete:  # the client left before its request was whole
            return
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new server loop (a test client's, say): new slots
            self._slots, self._loop = asyncio.Semaphore(self.writers), loop
        async with self._slots:
            await self.app(scope, replay, send)

    def _gates(self, scope: asgi.Scope) -> bool:
        if not self.gated or scope["type"] != "http":
            return False
        path = scope["path"]
        return path.startswith(GATED) and (scope["method"], path) not in BATCHED
