"""Top-up and withdrawal through the fake bank, one callback at a time, on both backends.

`FundingEnv` (shared with the chaos and reconciliation tests) adds a bank and users with
bound cards to the identity tests' `Env`.
"""

from __future__ import annotations

from typing import Any

import pytest

from guardpay.adapters.bank import BankCallback, Chaos, FakeBank
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.results import Result
from guardpay.domain.money import Money
from guardpay.domain.payments import funding as rules
from guardpay.services.identity.facade import bind_card
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import reconcile, wallets
from guardpay.services.payments import funding
from guardpay.storage.engine.db import Database
from guardpay.storage.funding import FundingRow
from tests.domain.identity.numbers import card, resident_id
from tests.services.identity.test_identity import DEBIT, PHONE, Env

CALM = Chaos(failure=0.0, duplicate=0.0, late=0.0, contradiction=0.0)
USERS = [
    (PHONE, resident_id("310104", "19900307", "123"), DEBIT),
    ("13900139000", resident_id("440305", "19751129", "888"), card("622202", 19, "5")),
]


class FundingEnv(Env):
    def __init__(self, db: Database, bank: FakeBank) -> None:
        super().__init__(db)
        self.bank = bank

    def customer(self, n: int = 0) -> tuple[str, str]:
        """A verified user with a bound debit card: (user id, card id)."""
        phone, number, pan = USERS[n]
        user = self.verified_user(phone, number)
        return user.id, self.run(bind_card, self.kyc, user.id, pan, phone).id

    def top_up(self, user: str, card_id: str, amount: int, **kw: Any) -> FundingRow:
        return self.run(
            funding.request_top_up, self.bank, user, card_id, Money(amount, "CNY"), **kw
        )

    def withdraw(self, user: str, card_id: str, amount: int, **kw: Any) -> FundingRow:
        return self.run(
            funding.request_withdrawal, self.bank, user, card_id, Money(amount, "CNY"), **kw
        )

    def deliver(self, callback: BankCallback) -> funding.Outcome:
        return self.run(funding.handle_callback, callback)

    def get(self, funding_id: str) -> FundingRow:
        return self.run(funding.get_funding, funding_id)

    def account(self, user: str) -> tuple[int, int]:
        """(balance, available) of the user's CNY wallet."""
        with self.ctx() as ctx:
            found = ctx.uow.ledger_queries.account(wallets.wallet(ctx, "user", user, "CNY"))
        assert found is not None
        return found.balance, found.available

    def reserve_ok(self) -> reconcile.ReserveReport:
        with self.ctx() as ctx:
            report = reconcile.reserve(ctx.uow)
        assert report.ok, report.as_dict()
        return report

    def ledger_ok(self) -> None:
        with self.ctx() as ctx:
            report = ledger.verify(ctx.uow)
        assert report.ok, report.as_dict()


def callback(row: FundingRow, status: str, amount: int | None = None) -> BankCallback:
    assert row.bank_reference
    return BankCallback(
        row.bank_reference, row.id, status, row.amount if amount is None else amount, row.currency
    )


@pytest.fixture
def env(db: Database) -> FundingEnv:
    return FundingEnv(db, FakeBank(seed=1, chaos=CALM))


def test_a_top_up_is_pending_until_the_bank_confirms(env: FundingEnv) -> None:
    user, card_id = env.customer()
    row = env.top_up(user, card_id, 10_000)
    assert (row.state, row.kind, row.card_last4) == ("processing", "top_up", DEBIT[-4:])
    assert row.bank_reference
    assert env.account(user) == (0, 0)  # not spendable yet
    report = env.reserve_ok()
    assert report.lines[0].top_ups_in_flight == 10_000
    env.bank.drain(env.deliver)
    assert env.get(row.id).state == "succeeded"
    assert env.account(user) == (10_000, 10_000)
    line = env.reserve_ok().lines[0]
    assert (line.reserve, line.liabilities, line.top_ups_in_flight) == (10_000, 10_000, 0)
    env.ledger_ok()
    audits = [a[2] for a in env.audit("funding.requested") + env.audit("funding.succeeded")]
    assert len(audits) == 2
    assert all(DEBIT not in details for details in audits)


