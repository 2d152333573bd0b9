"""`guardpay bench api`: authenticated P2P payments per second over real HTTP.

Setup (not timed): a throwaway database, migrated (an SQLite file, or with
`--database-url postgresql://...` a schema of its own on that server, dropped after);
P payers, each verified (Class I through the ID authority fake), funded on the ledger,
with a trusted device key and a session bound to that device (what a login from the
phone issues); Q payees.
Then `guardpay serve` runs as a separate process on a free 127.0.0.1 port, exactly as
deployed (the CLI's logging, the webhook delivery thread, risk control on). A second
process (spawned, so the client's CPU is not the server's GIL) keeps C keep-alive
connections busy with `POST /v1/transfers` for a fixed time (bench/loadgen.py).

Each payment is authorised the way the wallet app pays day to day: the phone's
biometric prompt releases the device key, which signs the request (`Payment-Signature`,
api/deps.py) — a payment factor checked with one Ed25519 verification. The connections
take the payers in turn, so each payer pays now and then, as people do; a payment counts
only if it answered 201 with `status: succeeded` (a step-up or a review is an error
here). The report adds what risk control decided, read from the database afterwards.

Two baselines, in the same run, over the same client and server:
- `GET /healthz`: what HTTP and uvicorn cost with no body, no database and no payment;
- the floor: the same `POST /v1/transfers`, with the same body, through the same
  middleware, dependencies and worker-thread hop, but without credentials, so it is
  refused (401 `authentication_required`) before any database work. It is what FastAPI
  and this app's stack cost a payment before the payment's own work begins: the payments
  figure can never be above it, and the ratio says how much of a payment is the payment.
Each also
reports the server's CPU milliseconds per request (its process tree, from /proc: the load
generator not counted), which, unlike requests per second, does not swing with how busy
this shared machine is. A one-second
warm-up of payments comes first and is not counted (FastAPI builds a router's route
table on its first request, a stall of about half a second).
`budget_at_target` (bench/budget.py) sets what the server spent per payment against
what the target leaves it on this machine, after the load generator's own CPU.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from multiprocessing import get_context
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from guardpay.adapters.kyc import Kyc
from guardpay.api.metrics import METRICS_TOKEN_ENV
from guardpay.bench import budget, loadgen
from guardpay.bench.cpu import process_tree_seconds
from guardpay.bench.prefill import prefill as prefill_books
from guardpay.clock import utc_now
from guardpay.domain.identity.checksums import gb11643_check_char
from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import Transfer
from guardpay.security import devices
from guardpay.security.keys import MASTER_KEYS_ENV, Keyring
from guardpay.services.auth import facade as auth
from guardpay.services.auth.devices import trust_device
from guardpay.services.identity import facade as identity
from guardpay.services.identity.facade import Evidence
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import wallets
from guardpay.services.payments import core as payments
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.services.risk import decisions as risk_decisions
from guardpay.services.risk.engine import REDIS_ENV, REDIS_PREFIX_ENV
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import upgrade
from guardpay.storage.engine.scratch import throwaway_database, url_for_a_process
from guardpay.storage.uow import read_only, unit_of_work

HOST = "127.0.0.1"  # the load never leaves this machine
PATH = "/v1/transfers"
AMOUNT = 1  # one fen: a payer stays far inside the Class I allowance
FUNDS = 1_000_00
READY_SECONDS = 30.0
WARM_UP_SECONDS = 1.0
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
FLOOR_WHAT = f"POST {PATH} without credentials (401 before any database work)"


@dataclass(frozen=True)
class Payer:
    """What the phone holds: the session token and the device's private key (raw)."""

    token: str
    key: bytes
    user_id: str


@dataclass(frozen=True)
class Load:
    """What the load process runs: payments (payers given) or the baseline (none)."""

    host: str
    port: int
    payers: tuple[Payer, ...]
    payees: tuple[str, ...]
    seconds: float
    connections: int
    baseline: str | None = None  # a key of _BASELINES instead of payments
    server_pid: int | None = None  # to read the server's CPU meanwhile


def _resident_id(i: int) -> str:
    body = f"310104{19700101 + (i % 28) + 100 * (i // 28 % 12) + 10_000 * (i // 336):08d}"
    body += f"{i % 1000:03d}"
    return body + gb11643_check_char(body)


