"""Chaos: many top-ups and withdrawals while the fake bank answers late, twice, out of
order, with failures and with contradictions. Whatever the order, the end state must
match the bank's first final answer, the reserve must reconcile, the ledger must verify,
no wallet may go negative, and the bank's statement must match our records."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from guardpay.adapters.bank import BankCallback, Chaos, FakeBank, read_statement
from guardpay.errors import GuardpayError, InvalidRequest
from guardpay.services.ledger import reconcile
from guardpay.services.payments import funding
from guardpay.storage.engine.db import Database
from tests.services.payments.test_funding import FundingEnv
from tests.services.risk.fixtures import quiet_risk

WILD = Chaos(failure=0.25, duplicate=0.4, late=0.3, contradiction=0.25)


@pytest.mark.parametrize("seed", [7, 2026])
def test_the_end_state_is_right_whatever_the_bank_does(
    db: Database, seed: int, tmp_path: Path
) -> None:
    env = FundingEnv(db, FakeBank(seed=seed, chaos=WILD))
    env.risk = quiet_risk()  # the bank's chaos, not card testing (risk_fixtures.py)
    customers = [env.customer(0), env.customer(1)]
    rng = random.Random(seed)
    codes: list[str] = []  # refused withdrawals: only for want of money
    for _ in range(40):
        user, card_id = rng.choice(customers)
        amount = rng.randint(1, 50) * 100
        if rng.random() < 0.55:
            env.top_up(user, card_id, amount)
        else:
            try:
                env.withdraw(user, card_id, amount)
            except InvalidRequest as exc:
                codes.append(exc.code)
        env.bank.pump(env.deliver, ticks=rng.randint(0, 2))
        env.reserve_ok()  # holds at every step, not only at the end
    env.bank.drain(env.deliver)
    assert set(codes) <= {"insufficient_funds"}

    with env.ctx() as ctx:
        rows = ctx.uow.funding.all()
        anomalies = ctx.uow.funding.anomalies()
    assert all(r.state == env.bank.final_status(r.bank_reference or "") for r in rows)
    assert {r.state for r in rows} == {"succeeded", "failed"}
    assert {a[1] for a in anomalies} <= {"conflicting_answer"}
    assert anomalies, "the seed should produce contradictions"
    for user, _ in customers:
        balance, available = env.account(user)
        assert balance >= 0
        assert available == balance
    line = env.reserve_ok().lines[0]
    assert line.reserve == sum(env.account(u)[0] for u, _ in customers)
    env.ledger_ok()
    statement = read_statement(env.bank.write_statement(tmp_path / "statement.csv"))
    with env.ctx() as ctx:
        report = reconcile.statement(ctx.uow, statement)
    assert report.ok, report.as_dict()
    assert report.matched == len(rows)


def test_concurrent_duplicate_deliveries_settle_once(db: Database) -> None:
    """Every callback delivered four times at once from four threads: the row lock and the
    (reference, status) key let exactly one of each through."""
    no_contradictions = Chaos(failure=0.3, duplicate=0.5, late=0.3, contradiction=0.0)
    env = FundingEnv(db, FakeBank(seed=11, chaos=no_contradictions))
    env.risk = quiet_risk()
    user, card_id = env.customer()
    for n in range(1, 9):
        env.top_up(user, card_id, n * 1_000)
    callbacks: list[BankCallback] = []
    env.bank.drain(callbacks.append)

    def deliver(cb: BankCallback) -> funding.Outcome:
        for _ in range(20):  # a serialisation failure is retried, as the bank would
            try:
                return env.deliver(cb)
            except GuardpayError:
                raise
            except Exception:  # a lost race on the unique key: try again
                continue
        raise AssertionError("delivery never succeeded")

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(deliver, [cb for cb in callbacks for _ in range(4)]))
    applied = [o for o in outcomes if o in (funding.Outcome.SUCCEEDED, funding.Outcome.FAILED)]
    assert len(applied) == 8
    with env.ctx() as ctx:
        rows = ctx.uow.funding.all()
    assert all(r.state == env.bank.final_status(r.bank_reference or "") for r in rows)
    succeeded = sum(r.amount for r in rows if r.state == "succeeded")
    assert env.account(user) == (succeeded, succeeded)
    env.reserve_ok()
    env.ledger_ok()
