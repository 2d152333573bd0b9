"""Payments in micro-batches (api/batching.py), on both backends: a batch with refusals
mixed in answers each request exactly as it is answered alone and leaves exactly the
rows it leaves alone; concurrent payments from one wallet never overdraw it; the
answers wait for their batch's commit."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import event, text

from guardpay.adapters.risk_state import FeatureState
from guardpay.api.batching import PaymentBatcher, batcher_of
from guardpay.domain.ledger.model import AccountFlags, AccountFlagsChange
from guardpay.domain.ledger.results import Result
from guardpay.domain.risk.features import Probe, RiskEvent, StateSnapshot
from guardpay.services.ledger import books as ledger
from guardpay.storage.engine import group_commit
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import UnitOfWork, read_only, unit_of_work
from tests.api.api_fixtures import PIN, Api, bearer
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_payments_api import Payer, balance, payer, shop
from tests.domain.identity.numbers import resident_id
from tests.storage.engine.test_group_commit import SlowDisk


@dataclass(frozen=True)
class Situation:
    """One payer and the payment request it sends (with any headers beyond its token and
    Idempotency-Key)."""

    name: str
    payer: Payer
    body: dict[str, object]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class People:
    payee: Payer
    blocked: Payer  # a payee on the block list: paying them is denied


_SERIAL = iter(range(10_000))


def _person(api: Api, fund: int = 0) -> Payer:
    n = next(_SERIAL)
    phone = f"1360000{n:04d}"
    return payer(
        api,
        phone,
        resident_id("310104", f"1990{1 + n % 12:02d}{1 + n % 28:02d}", f"{n % 1000:03d}"),
        fund,
    )


def _people(api: Api) -> People:
    operator = shop(api)  # signs in the analyst, who keeps the block list
    people = People(_person(api), _person(api))
    entry = {
        "list": "block",
        "entity": "payee",
        "value": people.blocked.id,
        "reason": "mule reported by bank",
        "expires_in_hours": 48,
    }
    assert api.post("/v1/risk/lists", entry, operator.token).status_code == 201
    return people


def _situations(api: Api, people: People) -> list[Situation]:
    """Seven payers, each sending the payment that meets one outcome."""

    def pays(
        fund: int,
        amount: int,
        before: Callable[[Situation], object] | None = None,
        headers: dict[str, str] | None = None,
        **body: object,
    ) -> Callable[[str], Situation]:
        def make(name: str) -> Situation:
            sent = {"payee": people.payee.id, "amount": amount, "payment_password": PIN}
            made = Situation(name, _person(api, fund), {**sent, **body}, headers or {})
            if before is not None:
                before(made)
            return made

        return make

    def key_used_before(s: Situation) -> None:  # the same key, for another amount
        assert _send(api, replace(s, body={**s.body, "amount": 1_00})).status_code == 201

    def wallet_frozen(s: Situation) -> None:
        with unit_of_work(api.db) as uow:
            account = uow.wallets.find("user", s.payer.id, "CNY", "customer_wallet")
            assert account is not None
            frozen = AccountFlagsChange(account, set_flags=AccountFlags.DEBITS_FROZEN)
            assert ledger.execute(uow, [frozen]) == [Result.ok]

    forged = {"Payment-Signature": f"t={int(api.clock().timestamp())}, sig={'A' * 86}"}
    makers = {
        "paid": pays(500_00, 10_00),
        "insufficient_funds": pays(0, 10_00),
        "limit_exceeded": pays(2500_00, 2000_00),  # class I: ¥1,000 since opening
        "wrong_payment_password": pays(500_00, 10_00, payment_password="111111"),
        "payee_not_found": pays(500_00, 10_00, payee="usr_nobody"),
        "risk_denied": pays(500_00, 10_00, payee=people.blocked.id),
        "key_replayed": pays(500_00, 10_00, before=key_used_before),
        "bad_signature": pays(500_00, 10_00, headers=forged, payment_password=None),
        "account_frozen": pays(500_00, 10_00, before=wallet_frozen),
        "paid_too": pays(500_00, 3_00),
    }
    return [make(name) for name, make in makers.items()]


def _send(api: Api, situation: Situation) -> Response:
    headers = {**bearer(situation.payer.token), "Idempotency-Key": f"key-{situation.name}"}
    headers.update(situation.headers)
    body = {k: v for k, v in situation.body.items() if v is not None}
    return api.client.post("/v1/transfers", json=body, headers=headers)


def _answer(r: Response) -> tuple[object, ...]:
    body = r.json()
    if "error" in body:
        return (r.status_code, body["error"]["code"], body["error"]["message"])
    return (r.status_code, body["status"], body["amount"], body["failure_code"])


def _rows(api: Api, situation: Situation) -> dict[str, list[tuple[object, ...]]]:
    """What the request left, per table, about its payer."""
    who = {"u": situation.payer.id, "a": f"user:{situation.payer.id}"}
    queries = {
        "payments": "SELECT status, failure_code, amount FROM payments WHERE payer_id = :u",
        "risk_decisions": "SELECT request_kind, amount FROM risk_decisions WHERE user_id = :u",
        "audit_log": "SELECT action, outcome FROM audit_log WHERE actor = :a ORDER BY seq",
        "idempotency_keys": "SELECT key, state, response_status FROM idempotency_keys "
        "WHERE caller LIKE '%' || :u || '%'",
        "balance": "SELECT 0",
    }
    with api.db.read() as conn:
        found = {t: [tuple(r) for r in conn.execute(text(q), who)] for t, q in queries.items()}
    found["balance"] = [(balance(api, "user", situation.payer.id),)]
    return found


class _Held:
    """The batcher kept busy on a request of its own, so the requests sent meanwhile
    queue and form the next batch together."""

    def __init__(self, batcher: PaymentBatcher) -> None:
        self.batcher, self.gate = batcher, threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> _Held:
        self.thread.start()
        started = threading.Event()

        def hold(_uow: UnitOfWork) -> None:
            started.set()
            assert self.gate.wait(30)

        self.held = asyncio.run_coroutine_threadsafe(self.batcher.run(hold), self.loop)
        assert started.wait(30)
        return self

    def wait_for(self, queued: int) -> None:
        deadline = time.monotonic() + 30
        while self.batcher.queued() < queued:
            assert time.monotonic() < deadline, "the requests never reached the batcher"
            time.sleep(0.01)

    def __exit__(self, *_: object) -> None:
        self.gate.set()
        self.held.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _all_at_once(api: Api, sends: list[Callable[[], Response]]) -> list[Response]:
    """Send every request from its own thread while the batcher is held; they are then
    run as one batch. The answers, in the order of `sends`."""
    answers: list[Any] = [None] * len(sends)

    def send(i: int) -> None:
        answers[i] = sends[i]()

    batcher = batcher_of(api.client.app.state)  # type: ignore[attr-defined]
    with _Held(batcher) as held:
        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(sends))]
        for t in threads:
            t.start()
        held.wait_for(len(sends))
    for t in threads:
        t.join(60)
    return answers


def _verified(api: Api) -> None:
    with read_only(api.db) as uow:
        report = ledger.verify(uow)
    assert report.ok, report.problems


def test_a_batch_with_refusals_answers_each_as_alone_and_keeps_the_same_rows(api: Api) -> None:
    people = _people(api)
    alone = _situations(api, people)
    answers_alone = [_answer(_send(api, s)) for s in alone]
    rows_alone = [_rows(api, s) for s in alone]
    assert [a[1] for a in answers_alone] == [
        "succeeded",
        "insufficient_funds",
        "limit_exceeded",
        "invalid_payment_password",
        "payee_not_found",
        "payment_denied",
        "idempotency_key_reused",
        "invalid_signature",
        "account_frozen",
        "succeeded",
    ]
    together = _situations(api, people)
    sends = [lambda s=s: _send(api, s) for s in together]  # type: ignore[misc]
    answers_together = [_answer(r) for r in _all_at_once(api, sends)]
    assert batcher_of(api.client.app.state).sizes[-1] == len(sends)  # type: ignore[attr-defined]
    assert answers_together == answers_alone
    assert [_rows(api, s) for s in together] == rows_alone
    _verified(api)


def test_a_hundred_payments_from_one_wallet_at_once_never_overdraw_it(api: Api) -> None:
    people = _people(api)
    rich = _person(api, fund=50_00)  # enough for 50 of the 100

    def send(i: int) -> Response:
        body = {"payee": people.payee.id, "amount": 1_00, "payment_password": PIN}
        headers = {**bearer(rich.token), "Idempotency-Key": f"one-wallet-{i}"}
        return api.client.post("/v1/transfers", json=body, headers=headers)

    answers = _all_at_once(api, [lambda i=i: send(i) for i in range(100)])  # type: ignore[misc]
    assert sum(list(batcher_of(api.client.app.state).sizes)[-2:]) == 100  # type: ignore[attr-defined]
    codes = sorted(str(_answer(r)[1]) for r in answers)
    assert codes.count("succeeded") == 50
    assert set(codes) - {"succeeded"} <= {"insufficient_funds", "limit_exceeded"}
    assert balance(api, "user", rich.id) == 0
    assert balance(api, "user", people.payee.id) == 50_00
    _verified(api)


def test_the_answer_waits_for_the_batch_commit(api: Api) -> None:
    """A request answered while its batch is still open would be an answer for work that
    may roll back: the held batch's requests get nothing until it commits."""
    people = _people(api)
    situation = _situations(api, people)[0]
    batcher = batcher_of(api.client.app.state)  # type: ignore[attr-defined]
    answers: list[Response] = []
    with _Held(batcher) as held:
        sender = threading.Thread(target=lambda: answers.append(_send(api, situation)))
        sender.start()
        held.wait_for(1)
        time.sleep(0.2)
        assert answers == []  # queued behind the held batch: not answered
    sender.join(30)
    assert _answer(answers[0])[:2] == (201, "succeeded")