def _payer(ctx: Context, kyc: Kyc, i: int) -> Payer:
    """A verified, funded payer with a trusted device; its session and device key."""
    user = identity.register_user(ctx, f"138{i:08d}", "付款人")
    identity.verify_identity(
        ctx,
        kyc,
        user.id,
        name="付款人",
        document_type="resident_id",
        document_number=_resident_id(i),
        evidence=Evidence(),
    )
    key = Ed25519PrivateKey.generate()
    public = devices.b64url(key.public_key().public_bytes_raw())
    device = trust_device(ctx, auth.register_device(ctx, user.id, public, "bench"), "sms")
    reserve = wallets.open_platform_accounts(ctx, "CNY")[AccountCode.RESERVE]
    wallet = wallets.wallet(ctx, "user", user.id, "CNY")
    top_up = Transfer(9_000_000 + i, reserve, wallet, FUNDS, ledger=156, code=TransferCode.TOP_UP)
    assert [r.value for r in ledger.execute(ctx.uow, [top_up])] == ["ok"]
    token = auth.issue_session(ctx, "user", user.id, device_id=device.id).token
    return Payer(token, key.private_bytes_raw(), user.id)


def seed(
    db: Database, keyring: Keyring, payers: int, payees: int
) -> tuple[tuple[Payer, ...], tuple[str, ...]]:
    """The payers and the payees' ids, in one unit of work."""
    kyc = Kyc.fakes()
    with unit_of_work(db) as uow:
        ctx = Context(uow, keyring, SYSTEM)
        receivers = tuple(
            identity.register_user(ctx, f"139{i:08d}", "收款人").id for i in range(payees)
        )
        senders = tuple(_payer(ctx, kyc, i) for i in range(payers))
    return senders, receivers


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
def serving(
    db_url: str, keyring: Keyring, workers: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[int, int]]:
    """`guardpay serve` on a free local port, as its own process(es); yields the port and
    the server's pid (its workers are its children)."""
    port = _free_port()
    env = {**os.environ, MASTER_KEYS_ENV: keyring.to_config(), **(extra_env or {})}
    command = [
        sys.executable,
        "-m",
        "guardpay",
        "--database-url",
        db_url,
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    server = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its workers in its own process group
    )
    try:
        _wait_ready(f"http://{HOST}:{port}", server)
        yield port, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        # A worker that outlived a parent killed mid-shutdown would go on writing (risk
        # state into Redis, after the run cleared its keys): none may outlive the run.
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)


class _Payments:
    """One connection's request maker: the payers it serves in turn, each paying its own
    friend (payer i pays payee i mod Q: a payee hears from a few people, as friends do,
    not from hundreds of strangers, which is a money mule's sign), each request signed by
    the payer's device key with a fresh Idempotency-Key."""

    def __init__(self, payers: list[tuple[int, Payer]], payees: tuple[str, ...]) -> None:
        self.payers = [
            (p.token, Ed25519PrivateKey.from_private_bytes(p.key), payees[i % len(payees)])
            for i, p in payers
        ]
        self.turn = 0

    def __call__(self) -> bytes:
        self.turn += 1
        token, key, payee = self.payers[self.turn % len(self.payers)]
        body = json.dumps({"payee": payee, "amount": AMOUNT}).encode()
        idem, signed_at = uuid.uuid4().hex, int(time.time())
        signature = key.sign(devices.payment_message(signed_at, idem, "POST", PATH, body))
        headers = {
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": idem,
            "Payment-Signature": f"t={signed_at}, sig={devices.b64url(signature)}",
        }
        return loadgen.request_bytes("POST", PATH, headers, body)


def _paid(status: int, body: bytes) -> bool:
    return status == 201 and b'"status":"succeeded"' in body


def _healthy(status: int, body: bytes) -> bool:
    return status == 200


def _refused_unsigned(status: int, body: bytes) -> bool:
    return status == 401 and b"authentication_required" in body


def _healthz() -> tuple[bytes, loadgen.Accept]:
    return loadgen.request_bytes("GET", "/healthz", {}), _healthy


def _floor() -> tuple[bytes, loadgen.Accept]:
    body = json.dumps({"payee": "u_floor", "amount": AMOUNT}).encode()
    return loadgen.request_bytes("POST", PATH, {}, body), _refused_unsigned


#: The baselines: one request sent again and again, and the answer it must get.
_BASELINES = {"healthz": _healthz, "floor": _floor}


