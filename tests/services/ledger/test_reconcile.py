"""Statement reconciliation finds every kind of break; the reserve check finds a leak."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from guardpay.adapters.bank import FakeBank, StatementRow, read_statement, write_statement
from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import Transfer
from guardpay.errors import InvalidRequest
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import reconcile, wallets
from guardpay.storage.engine.db import Database
from tests.services.payments.test_funding import CALM, FundingEnv


@pytest.fixture
def env(db: Database) -> FundingEnv:
    return FundingEnv(db, FakeBank(seed=3, chaos=CALM))


def settled_world(env: FundingEnv) -> list[StatementRow]:
    """Three fundings, all answered: two top-ups and a withdrawal."""
    user, card_id = env.customer()
    env.top_up(user, card_id, 10_000)
    env.top_up(user, card_id, 2_000)
    env.bank.drain(env.deliver)
    env.withdraw(user, card_id, 3_000)
    env.bank.drain(env.deliver)
    return env.bank.statement()


def breaks(env: FundingEnv, rows: list[StatementRow]) -> list[tuple[str, str]]:
    with env.ctx() as ctx:
        report = reconcile.statement(ctx.uow, rows)
    return sorted((b.kind, b.bank_reference) for b in report.breaks)


def test_a_clean_statement_matches(env: FundingEnv) -> None:
    rows = settled_world(env)
    assert [r.direction for r in rows] == ["in", "in", "out"]
    assert breaks(env, rows) == []


def test_every_kind_of_break_is_reported(env: FundingEnv) -> None:
    a, b, c = settled_world(env)
    ghost = replace(a, bank_reference="bnk_ghost")
    rows = [replace(a, amount=a.amount + 1), b, b, replace(c, status="failed"), ghost]
    assert breaks(env, rows) == sorted(
        [
            ("amount_mismatch", a.bank_reference),
            ("duplicate", b.bank_reference),
            ("status_mismatch", c.bank_reference),
            ("missing_on_platform", "bnk_ghost"),
        ]
    )
    assert breaks(env, [a, b]) == [("missing_at_bank", c.bank_reference)]


def test_a_funding_still_processing_is_a_status_break(env: FundingEnv) -> None:
    user, card_id = env.customer()
    row = env.top_up(user, card_id, 10_000)  # the bank has answered, we have not heard yet
    assert breaks(env, env.bank.statement()) == [("status_mismatch", row.bank_reference or "")]


def test_statement_csv_round_trips_and_bad_files_are_refused(
    env: FundingEnv, tmp_path: Path
) -> None:
    rows = settled_world(env)
    path = write_statement(tmp_path / "s.csv", rows)
    assert read_statement(path) == rows
    bad = tmp_path / "bad.csv"
    bad.write_text(path.read_text().replace(",10000,", ",100.00,"))
    with pytest.raises(InvalidRequest) as refused:
        read_statement(bad)
    assert refused.value.code == "invalid_statement"


def test_money_created_outside_a_funding_breaks_the_reserve(env: FundingEnv) -> None:
    user, card_id = env.customer()
    env.top_up(user, card_id, 10_000)
    env.bank.drain(env.deliver)
    env.reserve_ok()
    with env.ctx() as ctx:  # someone books a top-up into the suspense account by hand
        in_flight = wallets.platform_account_id(AccountCode.BANK_IN_FLIGHT, "CNY")
        wallet = wallets.wallet(ctx, "user", user, "CNY")
        ledger.execute(
            ctx.uow,
            [Transfer(99, in_flight, wallet, 500, ledger=156, code=TransferCode.ADJUSTMENT)],
        )
        report = reconcile.reserve(ctx.uow)
    assert not report.ok
    [line] = report.lines
    assert (line.reserve, line.liabilities, line.in_flight_posted) == (10_000, 10_500, -500)
    assert any("suspense not clear" in b for b in line.breaks)
