"""`guardpay bench api`: authenticated P2P payments per second over real HTTP.

Setup (not timed): a throwaway SQLite database, migrated; W payers, each verified (Class I
through the ID authority fake), given a payment password with the production argon2
settings, funded on the ledger and given a session (what a login issues); one payee.
Then `guardpay serve` runs as a separate process on a free 127.0.0.1 port, exactly as
deployed (the CLI's logging, the webhook delivery thread). A second process (spawned, so
the client's CPU is not the server's GIL) drives W workers, one payer each, posting
`POST /v1/transfers` with a fresh Idempotency-Key for a fixed time.

The baseline, in the same run, is `GET /healthz` over the same client code and server:
what HTTP, uvicorn and FastAPI cost with no database and no payment. Every payment
verifies the payment password (argon2id), so its cost is on the measured path.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import httpx

from guardpay.adapters.kyc import Kyc
from guardpay.domain.identity.checksums import gb11643_check_char
from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import Transfer
from guardpay.security.keys import MASTER_KEYS_ENV, Keyring
from guardpay.services import auth, identity, ledger, wallets
from guardpay.services.context import SYSTEM, Context
from guardpay.services.identity import Evidence
from guardpay.storage.db import Database
from guardpay.storage.migrate import upgrade
from guardpay.storage.scratch import throwaway_database
from guardpay.storage.uow import unit_of_work

HOST = "127.0.0.1"  # the load never leaves this machine
PIN = "730194"
AMOUNT = 1  # one fen: a payer stays inside the Class I allowance for 100,000 payments
FUNDS = 1_000_00
MAX_PER_WORKER = 200_000  # a bound on requests besides the time bound
READY_SECONDS = 30.0
REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class Load:
    """What the load process runs: the same for payments and for the baseline."""

    base_url: str
    tokens: tuple[str, ...]  # one per worker; empty for the baseline
    payee: str
    seconds: float
    workers: int


def _resident_id(i: int) -> str:
    body = f"310104{19700101 + (i % 28) + 100 * (i // 28 % 12) + 10_000 * (i // 336):08d}"
    body += f"{i % 1000:03d}"
    return body + gb11643_check_char(body)


def _payer(ctx: Context, kyc: Kyc, i: int) -> str:
    """A verified, funded payer with a payment password; its session token."""
    user = identity.register_user(ctx, f"138{i:08d}", "付款人")
    identity.verify_identity(ctx, kyc, user.id, name="付款人", document_type="resident_id",
                             document_number=_resident_id(i), evidence=Evidence())  # fmt: skip
    auth.set_payment_password(ctx, user.id, PIN)  # production argon2: as real users have
    reserve = wallets.open_platform_accounts(ctx, "CNY")[AccountCode.RESERVE]
    wallet = wallets.wallet(ctx, "user", user.id, "CNY")
    top_up = Transfer(9_000_000 + i, reserve, wallet, FUNDS, ledger=156, code=TransferCode.TOP_UP)
    assert [r.value for r in ledger.execute(ctx.uow, [top_up])] == ["ok"]
    return auth.issue_session(ctx, "user", user.id).token


def seed(db: Database, keyring: Keyring, payers: int) -> tuple[tuple[str, ...], str]:
    """The payers' session tokens and the payee's id, in one unit of work."""
    kyc = Kyc.fakes()
    with unit_of_work(db) as uow:
        ctx = Context(uow, keyring, SYSTEM)
        payee = identity.register_user(ctx, "13999999999", "收款人").id
        tokens = tuple(_payer(ctx, kyc, i) for i in range(payers))
    return tokens, payee


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_ready(base_url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the server did not answer /healthz in time")


@contextmanager
def serving(db_url: str, keyring: Keyring) -> Iterator[str]:
    """`guardpay serve` on a free local port, as its own process; yields the base URL."""
    port = _free_port()
    env = {**os.environ, MASTER_KEYS_ENV: keyring.to_config()}
    command = [sys.executable, "-m", "guardpay", "--database-url", db_url,
               "serve", "--host", HOST, "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        base_url = f"http://{HOST}:{port}"
        _wait_ready(base_url, server)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _worker(load: Load, token: str | None, out: list[float], errors: list[int]) -> None:
    """Requests back to back until the deadline (or the count bound); latencies in s."""
    body = {"payee": load.payee, "amount": AMOUNT, "payment_password": PIN}
    deadline = time.perf_counter() + load.seconds
    with httpx.Client(base_url=load.base_url, timeout=REQUEST_TIMEOUT) as client:
        for _ in range(MAX_PER_WORKER):
            started = time.perf_counter()
            if started >= deadline:
                return
            try:
                if token is None:
                    ok = client.get("/healthz").status_code == 200
                else:
                    headers = {"Authorization": f"Bearer {token}",
                               "Idempotency-Key": uuid.uuid4().hex}  # fmt: skip
                    ok = client.post("/v1/transfers", json=body, headers=headers).status_code == 201
            except httpx.HTTPError:
                ok = False
            out.append(time.perf_counter() - started)
            errors[0] += 0 if ok else 1


def drive(load: Load) -> dict[str, Any]:
    """Run in the load process: W threads, each its own client (and payer)."""
    latencies: list[list[float]] = [[] for _ in range(load.workers)]
    errors = [[0] for _ in range(load.workers)]
    tokens: list[str | None] = list(load.tokens) or [None] * load.workers
    threads = [
        threading.Thread(target=_worker, args=(load, tokens[i], latencies[i], errors[i]))
        for i in range(load.workers)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for w in latencies for x in w)
    return {"requests": len(flat), "errors": sum(e[0] for e in errors),
            "seconds": elapsed, "latencies": flat}  # fmt: skip


def _in_load_process(load: Load) -> dict[str, Any]:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(drive, load).result(timeout=load.seconds + 120)


def _percentile_ms(sorted_seconds: list[float], q: float) -> float:
    if not sorted_seconds:
        return 0.0
    index = min(len(sorted_seconds) - 1, int(q * len(sorted_seconds)))
    return round(sorted_seconds[index] * 1000, 2)


def run(seconds: float, workers: int) -> dict[str, Any]:
    """The benchmark end to end; the JSON the command prints."""
    keyring = Keyring.generate()
    with throwaway_database("sqlite") as db:
        upgrade(db)
        tokens, payee = seed(db, keyring, workers)
        with serving(db.url, keyring) as base_url:
            paid = _in_load_process(Load(base_url, tokens, payee, seconds, workers))
            base = _in_load_process(Load(base_url, (), payee, seconds, workers))
    succeeded = paid["requests"] - paid["errors"]
    return {
        "payments_per_second": round(succeeded / paid["seconds"], 1),
        "p50_ms": _percentile_ms(paid["latencies"], 0.50),
        "p99_ms": _percentile_ms(paid["latencies"], 0.99),
        "errors": paid["errors"],
        "payments": succeeded,
        "seconds": round(paid["seconds"], 2),
        "workers": workers,
        "database": "sqlite",
        "baseline": {
            "what": "GET /healthz over the same client and server",
            "requests_per_second": round(base["requests"] / base["seconds"], 1),
            "p50_ms": _percentile_ms(base["latencies"], 0.50),
            "p99_ms": _percentile_ms(base["latencies"], 0.99),
            "errors": base["errors"],
        },
    }
