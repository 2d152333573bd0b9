"""Delivering the outbox: a worker that posts each merchant's events in sequence order,
retrying with capped, jittered exponential backoff until the receiver answers 2xx.

Ordering: only a merchant's oldest undelivered event (its "head") is ever sent, so N+1
waits until N is acknowledged. Safety across processes and restarts: an event is leased
in a short transaction before the POST and its outcome recorded in another after it; a
worker that dies in between leaves the lease to expire, and the next worker sends the
same event again — same id, same sequence — so a receiver sees a redelivery, never a new
event. Delivery is therefore at-least-once; receivers deduplicate by sequence or id.

The HTTP client sits behind `WebhookClient`; tests use an in-process receiver. The real
one sends only to public addresses, checked at each POST (services/webhooks/targets.py);
a refused destination is a failed attempt like a receiver that does not answer.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import httpx
import structlog

from guardpay.errors import GuardpayError
from guardpay.security.keys import Keyring
from guardpay.services.platform.context import Context, utc_now
from guardpay.services.webhooks import events as webhooks
from guardpay.services.webhooks.targets import WebhookSettings, pin
from guardpay.storage.engine.db import Database
from guardpay.storage.outbox import OutboxEvent
from guardpay.storage.uow import read_only, unit_of_work

log = structlog.get_logger(__name__)


class WebhookClient(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST and return the status code; raise on a transport failure."""
        ...


class HttpxWebhookClient:
    """The real client: short timeouts, no redirects (a redirect is not an ack), no proxy
    from the environment (the address checked must be the one connected to). Each POST
    goes to an address of the URL's host checked just before (`webhooks_targets.pin`),
    so a name re-pointed at an internal address after registration reaches nothing;
    `settings` defaults to every check on (the edge passes its own:
    `WebhookSettings.from_settings`, GUARDPAY_WEBHOOK_ALLOW_PRIVATE)."""

    def __init__(
        self,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
        *,
        settings: WebhookSettings | None = None,
    ) -> None:
        self.client = client or httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=False
        )
        self.settings = settings or WebhookSettings()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        to = pin(url, self.settings)
        sent = self.client.post(
            to.url, content=body, headers={**headers, **to.headers}, extensions=to.extensions
        )
        return sent.status_code


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 5.0
    cap_seconds: float = 3600.0
    lease_seconds: float = 60.0  # longer than any POST can take (client timeout)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """Exponential in the attempts made, capped, with "equal jitter" (half fixed,
        half random) so receivers that came back are not hit by a synchronized herd."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return timedelta(seconds=ceiling / 2 + rng.uniform(0, ceiling / 2))


@dataclass(frozen=True)
class _Outcome:
    status: int | None
    error: str | None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class DeliveryWorker:
    """One pass at a time (`run_once`); any number of workers may share a database."""

    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        client: WebhookClient,
        *,
        clock: Callable[[], datetime] = utc_now,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        batch: int = 100,
    ) -> None:
        self.db, self.keyring, self.client, self.clock = db, keyring, client, clock
        self.policy = policy or RetryPolicy()
        self.rng = rng or random.Random()
        self.batch = batch

    def run_once(self) -> int:
        """Send every due head, following each merchant's queue while it is acknowledged;
        the number of events delivered."""
        delivered = 0
        with read_only(self.db) as uow:
            heads = uow.outbox.due_heads(self.clock(), self.batch)
        for head in heads:
            event: OutboxEvent | None = head
            while event is not None and delivered < self.batch:
                if not self._deliver(event):
                    break
                delivered += 1
                event = self._next_due(event.merchant_id)
        return delivered

    def _next_due(self, merchant_id: str) -> OutboxEvent | None:
        with read_only(self.db) as uow:
            heads = uow.outbox.due_heads(self.clock(), 1, merchant_id)
        return heads[0] if heads else None

    def _deliver(self, event: OutboxEvent) -> bool:
        """Lease, post, record; True if acknowledged."""
        now = self.clock()
        until = now + timedelta(seconds=self.policy.lease_seconds)
        with unit_of_work(self.db) as uow:
            repo = uow.outbox
            if not repo.lease(event.id, now, until):
                return False  # another worker has it
            target = self._target(Context(uow, self.keyring, clock=self.clock), event)
        outcome = (
            _Outcome(None, "no webhook endpoint") if target is None else self._post(event, *target)
        )
        return self._record(event, outcome, until) and outcome.acknowledged

    def _target(self, ctx: Context, event: OutboxEvent) -> tuple[str, str] | None:
        found = ctx.uow.outbox.endpoint(event.merchant_id)
        if found is None:
            return None
        url, sealed = found
        return url, ctx.vault.decrypt(event.merchant_id, webhooks.SECRET_FIELD, sealed)

    def _post(self, event: OutboxEvent, url: str, secret: str) -> _Outcome:
        body = webhooks.message_body(event)
        timestamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "Guardpay-Timestamp": str(timestamp),
            "Guardpay-Sequence": str(event.sequence),
            "Guardpay-Event-Id": event.id,
            "Guardpay-Signature": webhooks.signature(secret, timestamp, body),
        }
        try:
            return _Outcome(self.client.post(url, body, headers), None)
        except GuardpayError as exc:  # e.g. webhook_destination_refused: recorded, retried
            return _Outcome(None, exc.code)
        except Exception as exc:  # the network, the receiver: all retryable
            return _Outcome(None, type(exc).__name__)

    def _record(self, event: OutboxEvent, outcome: _Outcome, lease: datetime) -> bool:
        now = self.clock()
        retry_at = None
        if not outcome.acknowledged:
            retry_at = now + self.policy.delay(event.attempts + 1, self.rng)
        with unit_of_work(self.db) as uow:
            kept = uow.outbox.record_attempt(
                event, now, outcome.status, outcome.error, retry_at, lease
            )
        log.info(
            "webhook_attempt",
            event_id=event.id,
            merchant_id=event.merchant_id,
            sequence=event.sequence,
            status=outcome.status,
            error=outcome.error,
            acknowledged=outcome.acknowledged,
            recorded=kept,
        )
        return kept


class Periodic(Protocol):
    def run_once(self) -> int: ...


class DeliveryThread:
    """Runs a worker (the webhook delivery, the job scheduler) in a daemon thread every
    `interval` seconds until stopped, at once again while it finds work; what `guardpay
    serve` starts beside the API."""

    def __init__(
        self, worker: Periodic, interval: float = 1.0, name: str = "webhook-delivery"
    ) -> None:
        self.worker = worker
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.worker.run_once() > 0
            except Exception as exc:  # a bad pass must not end delivery for good
                log.error(
                    "background_pass_failed",
                    thread=self._thread.name,
                    error_type=type(exc).__name__,
                )
                busy = False
            if not busy:
                self._stop.wait(self.interval)
