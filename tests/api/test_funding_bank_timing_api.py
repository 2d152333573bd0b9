"""The bank's timing over HTTP, on both backends: an answer that overtakes the commit of
the request that submitted the instruction is refused as retryable and settles the
funding when the bank sends it again."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from guardpay.adapters.bank import BankCallback, BankInstruction, FakeBank
from guardpay.storage.db import Database
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
    assert api.funding(alice, made.json()["id"])["state"] == "succeeded"
    assert api.available(alice) == 500_00
    outcomes = [a[1] for a in answers if a[0] == 200] + later
    assert outcomes == ["succeeded"]  # settled once, by one of the deliveries
    assert {a for a in answers if a[0] != 200} <= {(503, "bank_reference_unknown")}
    if api.db.backend == "postgresql":  # it really came before the commit, and was refused
        assert answers[:1] == [(503, "bank_reference_unknown")]
    assert bank.given_up == []
    assert_books_balance(api.db)
