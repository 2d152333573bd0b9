"""The bank's timing over HTTP, on both backends: an answer that overtakes the commit of
the request that submitted the instruction is refused as retryable and settles the
funding when the bank sends it again; a request whose bank reply was lost (503) and that
is retried with its Idempotency-Key meets the instruction the bank took, so the money
moves once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from guardpay.adapters.bank import BankCallback, BankInstruction, FakeBank
from guardpay.services.payments import funding
from guardpay.storage.engine.db import Database
from tests.api.api_fixtures import PIN, error_of
from tests.api.test_funding_api import ALICE, CALM, BankApi, assert_books_balance, bank_api
from tests.domain.identity.numbers import card


class EarlyBank(FakeBank):
    """Answers at once: while `submit` runs inside the request's transaction, another
    thread posts the answer to the callback endpoint."""

    send: Callable[[BankCallback], object]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.workers: list[threading.Thread] = []

    def submit(self, instruction: BankInstruction) -> str:
        reference = super().submit(instruction)
        worker = threading.Thread(target=lambda: self.pump(self.send, ticks=5))
        worker.start()
        self.workers.append(worker)
        worker.join(timeout=1)  # SQLite: the callback waits for the write lock
        return reference

    def quiet(self) -> None:
        for worker in self.workers:
            worker.join()


@pytest.fixture
def early(db: Database) -> Iterator[tuple[BankApi, EarlyBank, list[tuple[int, str]]]]:
    bank = EarlyBank(seed=11, chaos=CALM)
    answers: list[tuple[int, str]] = []  # (status, outcome or error code) per delivery
    for api in bank_api(db, bank):
        bank.send = _sender(api, answers)
        yield api, bank, answers


def _sender(api: BankApi, answers: list[tuple[int, str]]) -> Callable[[BankCallback], None]:
    """The bank's HTTP delivery: a non-2xx answer fails it, so the bank sends it again."""

    def send(cb: BankCallback) -> None:
        r = api.callback(cb)
        body = r.json()
        answers.append((r.status_code, body.get("outcome") or body["error"]["code"]))
        if r.status_code != 200:
            raise RuntimeError(f"the platform answered {r.status_code}")

    return send


def test_an_answer_that_overtakes_the_commit_is_sent_again_and_settles(
    early: tuple[BankApi, EarlyBank, list[tuple[int, str]]],
) -> None:
    api, bank, answers = early
    alice = api.holder(ALICE, "111", card("622202", 19))
    made = api.fund("top-ups", alice, 500_00)
    assert made.status_code == 201, made.text
    bank.quiet()
    later = api.deliver_all()  # what the bank still has to send: 200 each
    assert api.funding(alice, made.json()["id"])["status"] == "succeeded"
    assert api.available(alice) == 500_00
    outcomes = [a[1] for a in answers if a[0] == 200] + later
    assert outcomes == ["succeeded"]  # settled once, by one of the deliveries
    assert {a for a in answers if a[0] != 200} <= {(503, "bank_reference_unknown")}
    if api.db.backend == "postgresql":  # it really came before the commit, and was refused
        assert answers[:1] == [(503, "bank_reference_unknown")]
    assert bank.given_up == []
    assert_books_balance(api.db)


class LossyBank(FakeBank):
    """Takes the first instruction, then its reply is lost (a read timeout)."""

    lost = 0

    def submit(self, instruction: BankInstruction) -> str:
        reference = super().submit(instruction)
        if self.lost == 0:
            self.lost += 1
            raise TimeoutError("read timed out")
        return reference


@pytest.fixture
def lossy(db: Database) -> Iterator[BankApi]:
    yield from bank_api(db, LossyBank(seed=11, chaos=CALM))


@pytest.mark.parametrize("path", ["top-ups", "withdrawals"])
def test_a_request_retried_after_a_bank_timeout_moves_the_money_once(
    lossy: BankApi, path: str
) -> None:
    alice = lossy.holder(ALICE, "111", card("622202", 19))
    if path == "withdrawals":  # something to withdraw; the bank's first reply is lost
        lossy.bank.lost = 1
        assert lossy.fund("top-ups", alice, 800_00).status_code == 201
        lossy.deliver_all()
        lossy.bank.lost = 0
    body = {"card_id": alice.card_id, "amount": 500_00, "payment_password": PIN}
    headers = {"Authorization": f"Bearer {alice.token}", "Idempotency-Key": "fund-1"}
    first = lossy.client.post(f"/v1/me/{path}", json=body, headers=headers)
    assert error_of(first, 503, "bank_unavailable")
    again = lossy.client.post(f"/v1/me/{path}", json=body, headers=headers)  # the app retries
    assert again.status_code == 201, again.text
    assert lossy.deliver_all() == ["succeeded"]
    moved = [r for r in lossy.bank.statement() if r.amount == 500_00]
    assert [(r.bank_reference, r.status) for r in moved] == [
        (again.json()["bank_reference"], "succeeded")
    ]  # one instruction at the bank: the retry met it
    assert lossy.available(alice) == (500_00 if path == "top-ups" else 300_00)
    replayed = lossy.client.post(f"/v1/me/{path}", json=body, headers=headers)
    assert (replayed.status_code, replayed.json()["id"]) == (201, again.json()["id"])
    assert_books_balance(lossy.db)


def test_the_same_key_names_one_funding_per_user() -> None:
    ids = {funding.funding_id_for(user, key) for user in ("usr_a", "usr_b") for key in "xy"}
    assert len(ids) == 4
    assert funding.funding_id_for("usr_a", "x") == funding.funding_id_for("usr_a", "x")
    assert all(i.startswith("fnd_") and len(i) == 20 for i in ids)
