"""`bench api --prefill` (bench/prefill.py, services/payments/past.py): the books hold N
past payments, each with its ledger transfer, payment row, decision and audit entry; the
ledger and the audit chain verify; balances are what the transfers say; nothing is dated
today, so today's limits count only the measured payments. On both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from guardpay.bench import api as api_bench
from guardpay.bench import prefill as prefill_module
from guardpay.bench.prefill import prefill
from guardpay.security.keys import Keyring
from guardpay.services.ledger.books import verify
from guardpay.services.platform import audit
from guardpay.storage import ledger_parts
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import UnitOfWork, read_only

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
PAYMENTS = 25


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 10 and ledger parts of 2 transfers: the seed's top-ups fill part 0, so
    the prefill's first ledger batch opens another, however the writer groups batches."""
    monkeypatch.setattr(prefill_module, "CHUNK", 10)
    monkeypatch.setattr(ledger_parts, "TRANSFERS_PER_PART", 2)


def rows(db: Database, sql: str) -> list[tuple[object, ...]]:
    with db.read() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_the_books_hold_every_payment_with_what_it_leaves(db: Database) -> None:
    keyring = Keyring.generate()
    senders, receivers = api_bench.seed(db, keyring, payers=3, payees=2)
    payers = [s.user_id for s in senders]
    with read_only(db) as uow:
        entries_before = audit.verify(uow).entries
        transfers_before = verify(uow).transfers

    done = prefill(db, keyring, payers, receivers, PAYMENTS, now=NOW)

    assert done.payments == PAYMENTS
    paid = rows(db, "SELECT id, payer_id, payee_id, amount, status, created_at FROM payments")
    assert len(paid) == PAYMENTS
    assert {r[4] for r in paid} == {"succeeded"}
    assert {r[1] for r in paid} == set(payers)
    assert {r[2] for r in paid} <= set(receivers)
    days = {_day(r[5]) for r in paid}
    assert min(days) >= (NOW - timedelta(days=30)).date()
    assert max(days) < NOW.date()  # nothing today: today's limits are the bench's own
    decided = rows(db, "SELECT subject_id, action, rule_set FROM risk_decisions")
    assert sorted((r[0], r[1]) for r in decided) == sorted((r[0], "allow") for r in paid)
    with read_only(db) as uow:
        chain = audit.verify(uow)
        books = verify(uow)
        parts = uow.ledger.parts.all()
        received = {payee: balance(uow, payee) for payee in receivers}
    assert chain.ok, chain.problem
    assert chain.entries == entries_before + PAYMENTS
    assert books.ok, books.problems
    assert books.transfers == transfers_before + len(payers) + PAYMENTS  # top-ups, payments
    assert len(parts) >= 2
    for payee in receivers:
        assert received[payee] == sum(int(str(r[3])) for r in paid if r[2] == payee)


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    return datetime.fromisoformat(str(value)).date()


def balance(uow: UnitOfWork, user_id: str) -> int:
    """What the user's CNY wallet holds, from the ledger."""
    wallet = uow.wallets.find("user", user_id, "CNY", "customer_wallet")
    assert wallet is not None
    account = uow.ledger_queries.account(wallet)
    assert account is not None
    return account.credits_posted - account.debits_posted


def test_payees_are_paid_and_payers_keep_what_they_were_seeded_with(db: Database) -> None:
    keyring = Keyring.generate()
    senders, receivers = api_bench.seed(db, keyring, payers=2, payees=2)

    prefill(db, keyring, [s.user_id for s in senders], receivers, 12, now=NOW)

    paid = dict(rows(db, "SELECT payer_id, SUM(amount) FROM payments GROUP BY payer_id"))
    with read_only(db) as uow:
        left = {s.user_id: balance(uow, s.user_id) for s in senders}
    # each topped up with the most it could pay (99 fen for each of its 6), less what it paid
    assert left == {
        s.user_id: api_bench.FUNDS + 99 * 6 - int(str(paid[s.user_id])) for s in senders
    }
