"""Webhooks end to end, with real processes and real HTTP: a merchant's receiver verifies
every delivery's signature and sequence number while `guardpay serve` is SIGKILLed and
restarted on the same SQLite file.

The receiver is what an independent merchant would write: it checks the HMAC-SHA256 over
`{timestamp}.{body}` with its own code (not the platform's), refuses stale timestamps,
accepts sequence N+1 only after N, answers a redelivery (same sequence, same event id,
same body) with 2xx without treating it as new, and records anything else as a problem.

The crash: the receiver processes an event but its acknowledgement is lost (it answers
500, as if the connection dropped after processing). While that event, and the ones
queued behind it, are still undelivered, the server is killed with SIGKILL; more events
are committed while it is down; a new server on the same database must redeliver the
processed event (the receiver recognises it) and deliver the rest, in order, once each.

The kill lands between delivery attempts, not inside a POST: an event leased by a dead
process waits `RetryPolicy.lease_seconds` (60 s, not settable for `guardpay serve`)
before another process may send it, which would not fit this test's time budget.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from guardpay.api.deps import request_unit
from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import Transfer
from guardpay.domain.money import Money
from guardpay.security.keys import MASTER_KEYS_ENV, Keyring
from guardpay.services.auth import facade as auth
from guardpay.services.identity import facade as identity
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import wallets
from guardpay.services.payments import qr as payments_qr
from guardpay.services.payments.pipeline import Authorization
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.services.webhooks import events as webhooks
from guardpay.services.webhooks.targets import ALLOW_PRIVATE_ENV, WebhookSettings
from guardpay.storage.engine.db import Database, as_utc
from guardpay.storage.engine.migrate import upgrade
from guardpay.storage.outbox import OutboxRepository, outbox_events
from guardpay.storage.uow import read_only
from tests.domain.identity.numbers import uscc

HOST = "127.0.0.1"
PIN = "730194"
TOLERANCE_SECONDS = 300
HOLD_SECONDS = 5.0  # the held POST must end well inside the platform's 10 s client timeout
READY_SECONDS = 30.0
DELIVERY_SECONDS = 25.0
LOST_ACK_SEQUENCE = 4
BEFORE_CRASH, WHILE_DOWN, AFTER_RESTART = 6, 4, 2
TOTAL = BEFORE_CRASH + WHILE_DOWN + AFTER_RESTART
PAYERS = 4  # at most 3 payments each
#: The receiver listens on 127.0.0.1, which webhooks may reach only when a deployment opts
#: in (GUARDPAY_WEBHOOK_ALLOW_PRIVATE, services/webhooks/targets.py).
LOCAL_RECEIVER = WebhookSettings(allow_private=True)


# -- the merchant's receiver --------------------------------------------------------------
def merchant_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The merchant's own HMAC: `v1=` + hex HMAC-SHA256 of `{timestamp}.{body}`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signature_valid(
    secret: str, timestamp: str | None, header: str | None, body: bytes, now: float
) -> bool:
    """A recent timestamp and one matching signature (a rotation may send several)."""
    if not secret or timestamp is None or header is None or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = merchant_signature(secret, int(timestamp), body)
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(","))


@dataclass(frozen=True)
class Accepted:
    sequence: int
    event_id: str
    body: bytes


@dataclass
class Receiver:
    """One merchant's webhook endpoint. `handle` is the whole decision (the HTTP layer
    only passes headers and body through), so it is testable without a socket.

    `lose_ack_of`: the sequence whose acknowledgement is lost (processed, answered 500
    after waiting for `release`, then every delivery is refused with 503 until
    `refusing` is cleared)."""

    secret: str = ""
    lose_ack_of: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    refusing: bool = False
    accepted: dict[int, Accepted] = field(default_factory=dict)
    redeliveries: list[int] = field(default_factory=list)
    lost_acks: list[int] = field(default_factory=list)
    refused: int = 0
    verified: int = 0  # deliveries whose signature checked out
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, raw_headers: Mapping[str, str], body: bytes) -> int:
        headers = {name.lower(): value for name, value in raw_headers.items()}  # any case
        stamp, header = headers.get("guardpay-timestamp"), headers.get("guardpay-signature")
        if not signature_valid(self.secret, stamp, header, body, time.time()):
            return self._problem(401, "bad signature or stale timestamp")
        try:
            event = json.loads(body)
            sequence, event_id = int(event["sequence"]), str(event["id"])
        except (ValueError, KeyError, TypeError):
            return self._problem(400, "not an event envelope")
        if (headers.get("guardpay-sequence"), headers.get("guardpay-event-id")) != (
            str(sequence),
            event_id,
        ):
            return self._problem(400, f"headers disagree with the body of {sequence}")
        with self.lock:
            self.verified += 1
            if self.refusing:
                self.refused += 1
                return 503
            known = self.accepted.get(sequence)
            if known is not None:
                if (known.event_id, known.body) != (event_id, body):
                    return self._problem(
                        409, f"sequence {sequence} reused by another event", locked=True
                    )
                self.redeliveries.append(sequence)  # idempotent: already processed
                return 200
            expected = len(self.accepted) + 1
            if sequence != expected:
                return self._problem(
                    409, f"got sequence {sequence}, expected {expected}", locked=True
                )
            self.accepted[sequence] = Accepted(sequence, event_id, body)
            if sequence != self.lose_ack_of:
                return 200
        self.release.wait(HOLD_SECONDS)  # slow: the platform's POST is in flight
        with self.lock:
            self.lost_acks.append(sequence)
            self.refusing = True
        return 500

    def _problem(self, status: int, what: str, *, locked: bool = False) -> int:
        if locked:
            self.problems.append(what)
        else:
            with self.lock:
                self.problems.append(what)
        return status

    def snapshot(self) -> tuple[list[int], list[int], list[str]]:
        with self.lock:
            return sorted(self.accepted), list(self.redeliveries), list(self.problems)


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.handle(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    return Handler


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    """A real HTTP receiver on a free 127.0.0.1 port; (receiver, its URL)."""
    found = Receiver()
    server = ThreadingHTTPServer((HOST, 0), _handler_for(found))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield found, f"http://{HOST}:{server.server_address[1]}/hooks/guardpay"
    finally:
        found.release.set()
        server.shutdown()
        server.server_close()


# -- the platform: a database, a merchant, payers, and `guardpay serve` processes -------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _poll(what: str, check: Callable[[], bool], seconds: float, why: Callable[[], str]) -> None:
    """Wait for `check` (a deadline, never a fixed sleep); fail with `why()`."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}: {why()}", pytrace=False)
        time.sleep(0.1)