def test_a_top_up_after_the_bank_restarts_settles_its_own_funding(env: FundingEnv) -> None:
    """A restarted process has a new fake bank (same seed): its references must not
    repeat the ones stored, or the insert breaks the unique reference and its answers
    land on old fundings as amount mismatches."""
    user, card_id = env.customer()
    first = env.top_up(user, card_id, 10_000)
    env.bank.drain(env.deliver)
    env.bank = FakeBank(seed=1, chaos=CALM)  # the restart
    second = env.top_up(user, card_id, 2_500)
    assert second.bank_reference != first.bank_reference
    env.bank.drain(env.deliver)
    assert (env.get(first.id).state, env.get(second.id).state) == ("succeeded", "succeeded")
    assert env.account(user) == (12_500, 12_500)
    with env.ctx() as ctx:
        assert ctx.uow.funding.anomalies() == []
    env.reserve_ok()
    env.ledger_ok()


def test_a_failed_top_up_is_voided(env: FundingEnv) -> None:
    user, card_id = env.customer()
    row = env.top_up(user, card_id, 5_000)
    assert env.deliver(callback(row, "failed")) is funding.Outcome.FAILED
    assert env.get(row.id).state == "failed"
    assert env.account(user) == (0, 0)
    env.reserve_ok()
    env.ledger_ok()


def test_a_withdrawal_holds_the_money_and_a_failure_gives_it_back(env: FundingEnv) -> None:
    user, card_id = env.customer()
    env.deliver(callback(env.top_up(user, card_id, 10_000), "succeeded"))
    first = env.withdraw(user, card_id, 7_000)
    assert env.account(user) == (10_000, 3_000)  # held, not spendable twice
    env.refused(
        "insufficient_funds",
        funding.request_withdrawal,
        env.bank,
        user,
        card_id,
        Money(3_001, "CNY"),
    )
    assert env.deliver(callback(first, "failed")) is funding.Outcome.FAILED
    assert env.account(user) == (10_000, 10_000)
    second = env.withdraw(user, card_id, 9_000)
    assert env.deliver(callback(second, "succeeded")) is funding.Outcome.SUCCEEDED
    assert env.account(user) == (1_000, 1_000)
    line = env.reserve_ok().lines[0]
    assert (line.reserve, line.liabilities, line.withdrawals_in_flight) == (1_000, 1_000, 0)
    env.ledger_ok()


def test_duplicates_and_contradictions_change_nothing(env: FundingEnv) -> None:
    user, card_id = env.customer()
    row = env.top_up(user, card_id, 10_000)
    assert env.deliver(callback(row, "succeeded")) is funding.Outcome.SUCCEEDED
    assert env.deliver(callback(row, "succeeded")) is funding.Outcome.DUPLICATE
    assert env.deliver(callback(row, "failed")) is funding.Outcome.CONFLICT  # late failure
    assert env.deliver(callback(row, "failed")) is funding.Outcome.DUPLICATE
    assert env.get(row.id).state == "succeeded"
    assert env.account(user) == (10_000, 10_000)
    with env.ctx() as ctx:
        anomalies = ctx.uow.funding.anomalies()
    assert [(a[0], a[1]) for a in anomalies] == [(row.bank_reference, "conflicting_answer")]
    assert [a[1] for a in env.audit("funding.anomaly")] == ["conflicting_answer"]
    env.reserve_ok()
    env.ledger_ok()


def test_a_failure_first_then_success_keeps_the_failure(env: FundingEnv) -> None:
    user, card_id = env.customer()
    row = env.top_up(user, card_id, 10_000)
    assert env.deliver(callback(row, "failed")) is funding.Outcome.FAILED
    assert env.deliver(callback(row, "succeeded")) is funding.Outcome.CONFLICT
    assert env.account(user) == (0, 0)
    env.reserve_ok()


def test_unknown_references_are_refused_for_a_retry_wrong_amounts_are_anomalies(
    env: FundingEnv,
) -> None:
    user, card_id = env.customer()
    row = env.top_up(user, card_id, 10_000)
    stray = BankCallback("bnk_nope", "fnd_nope", "succeeded", 1, "CNY")
    env.refused("bank_reference_unknown", funding.handle_callback, stray)  # maybe ours later
    env.refused("bank_reference_unknown", funding.handle_callback, stray)  # no anomaly, below
    assert env.deliver(callback(row, "succeeded", amount=99)) is funding.Outcome.MISMATCH
    assert env.get(row.id).state == "processing"
    with env.ctx() as ctx:
        kinds = [a[1] for a in ctx.uow.funding.anomalies()]
    assert kinds == ["amount_mismatch"]
    env.reserve_ok()