def test_a_payment_without_credentials_is_refused_before_any_batch(api: Api) -> None:
    """It has nothing to batch: the 401 comes from the event loop, no unit of work."""
    batcher = batcher_of(api.client.app.state)  # type: ignore[attr-defined]
    before = batcher.requests
    body = {"payee": "u_nobody", "amount": 1_00, "payment_password": PIN}
    r = api.client.post("/v1/transfers", json=body, headers={"Idempotency-Key": "k-none"})
    assert (r.status_code, r.json()["error"]["code"]) == (401, "authentication_required")
    assert batcher.requests == before


def test_a_batch_reads_each_table_once_for_all_its_payments(api: Api) -> None:
    """Read ahead (services/payments/batch.py): the batcher's thread reads the sessions,
    the payers and the payee, their devices, credentials and wallets in one statement per
    table for the whole batch, and no payment reads its own."""
    payee = _person(api)
    payers = [_person(api, fund=10_00) for _ in range(6)]
    seen: list[str] = []

    def batched(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if threading.current_thread().name == "payment-batcher":
            seen.append(statement)

    def send(p: Payer, i: int) -> Response:
        body = {"payee": payee.id, "amount": 1_00, "payment_password": PIN}
        headers = {**bearer(p.token), "Idempotency-Key": f"ahead-{i}"}
        return api.client.post("/v1/transfers", json=body, headers=headers)

    event.listen(api.db.engine, "before_cursor_execute", batched)
    try:
        sends = [lambda p=p, i=i: send(p, i) for i, p in enumerate(payers)]
        answers = _all_at_once(api, sends)  # type: ignore[misc]
    finally:
        event.remove(api.db.engine, "before_cursor_execute", batched)
    assert [_answer(r)[:2] for r in answers] == [(201, "succeeded")] * len(payers)

    def reads(table: str) -> int:
        pattern = re.compile(rf"^\s*SELECT\b.*\bFROM {table}\b", re.DOTALL | re.IGNORECASE)
        return sum(1 for s in seen if pattern.search(s))

    assert reads("auth_sessions") == 1
    assert reads("auth_credentials") == 1
    assert reads("users") == 3  # the payers (locked), the payee, their people's accounts
    assert reads("wallets") == 1
    assert reads("payments") == 1  # what each payer has paid, for the limits
    assert balance(api, "user", payee.id) == 1_00 * len(payers)
    _verified(api)


def test_payments_of_one_payer_in_a_batch_count_against_the_limit_in_turn(api: Api) -> None:
    """What a payer has paid is read ahead for the batch, and forgotten as soon as one of
    its payments is written: the third of three ¥400 payments finds the first two and
    is over the Class I allowance of ¥1,000 (¥200 left), as it would be alone."""
    people = _people(api)
    rich = _person(api, fund=1500_00)

    def send(i: int) -> Response:
        body = {"payee": people.payee.id, "amount": 400_00, "payment_password": PIN}
        headers = {**bearer(rich.token), "Idempotency-Key": f"in-turn-{i}"}
        return api.client.post("/v1/transfers", json=body, headers=headers)

    answers = _all_at_once(api, [lambda i=i: send(i) for i in range(3)])  # type: ignore[misc]
    codes = [str(_answer(r)[1]) for r in answers]
    assert sorted(codes) == ["limit_exceeded", "succeeded", "succeeded"]
    [refused] = [r for r in answers if _answer(r)[1] == "limit_exceeded"]
    assert "200.00 CNY remaining" in str(_answer(refused)[2])
    assert balance(api, "user", rich.id) == 1500_00 - 800_00
    _verified(api)


def test_the_next_batch_runs_while_the_last_one_is_synced(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batcher's thread does not wait for the disk: the next batch runs while the
    last one's commit is synced, and neither is answered before its own is on disk."""
    disk = SlowDisk()
    monkeypatch.setattr(group_commit, "_fsync", disk)
    batcher = PaymentBatcher(sqlite_db)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ran: list[str] = []

    def work(name: str) -> Callable[[UnitOfWork], str]:
        def run(_uow: UnitOfWork) -> str:
            ran.append(name)
            return name

        return run

    try:
        first = asyncio.run_coroutine_threadsafe(batcher.run(work("first")), loop)
        assert disk.started.wait(10)
        second = asyncio.run_coroutine_threadsafe(batcher.run(work("second")), loop)
        deadline = time.monotonic() + 10
        while "second" not in ran:
            assert time.monotonic() < deadline, "the next batch waited for the disk"
            time.sleep(0.005)
        time.sleep(0.05)
        assert not first.done()  # committed, not yet on disk: not answered
        assert not second.done()
        disk.go.set()
        assert (first.result(10), second.result(10)) == ("first", "second")
    finally:
        disk.go.set()
        batcher.close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


class _CountingState:
    """The app's feature state, counting the calls risk control makes of it."""

    def __init__(self, inner: FeatureState) -> None:
        self.inner, self.calls, self.recorded = inner, Counter[str](), 0

    def snapshot(self, req: Probe) -> StateSnapshot:
        self.calls["snapshot"] += 1
        return self.inner.snapshot(req)

    def snapshot_many(self, probes: Sequence[Probe]) -> list[StateSnapshot]:
        self.calls["snapshot_many"] += 1
        return self.inner.snapshot_many(probes)

    def record(self, event: RiskEvent) -> None:
        self.record_many([event])

    def record_many(self, events: Iterable[RiskEvent]) -> None:
        listed = list(events)
        self.calls["record_many"] += 1
        self.recorded += len(listed)
        self.inner.record_many(listed)

    def clear(self) -> None:
        self.inner.clear()


def test_a_batch_asks_the_feature_state_once_and_tells_it_once(api: Api) -> None:
    """With Redis each call is a round trip: a batch's snapshots are read ahead in one
    (`RiskEngine.read_ahead`), and what it learnt is recorded in one after its commit.
    The next batch sees the first one's payments: the payee is no longer new to them."""
    payee = _person(api)
    payers = [_person(api, fund=10_00) for _ in range(6)]
    engine = api.client.app.state.risk  # type: ignore[attr-defined]
    counting = _CountingState(engine.state)
    engine.state = counting

    def send(p: Payer, key: str) -> Response:
        body = {"payee": payee.id, "amount": 1_00, "payment_password": PIN}
        headers = {**bearer(p.token), "Idempotency-Key": key}
        return api.client.post("/v1/transfers", json=body, headers=headers)

    def batch(round_: int) -> list[bool]:
        sends = [lambda p=p, i=i: send(p, f"state-{round_}-{i}") for i, p in enumerate(payers)]
        answers = _all_at_once(api, sends)  # type: ignore[misc]
        assert [_answer(r)[:2] for r in answers] == [(201, "succeeded")] * len(payers)
        with read_only(api.db) as uow:
            decided = [uow.risk.decision_for(r.json()["id"]) for r in answers]
        return [d is not None and bool(d.features["payee_new"]) for d in decided]

    try:
        assert batch(1) == [True] * len(payers)
        assert counting.calls == {"snapshot_many": 1, "record_many": 1}
        assert counting.recorded == len(payers)
        assert batch(2) == [False] * len(payers)
        assert counting.calls == {"snapshot_many": 2, "record_many": 2}
    finally:
        engine.state = counting.inner