@dataclass
class Platform:
    db: Database
    keyring: Keyring
    workdir: Path
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    merchant: str = ""
    payers: list[tuple[str, str]] = field(default_factory=list)  # (user id, session token)
    qr: str = ""
    payment_ids: list[str] = field(default_factory=list)

    def run(self, fn: Callable[[Context], Any]) -> Any:
        with request_unit(self.db) as uow:
            return fn(Context(uow, self.keyring, SYSTEM))  # the real clock, as the server

    def setup(self, receiver: Receiver, url: str) -> None:
        """A merchant with an endpoint (the secret goes to the receiver, once), and a
        verified, funded payers with a payment password and a session each (several, so
        no payer trips risk control's velocity rule: 5 payments a minute are challenged)."""

        def make(ctx: Context) -> None:
            self.merchant = identity.register_merchant(
                ctx,
                legal_name="上海美食城电子商务有限公司",
                display_name="美食城",
                registration_number=uscc("91310115MA1H7XYR0"),
                mcc="5812",
            ).id
            receiver.secret = webhooks.register_endpoint(
                ctx, self.merchant, url, settings=LOCAL_RECEIVER
            ).secret
            self.qr = payments_qr.static_payload(ctx, self.merchant)
            reserve = wallets.open_platform_accounts(ctx, "CNY")[AccountCode.RESERVE]
            for i in range(PAYERS):
                payer = identity.register_user(ctx, f"1381234560{i}", "付款人").id
                ctx.uow.identity.set_verified(payer, "II", None, ctx.now())
                auth.set_payment_password(ctx, payer, PIN)
                wallet = wallets.wallet(ctx, "user", payer, "CNY")
                top_up = Transfer(
                    7_000_000 + i, reserve, wallet, 100_00, ledger=156, code=TransferCode.TOP_UP
                )
                assert [r.value for r in ledger.execute(ctx.uow, [top_up])] == ["ok"]
                self.payers.append((payer, auth.issue_session(ctx, "user", payer).token))

        self.run(make)

    # -- processes -------------------------------------------------------------------
    def spawn_server(self) -> tuple[subprocess.Popen[bytes], str]:
        """`guardpay serve` on a free port, as deployed; (process, base URL). It may
        start before the test's own setup writes: it needs only a migrated database."""
        port = _free_port()
        # The receiver is on 127.0.0.1: the servers opt in to private webhook addresses.
        env = {**os.environ, MASTER_KEYS_ENV: self.keyring.to_config(), ALLOW_PRIVATE_ENV: "1"}
        log = (self.workdir / f"serve-{len(self.processes) + 1}.log").open("wb")
        command = [
            sys.executable,
            "-m",
            "guardpay",
            "--database-url",
            self.db.url,
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
        ]
        server = subprocess.Popen(
            command, env=env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.processes.append(server)
        return server, f"http://{HOST}:{port}"

    def wait_ready(self, server: subprocess.Popen[bytes], base_url: str) -> None:
        def ready() -> bool:
            if server.poll() is not None:
                pytest.fail(f"the server exited with {server.returncode}: {self.logs()}")
            try:
                return self.http.get(f"{base_url}/healthz", timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False

        _poll("the server to answer /healthz", ready, READY_SECONDS, self.logs)

    def stop_all(self) -> None:
        for server in self.processes:
            if server.poll() is None:
                server.kill()
            server.wait(timeout=30)

    def logs(self) -> str:
        tails = [p.read_text(errors="replace")[-1500:] for p in sorted(self.workdir.glob("*.log"))]
        return "\n---\n".join(tails)

    # -- the merchant's events: payments to it --------------------------------------
    def _next_payer(self) -> tuple[str, str]:
        return self.payers[len(self.payment_ids) % len(self.payers)]

    def pay_over_http(self, base_url: str) -> None:
        _payer, token = self._next_payer()
        response = self.http.post(
            f"{base_url}/v1/payments/qr",
            json={"payload": self.qr, "amount": 1, "currency": "CNY", "payment_password": PIN},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, f"{response.text}\n{self.logs()}"
        assert response.json()["status"] == "succeeded"
        self.payment_ids.append(response.json()["id"])

    def pay_in_process(self) -> None:
        """Another writer on the same database while no server runs."""
        payer, _token = self._next_payer()
        paid = self.run(
            lambda ctx: payments_qr.pay_qr(
                ctx, payer, self.qr, Authorization(payment_password=PIN), Money(1, "CNY")
            )
        )
        assert paid.row.status == "succeeded"
        self.payment_ids.append(paid.row.id)

    # -- what the database holds -----------------------------------------------------
    def head(self) -> tuple[int, int, datetime, datetime | None] | None:
        """The merchant's oldest undelivered event: sequence, attempts, next attempt, lease."""
        t = outbox_events
        with read_only(self.db) as uow:
            row = uow.conn.execute(
                select(t.c.sequence, t.c.attempts, t.c.next_attempt_at, t.c.leased_until)
                .where(t.c.merchant_id == self.merchant, t.c.delivered_at.is_(None))
                .order_by(t.c.sequence)
                .limit(1)
            ).first()
        if row is None:
            return None
        return int(row[0]), int(row[1]), as_utc(row[2]) or row[2], as_utc(row[3])

    def delivered(self) -> list[int]:
        return [e.sequence for e in self.events() if e.delivered_at is not None]

    def events(self) -> list[Any]:
        with read_only(self.db) as uow:
            return OutboxRepository(uow.conn).events_of(self.merchant)

    def attempts(self, event_id: str) -> list[tuple[int, int | None, str | None]]:
        with read_only(self.db) as uow:
            return OutboxRepository(uow.conn).attempts_of(event_id)

    def merchant_payments(self) -> set[str]:
        with self.db.read() as conn:
            rows = conn.execute(
                text("SELECT id FROM payments WHERE payee_id = :m"), {"m": self.merchant}
            )
            return {str(r[0]) for r in rows}


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """A migrated SQLite file (what `guardpay db upgrade` runs); every server process
    started on it is SIGKILLed at teardown if still alive."""
    db = Database(f"sqlite:///{tmp_path / 'gp.db'}")
    upgrade(db)
    found = Platform(db, Keyring.generate(), tmp_path)
    try:
        yield found
    finally:
        found.stop_all()
        found.http.close()
        db.dispose()


# -- the tests -------------------------------------------------------------------------
@pytest.mark.slow
def test_webhooks_survive_a_sigkilled_server_signed_in_order_and_once(
    platform: Platform, receiver: tuple[Receiver, str]
) -> None:
    merchant, url = receiver
    merchant.lose_ack_of = LOST_ACK_SEQUENCE
    first, base_url = platform.spawn_server()  # it boots while the test sets up
    platform.setup(merchant, url)
    platform.wait_ready(first, base_url)

    # Payments through the API; the server's delivery thread posts their events.
    for _ in range(BEFORE_CRASH):
        platform.pay_over_http(base_url)
    merchant.release.set()  # every event is committed: the held POST may now fail

    def crash_window() -> bool:
        """Head is the lost-ack event, its 500 recorded, unleased, not due for >= 1 s:
        no POST is in flight and none can start before the SIGKILL lands."""
        head = platform.head()
        return (
            head is not None
            and head[0] == LOST_ACK_SEQUENCE
            and head[1] >= 1
            and head[3] is None
            and (head[2] - datetime.now(UTC)).total_seconds() >= 1.0
        )

    _poll(
        "the lost acknowledgement to be recorded",
        crash_window,
        DELIVERY_SECONDS,
        lambda: f"head={platform.head()} receiver={merchant.snapshot()} {platform.logs()}",
    )
    first.kill()  # SIGKILL: no shutdown, no cleanup
    assert first.wait(timeout=30) == -9
    assert merchant.snapshot() == ([1, 2, 3, 4], [], [])
    assert merchant.lost_acks == [LOST_ACK_SEQUENCE]
    assert platform.delivered() == [1, 2, 3]  # 4 processed by the merchant, not recorded

    # While no server runs, more payments commit (and enqueue) on the same database.
    for _ in range(WHILE_DOWN):
        platform.pay_in_process()
    with merchant.lock:
        merchant.refusing = False  # the merchant's side is healthy again
    assert platform.delivered() == [1, 2, 3]

    second, base_url = platform.spawn_server()
    platform.wait_ready(second, base_url)
    assert second.pid != first.pid
    for _ in range(AFTER_RESTART):
        platform.pay_over_http(base_url)

    def all_delivered() -> bool:
        return platform.head() is None and len(merchant.snapshot()[0]) == TOTAL

    _poll(
        "every event to be delivered",
        all_delivered,
        DELIVERY_SECONDS,
        lambda: f"head={platform.head()} receiver={merchant.snapshot()} {platform.logs()}",
    )
    assert second.poll() is None, platform.logs()

    # What the merchant saw: 1..N once each as new, in order, every signature valid; the
    # only repeat is the event whose acknowledgement was lost, and it was recognised.
    accepted, redeliveries, problems = merchant.snapshot()
    assert problems == []
    assert accepted == list(range(1, TOTAL + 1))
    assert set(redeliveries) == {LOST_ACK_SEQUENCE}
    # Nothing invented or lost: the outbox holds exactly these events, byte for byte, and
    # they report exactly the payments to this merchant.
    events = platform.events()
    assert [e.sequence for e in events] == list(range(1, TOTAL + 1))
    assert all(e.delivered_at is not None for e in events)
    for e in events:
        got = merchant.accepted[e.sequence]
        assert (got.event_id, got.body) == (e.id, webhooks.message_body(e))
    reported = [json.loads(merchant.accepted[s].body)["data"]["payment_id"] for s in accepted]
    assert reported == platform.payment_ids
    assert set(reported) == platform.merchant_payments()
    # Every attempt the platform recorded reached the merchant signed, and nothing else did.
    assert sum(len(platform.attempts(e.id)) for e in events) == merchant.verified
    # The lost-ack event's history: the 500 the first server recorded, then the ack.
    lost = next(e for e in events if e.sequence == LOST_ACK_SEQUENCE)
    statuses = [status for _, status, _ in platform.attempts(lost.id)]
    assert statuses[0] == 500, statuses
    assert statuses[-1] == 200, statuses
    assert all(status == 503 for status in statuses[1:-1]), statuses


def _signed(secret: str, body: bytes, *, at: float | None = None) -> dict[str, str]:
    event = json.loads(body)
    stamp = int(time.time() if at is None else at)
    return {
        "Guardpay-Timestamp": str(stamp),
        "Guardpay-Sequence": str(event["sequence"]),
        "Guardpay-Event-Id": event["id"],
        "Guardpay-Signature": webhooks.signature(secret, stamp, body),
    }


def _body(sequence: int, amount: int = 100) -> bytes:
    envelope = {
        "id": f"evt_{sequence}",
        "type": "payment.succeeded",
        "sequence": sequence,
        "created_at": "2026-11-21T09:30:00+00:00",
        "data": {"amount": amount},
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def test_the_webhook_receiver_refuses_tampered_forged_stale_and_gapped_deliveries(
    receiver: tuple[Receiver, str],
) -> None:
    merchant, url = receiver
    merchant.secret = "whsec_" + "k" * 43
    body = _body(1)
    # The merchant's own HMAC agrees with what the platform sends.
    stamp = int(time.time())
    assert merchant_signature(merchant.secret, stamp, body) == webhooks.signature(
        merchant.secret, stamp, body
    )
    good = _signed(merchant.secret, body)

    tampered = body.replace(b'"amount":100', b'"amount":900')
    assert tampered != body
    assert merchant.handle(good, tampered) == 401
    assert merchant.handle(_signed("whsec_wrong", body), body) == 401
    assert merchant.handle(_signed(merchant.secret, body, at=time.time() - 301), body) == 401
    assert merchant.handle({**good, "Guardpay-Sequence": "2"}, body) == 400
    assert merchant.handle(_signed(merchant.secret, _body(2)), _body(2)) == 409  # a gap
    assert merchant.accepted == {}
    assert len(merchant.problems) == 5

    # Over real HTTP: the tampered body is refused, the genuine one accepted once, and
    # its redelivery (a new timestamp, the same bytes) acknowledged as a repeat.
    assert httpx.post(url, content=tampered, headers=good).status_code == 401
    assert httpx.post(url, content=body, headers=good).status_code == 200
    again = _signed(merchant.secret, body, at=time.time() + 1)
    assert httpx.post(url, content=body, headers=again).status_code == 200
    other = _body(1, amount=5)  # sequence 1 again, but a different event body
    assert (
        httpx.post(url, content=other, headers=_signed(merchant.secret, other)).status_code == 409
    )
    assert sorted(merchant.accepted) == [1]
    assert merchant.redeliveries == [1]
    assert merchant.problems[-2:] == [
        "bad signature or stale timestamp",
        "sequence 1 reused by another event",
    ]
