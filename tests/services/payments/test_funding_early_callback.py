"""The bank's answer can arrive before the request that submitted the instruction has
committed (the instruction is sent inside the request's transaction). On PostgreSQL the
callback's transaction cannot see the funding yet: it is refused as retryable and the
bank's redelivery settles the funding; on SQLite the callback waits for the write lock.
Either way the funding ends as the bank said."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from guardpay.adapters.bank import BankCallback, BankInstruction, FakeBank
from guardpay.errors import GuardpayError
from guardpay.storage.engine.db import Database
from tests.services.payments.test_funding import CALM, FundingEnv


class FastBank(FakeBank):
    """A bank that answers at once: while `submit` runs, another thread (another
    connection, as the HTTP callback would be) delivers the answer."""

    deliver: Callable[[BankCallback], object]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.workers: list[threading.Thread] = []
        self.refusals: list[str] = []

    def submit(self, instruction: BankInstruction) -> str:
        reference = super().submit(instruction)
        worker = threading.Thread(target=lambda: self.pump(self._try, ticks=5))
        worker.start()
        self.workers.append(worker)
        worker.join(timeout=1)  # SQLite: blocked on the write lock until the request commits
        return reference

    def _try(self, callback: BankCallback) -> object:
        try:
            return self.deliver(callback)
        except GuardpayError as exc:
            self.refusals.append(exc.code)
            raise  # the bank sees a failed delivery and sends it again


@pytest.fixture
def env(db: Database) -> FundingEnv:
    bank = FastBank(seed=1, chaos=CALM)
    made = FundingEnv(db, bank)
    bank.deliver = made.deliver
    return made


def settle(bank: FastBank, deliver: Callable[[BankCallback], object]) -> None:
    """Let the early deliveries finish, whatever they did; then the bank retries what
    was refused until it is quiet."""
    for worker in bank.workers:
        worker.join()
    bank.drain(deliver)


def test_an_answer_that_overtakes_the_requests_commit_still_settles(env: FundingEnv) -> None:
    bank = env.bank
    assert isinstance(bank, FastBank)
    user, card_id = env.customer()
    top_up = env.top_up(user, card_id, 10_000)
    settle(bank, env.deliver)
    assert env.get(top_up.id).state == "succeeded"
    assert env.account(user) == (10_000, 10_000)
    withdrawal = env.withdraw(user, card_id, 4_000)
    settle(bank, env.deliver)
    assert env.get(withdrawal.id).state == "succeeded"
    assert env.account(user) == (6_000, 6_000)  # paid out, the hold posted
    assert bank.given_up == []
    if env.db.backend == "postgresql":  # the early answers really came before the commit
        assert bank.refusals
    assert set(bank.refusals) <= {"bank_reference_unknown"}
    env.reserve_ok()
    env.ledger_ok()