def drive(load: Load) -> dict[str, Any]:
    """Run in the load process: C connections, payments or the baseline."""
    n = load.connections
    if load.payers:
        numbered = list(enumerate(load.payers))
        makers: list[loadgen.RequestMaker] = [
            _Payments(numbered[i::n] or numbered, load.payees) for i in range(n)
        ]
        accept: loadgen.Accept = _paid
    else:
        request, accept = _BASELINES[load.baseline or "healthz"]()
        makers = [lambda: request] * n
    before, client_before = _server_cpu(load), time.process_time()
    tallies, elapsed = loadgen.drive(load.host, load.port, makers, accept, load.seconds)
    after, client = _server_cpu(load), time.process_time() - client_before
    flat = sorted(x for t in tallies for x in t.latencies)
    first_error = next((t.first_error for t in tallies if t.first_error), None)
    cpu = None if before is None or after is None else after - before
    return {
        "requests": len(flat),
        "errors": sum(t.errors for t in tallies),
        "seconds": elapsed,
        "latencies": flat,
        "first_error": first_error,
        "server_cpu": cpu,
        "client_cpu": client,
    }


def _server_cpu(load: Load) -> float | None:
    """The server's CPU seconds so far (bench/cpu.py), read right at the load's edges."""
    return None if load.server_pid is None else process_tree_seconds(load.server_pid)


def _in_load_process(load: Load) -> dict[str, Any]:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(drive, load).result(timeout=load.seconds + 120)


def _outcomes(db: Database) -> dict[str, dict[str, int]]:
    """What the run left: payments by status and risk decisions by action."""
    with read_only(db) as uow:
        return {
            "payment_statuses": payments.status_counts(uow),
            "risk_decisions": risk_decisions.action_counts(uow),
        }


def _percentile_ms(sorted_seconds: list[float], q: float) -> float:
    if not sorted_seconds:
        return 0.0
    index = min(len(sorted_seconds) - 1, int(q * len(sorted_seconds)))
    return round(sorted_seconds[index] * 1000, 2)


@dataclass(frozen=True)
class Where:
    """What the server runs on: a PostgreSQL server (None: an SQLite file) and whether
    its risk features live in Redis (always with several server workers, which must
    share them), under a prefix of this run's own, removed after."""

    postgres_url: str | None = None
    redis_url: str = DEFAULT_REDIS
    redis_risk: bool = False


def run(
    seconds: float,
    connections: int,
    payers: int = 5_000,
    payees: int = 1_250,
    server_workers: int = 1,
    where: Where = Where(),  # frozen: one shared default is safe
    prefill: int = 0,
) -> dict[str, Any]:
    """The benchmark end to end; the JSON the command prints. `prefill`: payments the
    database holds before the server starts (bench/prefill.py)."""
    keyring = Keyring.generate()
    shared = where.redis_risk or server_workers > 1
    backend = "sqlite" if where.postgres_url is None else "postgresql"
    with (
        throwaway_database(backend, where.postgres_url or "") as db,
        _shared_state(shared, where.redis_url) as env,
    ):
        upgrade(db)
        senders, receivers = seed(db, keyring, payers, payees)
        filled = prefilled(db, keyring, senders, receivers, prefill)
        scrape = uuid.uuid4().hex
        served = url_for_a_process(db)
        with serving(served, keyring, server_workers, {**env, METRICS_TOKEN_ENV: scrape}) as (
            port,
            pid,
        ):
            # Unmeasured warm-up: FastAPI builds each router's route table on first use.
            _in_load_process(Load(HOST, port, senders, receivers, WARM_UP_SECONDS, connections))
            before = _batches(port, scrape)
            load = Load(HOST, port, senders, receivers, seconds, connections, server_pid=pid)
            paid = _in_load_process(load)
            paid["batches"] = _batches_since(before, _batches(port, scrape))
            base = _in_load_process(replace(load, payers=(), baseline="healthz"))
            floor = _in_load_process(replace(load, payers=(), baseline="floor"))
        outcomes = _outcomes(db)
    risk_state = "redis" if env else "in process"
    return (
        _report(paid, base, floor, connections, payers)
        | outcomes
        | {"database": db.backend, "server_workers": server_workers, "risk_state": risk_state}
        | {"prefill": filled}
    )


