"""A world for webhook tests: one database, a movable clock, a merchant, and a receiver
that checks every delivery's signature and sequence the way a merchant's server would."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from guardpay.security.keys import Keyring
from guardpay.services.identity.facade import register_merchant
from guardpay.services.platform.context import Context
from guardpay.services.webhooks import events as webhooks
from guardpay.services.webhooks.delivery import DeliveryWorker, HttpxWebhookClient, RetryPolicy
from guardpay.services.webhooks.targets import WebhookSettings
from guardpay.storage.engine.db import Database
from guardpay.storage.outbox import OutboxEvent, OutboxRepository
from guardpay.storage.uow import read_only, unit_of_work
from tests.domain.identity.numbers import uscc

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
URL = "https://shop.example/hooks"


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class Receiver:
    """The merchant's server. `answers` scripts the status of each call (then 200)."""

    clock: Clock
    secret: str = ""
    answers: list[int] = field(default_factory=list)
    seen: list[tuple[int, str]] = field(default_factory=list)  # (sequence, event id)
    acked: list[int] = field(default_factory=list)
    bad_signatures: int = 0
    on_receive: Callable[[], None] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        stamp = int(request.headers["Guardpay-Timestamp"])
        ok = webhooks.verify_signature(
            self.secret,
            stamp,
            body,
            request.headers["Guardpay-Signature"],
            now=int(self.clock().timestamp()),
        )
        if not ok:
            self.bad_signatures += 1
            return httpx.Response(400)
        event = json.loads(body)
        assert int(request.headers["Guardpay-Sequence"]) == event["sequence"]
        self.seen.append((event["sequence"], event["id"]))
        if self.on_receive is not None:
            self.on_receive()
        status = self.answers.pop(0) if self.answers else 200
        if status < 300:
            assert event["sequence"] == len(set(self.acked)) + 1 or event["sequence"] in self.acked
            self.acked.append(event["sequence"])
        return httpx.Response(status)


class World:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.keyring = Keyring.generate()
        self.clock = Clock()
        self.receiver = Receiver(self.clock)
        self.merchant = self.run(
            lambda ctx: (
                register_merchant(
                    ctx,
                    legal_name="上海美食城电子商务有限公司",
                    display_name="FoodMall",
                    registration_number=uscc("91310115MA1H7XYR0"),
                    mcc="5411",
                    settlement_account_id=None,
                ).id
            )
        )

    @contextmanager
    def ctx(self) -> Iterator[Context]:
        with unit_of_work(self.db) as uow:
            yield Context(uow, self.keyring, clock=self.clock)

    def run(self, fn: Callable[[Context], Any]) -> Any:
        with self.ctx() as ctx:
            return fn(ctx)

    def register(self) -> str:
        done = self.run(lambda ctx: webhooks.register_endpoint(ctx, self.merchant, URL))
        self.receiver.secret = done.secret
        return str(done.secret)

    def enqueue(self, n: int = 1) -> list[int]:
        def _add(ctx: Context) -> list[int]:
            return [
                webhooks.enqueue(ctx, self.merchant, "payment.succeeded", {"n": i})
                for i in range(n)
            ]

        return list(self.run(_add))

    def worker(self, client: Any = None) -> DeliveryWorker:
        # The in-process transport reaches no network (and shop.example resolves nowhere):
        # no destination check (services/webhooks/targets.py has its own tests).
        unchecked = WebhookSettings(allow_private=True)
        transport = httpx.MockTransport(self.receiver)
        http = client or HttpxWebhookClient(httpx.Client(transport=transport), settings=unchecked)
        import random

        return DeliveryWorker(
            self.db,
            self.keyring,
            http,
            clock=self.clock,
            policy=RetryPolicy(base_seconds=2, cap_seconds=60, lease_seconds=30),
            rng=random.Random(7),
        )

    def events(self) -> list[OutboxEvent]:
        with read_only(self.db) as uow:
            return OutboxRepository(uow.conn).events_of(self.merchant)

    def attempts(self, event_id: str) -> list[tuple[int, int | None, str | None]]:
        with read_only(self.db) as uow:
            return OutboxRepository(uow.conn).attempts_of(event_id)
