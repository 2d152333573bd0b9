"""A lean HTTP/1.1 load generator for the API benchmark: one event loop, keep-alive
connections, requests written as bytes and answers parsed just far enough to know the
status and where the body ends.

The first benchmark drove the server with httpx from threads; on this 2-core machine
that client spent more CPU per request than the server's `/healthz`, so it measured
itself. This one costs a few microseconds a request, so the figures are the server's.
It speaks only what the benchmark needs: `Content-Length` bodies (uvicorn answers JSON
that way), no chunked encoding, no TLS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Makes one request's bytes; called once per request (a fresh Idempotency-Key, say).
RequestMaker = Callable[[], bytes]
#: Whether an answer (status, body) is the one wanted; anything else counts as an error.
Accept = Callable[[int, bytes], bool]


def request_bytes(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Tally:
    """One connection's record: latencies in seconds, and the statuses not expected."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _connection(
    host: str, port: int, make: RequestMaker, accept: Accept, deadline: float, tally: Tally
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (started := time.perf_counter()) < deadline:
            writer.write(make())
            try:
                status, body = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                tally.errors += 1
                tally.first_error = tally.first_error or f"connection: {exc!r}"
                return
            tally.latencies.append(time.perf_counter() - started)
            if not accept(status, body):
                tally.errors += 1
                tally.first_error = tally.first_error or f"{status}: {body[:300]!r}"
    finally:
        writer.close()


async def _drive(
    host: str, port: int, makers: list[RequestMaker], accept: Accept, seconds: float
) -> tuple[list[Tally], float]:
    tallies = [Tally() for _ in makers]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _connection(host, port, make, accept, deadline, tally)
            for make, tally in zip(makers, tallies, strict=True)
        )
    )
    return tallies, time.perf_counter() - started


def drive(
    host: str, port: int, makers: list[RequestMaker], accept: Accept, seconds: float
) -> tuple[list[Tally], float]:
    """One connection per maker, each sending back to back until `seconds` pass."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is pinned; plain asyncio also works
        return asyncio.run(_drive(host, port, makers, accept, seconds))
    return uvloop.run(_drive(host, port, makers, accept, seconds))