def test_a_wrong_amount_does_not_hide_the_banks_correct_answer(env: FundingEnv) -> None:
    """A garbled answer (wrong amount) is an anomaly only: the real answer with the same
    status, after it, still settles the funding and releases the hold."""
    user, card_id = env.customer()
    env.deliver(callback(env.top_up(user, card_id, 10_000), "succeeded"))
    row = env.withdraw(user, card_id, 7_000)
    assert env.account(user) == (10_000, 3_000)
    assert env.deliver(callback(row, "failed", amount=70)) is funding.Outcome.MISMATCH
    assert env.deliver(callback(row, "failed", amount=70)) is funding.Outcome.MISMATCH
    assert env.get(row.id).state == "processing"
    assert env.deliver(callback(row, "failed")) is funding.Outcome.FAILED
    assert env.deliver(callback(row, "failed")) is funding.Outcome.DUPLICATE
    assert env.get(row.id).state == "failed"
    assert env.account(user) == (10_000, 10_000)  # the hold is released
    with env.ctx() as ctx:
        kinds = [a[1] for a in ctx.uow.funding.anomalies()]
    assert kinds == ["amount_mismatch", "amount_mismatch"]
    env.reserve_ok()
    env.ledger_ok()


def test_a_retried_request_returns_the_first_and_cannot_double_post(env: FundingEnv) -> None:
    user, card_id = env.customer()
    row = env.top_up(user, card_id, 10_000, funding_id="fnd_client_1")
    again = env.top_up(user, card_id, 10_000, funding_id="fnd_client_1")
    assert (again.id, again.bank_reference) == (row.id, row.bank_reference)
    env.refused(
        "funding_id_reused",
        funding.request_top_up,
        env.bank,
        user,
        card_id,
        Money(1, "CNY"),
        funding_id="fnd_client_1",
    )
    env.deliver(callback(row, "succeeded"))
    platform = {c: wallets.platform_account_id(c, "CNY") for c in AccountCode}
    accounts = rules.Accounts(
        row.wallet_account_id,
        platform[AccountCode.RESERVE],
        platform[AccountCode.BANK_IN_FLIGHT],
        156,
    )
    with env.ctx() as ctx:  # the same settlement again: the ledger knows the ids
        replay = ledger.execute(ctx.uow, rules.settle(row.id, rules.Kind.TOP_UP, 10_000, accounts))
    assert replay == [Result.exists, Result.exists]
    assert env.account(user) == (10_000, 10_000)


def test_refusals(env: FundingEnv) -> None:
    user, card_id = env.customer()
    other, other_card = env.customer(1)
    env.refused(
        "card_not_found", funding.request_top_up, env.bank, user, other_card, Money(100, "CNY")
    )
    env.refused("invalid_amount", funding.request_top_up, env.bank, user, card_id, Money(0, "CNY"))
    env.refused(
        "insufficient_funds",
        funding.request_withdrawal,
        env.bank,
        other,
        other_card,
        Money(1, "CNY"),
    )
    assert env.bank.idle  # nothing was sent to the bank


REVIEW_WITHDRAWALS = """
name: review_withdrawals
version: 1
thresholds: {challenge: 40, review: 70, deny: 90}
rules:
  - name: big_withdrawal
    when: kind == 'withdrawal' and amount >= 1_000
    action: review
"""


def test_a_withdrawal_risk_wants_reviewed_is_refused_not_stepped_up(db: Database) -> None:
    from guardpay.domain.risk.rules import load_rule_set
    from guardpay.errors import PermissionDenied
    from guardpay.services.risk.engine import RiskEngine, RuleSource

    env = FundingEnv(db, FakeBank(seed=5, chaos=CALM))
    env.risk = RiskEngine(rules=RuleSource.fixed(load_rule_set(REVIEW_WITHDRAWALS)))
    user, card_id = env.customer()
    env.top_up(user, card_id, 10_000)
    env.bank.drain(env.deliver)
    before = env.account(user)
    with pytest.raises(PermissionDenied) as refused:
        env.withdraw(user, card_id, 5_000, step_up_challenge_id=None)
    assert refused.value.code == "review_required"
    assert env.account(user) == before  # nothing held, nothing sent to the bank
    assert env.withdraw(user, card_id, 999).state == "processing"  # under the rule