def prefilled(
    db: Database,
    keyring: Keyring,
    senders: tuple[Payer, ...],
    receivers: tuple[str, ...],
    count: int,
) -> dict[str, Any]:
    """The prefill's report, and what the database then holds (count 0: nothing done)."""
    if not count:
        return {"payments": 0}
    done = prefill_books(
        db, keyring, [p.user_id for p in senders], receivers, count, now=utc_now()
    ).as_dict()
    with read_only(db) as uow:
        done["ledger_transfers"] = uow.ledger_queries.counts()[1]
        done["ledger_parts"] = len(uow.ledger.parts.all())
    return done


@contextmanager
def _shared_state(shared: bool, redis_url: str) -> Iterator[dict[str, str]]:
    if not shared:
        yield {}
        return
    import redis

    from guardpay.adapters.risk_state_redis import RedisFeatureState

    prefix = f"guardpay-bench:{uuid.uuid4().hex}"
    try:
        yield {REDIS_ENV: redis_url, REDIS_PREFIX_ENV: prefix}
    finally:
        RedisFeatureState(redis.Redis.from_url(redis_url), prefix=prefix).clear()


_BATCH_METRICS = {
    "guardpay_payment_batches_total": "batches",
    "guardpay_payment_batched_requests_total": "requests",
    "guardpay_payment_batch_largest": "largest",
}


def _batches(port: int, token: str) -> dict[str, float]:
    """The server's micro-batch counters (api/metrics.py), read from /metrics (one
    worker's: with several, whichever answers)."""
    r = httpx.get(
        f"http://{HOST}:{port}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    found: dict[str, float] = {}
    for line in r.text.splitlines():
        name, _, value = line.partition(" ")
        if name in _BATCH_METRICS:
            found[_BATCH_METRICS[name]] = float(value)
    return found


def _batches_since(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """The batches of the measured run: how many, their mean size, the largest so far."""
    batches = after.get("batches", 0) - before.get("batches", 0)
    requests = after.get("requests", 0) - before.get("requests", 0)
    mean = round(requests / batches, 1) if batches else None
    return {"batches": int(batches), "mean_size": mean, "largest": after.get("largest")}


def _rate(load: dict[str, Any]) -> float:
    return round(float(load["requests"]) / float(load["seconds"]), 1)


def _cpu_ms_each(load: dict[str, Any], count: int, side: str = "server") -> float | None:
    """The server's (or the load generator's: `side="client"`) CPU milliseconds per
    request, None where it cannot be read."""
    cpu = load[f"{side}_cpu"]
    return None if cpu is None or count == 0 else round(cpu * 1000 / count, 2)


def _baseline(what: str, load: dict[str, Any]) -> dict[str, Any]:
    return {
        "what": what,
        "requests_per_second": _rate(load),
        "p50_ms": _percentile_ms(load["latencies"], 0.50),
        "p99_ms": _percentile_ms(load["latencies"], 0.99),
        "errors": load["errors"],
        "server_cpu_ms_per_request": _cpu_ms_each(load, load["requests"]),
    }


def _report(
    paid: dict[str, Any], base: dict[str, Any], floor: dict[str, Any], connections: int, payers: int
) -> dict[str, Any]:
    succeeded = paid["requests"] - paid["errors"]
    per_second = round(succeeded / paid["seconds"], 1)
    cpu_each, p99 = _cpu_ms_each(paid, paid["requests"]), _percentile_ms(paid["latencies"], 0.99)
    floor_each = _cpu_ms_each(floor, floor["requests"])
    return {
        "payments_per_second": per_second,
        "p50_ms": _percentile_ms(paid["latencies"], 0.50),
        "p99_ms": p99,
        "errors": paid["errors"],
        "target_met": budget.target_met(per_second, p99, paid["errors"]),
        "first_error": paid["first_error"],
        "payments": succeeded,
        "seconds": round(paid["seconds"], 2),
        "workers": connections,
        "payers": payers,
        "payment_batches": paid.get("batches"),
        "authorisation": "device signature (Payment-Signature, Ed25519)",
        "baseline": _baseline("GET /healthz over the same client and server", base),
        "floor": _baseline(FLOOR_WHAT, floor),
        "payments_per_floor_request": round(per_second / max(_rate(floor), 0.1), 3),
        "server_cpu_ms_per_payment": cpu_each,
        "server_cpu_payment_per_floor_request": _ratio(cpu_each, floor_each),
        "budget_at_target": budget.budget(
            cpus=budget.cpus(),
            client_ms=_cpu_ms_each(paid, paid["requests"], side="client"),
            server_ms=cpu_each,
            floor_ms=floor_each,
        ),
    }


def _ratio(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else round(part / whole, 2)
