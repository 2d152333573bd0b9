"""`ledger verify` on both backends: clean after real work, and it notices tampering."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Connection, text

from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import (
    NANOS_PER_SECOND,
    AccountFlags,
    AccountFlagsChange,
    Event,
    PendingStatus,
    TransferFlags,
)
from guardpay.domain.ledger.results import Result
from guardpay.services.ledger.books import Clock, VerifyReport, execute, verify
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only, unit_of_work
from tests.factories import CNY, USD, account, post, transfer, void, wallet

BANK, FEES, BANK_USD = 1, 2, 3
ALICE, BOB, CAROL, DAVE, ALICE_USD, EVE = 10, 11, 12, 13, 20, 99
SECOND = NANOS_PER_SECOND
T0 = 1_700_000_000 * SECOND
OK = Result.ok
PENDING, LINKED = TransferFlags.PENDING, TransferFlags.LINKED
#: The holds the workload leaves behind, by what happened to them.
POSTED_HOLD, VOIDED_HOLD, OPEN_HOLD, EXPIRED_HOLD = 30, 31, 32, 33


def at(ns: int) -> Clock:
    return lambda: ns


def mixed_workload(db: Database) -> None:
    """A day of business: every kind of event, successes and refusals, on two ledgers."""
    voided = Result.pending_transfer_already_voided
    steps: list[tuple[int, list[Event], list[Result]]] = [
        (
            T0,
            [
                account(BANK, code=AccountCode.RESERVE),
                wallet(FEES),
                account(BANK_USD, ledger=USD, code=AccountCode.RESERVE),
                wallet(ALICE),
                wallet(BOB),
                wallet(CAROL),
                wallet(DAVE),
                wallet(ALICE_USD, ledger=USD),
            ],
            [OK] * 8,
        ),
        (
            T0 + SECOND,
            [
                transfer(1, BANK, ALICE, 100_000, code=TransferCode.TOP_UP),
                transfer(2, BANK, BOB, 50_000, code=TransferCode.TOP_UP),
                transfer(3, BANK_USD, ALICE_USD, 7_000, ledger=USD, code=TransferCode.TOP_UP),
                transfer(1, BANK, ALICE, 100_000, code=TransferCode.TOP_UP),  # a retry
                transfer(4, ALICE, BOB, 12_000),
                transfer(5, CAROL, BOB, 1),  # Carol has nothing
            ],
            [OK, OK, OK, Result.exists, OK, Result.exceeds_credits],
        ),
        (
            T0 + 2 * SECOND,
            [
                transfer(POSTED_HOLD, ALICE, CAROL, 8_000, flags=PENDING),
                transfer(VOIDED_HOLD, BOB, CAROL, 5_000, flags=PENDING),
                transfer(OPEN_HOLD, BOB, ALICE, 3_000, flags=PENDING, timeout=3_600),
                transfer(EXPIRED_HOLD, ALICE, DAVE, 2_500, flags=PENDING, timeout=5),
            ],
            [OK] * 4,
        ),
        (
            T0 + 3 * SECOND,
            [
                post(40, POSTED_HOLD, 6_000),
                void(41, VOIDED_HOLD),
                post(42, VOIDED_HOLD),  # already voided
                # a payment and its fee, all or nothing
                transfer(43, ALICE, CAROL, 1_000, flags=LINKED, code=TransferCode.MERCHANT_PAYMENT),
                transfer(44, ALICE, FEES, 6, code=TransferCode.FEE),
                # a chain that fails on its second leg leaves nothing behind
                transfer(45, BOB, CAROL, 100, flags=LINKED),
                transfer(46, BOB, FEES, 10_000_000, code=TransferCode.FEE),
                # sweep what Carol can spend, however much that is
                transfer(47, CAROL, BOB, 10**12, flags=TransferFlags.BALANCING_DEBIT),
            ],
            [OK, OK, voided, OK, OK, Result.linked_event_failed, Result.exceeds_credits, OK],
        ),
        (
            T0 + 4 * SECOND,
            [
                AccountFlagsChange(BOB, set_flags=AccountFlags.DEBITS_FROZEN),
                transfer(50, BOB, ALICE, 100),
                transfer(51, ALICE, BOB, 100),  # Bob may still be paid
                AccountFlagsChange(BOB, clear_flags=AccountFlags.DEBITS_FROZEN),
                transfer(52, BOB, ALICE, 100),
                AccountFlagsChange(CAROL, set_flags=AccountFlags.CLOSED),  # 0 balance after sweep
                transfer(53, ALICE, CAROL, 1),
            ],
            [OK, Result.debit_account_frozen, OK, OK, OK, OK, Result.credit_account_closed],
        ),
        # Much later: the 5-second hold has expired and is released by this batch.
        (
            T0 + 60 * SECOND,
            [transfer(60, BANK, DAVE, 1), post(61, EXPIRED_HOLD)],
            [OK, Result.pending_transfer_expired],
        ),
    ]
    for now, events, expected in steps:
        with unit_of_work(db) as uow:
            results = execute(uow, events, clock=at(now))
        assert results == expected, now


def report(db: Database) -> VerifyReport:
    with read_only(db) as uow:
        return verify(uow)


def test_verify_is_clean_after_a_mixed_workload(db: Database) -> None:
    mixed_workload(db)
    clean = report(db)
    assert clean.problems == []
    assert clean.ok
    # 8 accounts; transfers 1-4, 4 holds, 40, 41, 43, 44, 47, 51, 52, 60
    assert (clean.accounts, clean.transfers) == (8, 16)
    with read_only(db) as uow:
        rows = uow.conn.execute(text("SELECT transfer_id, status FROM ledger_pending")).all()
        statuses = {transfer_id: status for transfer_id, status in rows}
        carol = uow.ledger_queries.account(CAROL)
    assert statuses == {
        POSTED_HOLD: PendingStatus.POSTED,
        VOIDED_HOLD: PendingStatus.VOIDED,
        OPEN_HOLD: PendingStatus.PENDING,
        EXPIRED_HOLD: PendingStatus.EXPIRED,
    }
    assert carol is not None
    assert carol.flags & AccountFlags.CLOSED
    assert carol.balance == 0


Tamper = Callable[[Connection], None]


def _sql(*statements: str) -> Tamper:
    def run(conn: Connection) -> None:
        for statement in statements:
            conn.execute(text(statement))

    return run


def _drop_all_guards(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.execute(text("DROP TRIGGER ledger_transfers_no_update"))
        conn.execute(text("DROP TRIGGER ledger_transfers_no_delete"))
    else:
        conn.execute(text("DROP TRIGGER ledger_transfers_immutable ON ledger_transfers"))


def _drop_the_delete_guard(conn: Connection) -> None:
    """Transfers may still not be updated, but they may now be deleted."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("DROP TRIGGER ledger_transfers_no_delete"))
    else:
        conn.execute(text("DROP TRIGGER ledger_transfers_immutable ON ledger_transfers"))
        conn.execute(
            text(
                "CREATE TRIGGER ledger_transfers_immutable BEFORE UPDATE ON ledger_transfers "
                "FOR EACH ROW EXECUTE FUNCTION ledger_transfers_immutable()"
            )
        )


def _status(transfer_id: int, status: int) -> Tamper:
    return _sql(f"UPDATE ledger_pending SET status = {status} WHERE transfer_id = {transfer_id}")


TAMPERING: dict[str, tuple[Tamper, set[str], set[int | None]]] = {
    # name: (what is done, the checks that must fail, the accounts they name)
    "a counter changed on one side": (
        _sql(f"UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = {ALICE}"),
        {"replay", "balanced"},
        {ALICE, None},
    ),
    "counters changed on both sides, still balanced": (
        _sql(
            f"UPDATE ledger_accounts SET credits_posted = credits_posted + 500 WHERE id = {ALICE}",
            f"UPDATE ledger_accounts SET debits_posted = debits_posted + 500 WHERE id = {BANK}",
        ),
        {"replay"},
        {ALICE, BANK},
    ),
    "a pending counter changed": (
        _sql(f"UPDATE ledger_accounts SET debits_pending = 0 WHERE id = {BOB}"),
        {"replay", "balanced"},
        {BOB, None},
    ),
    "a transfer naming a missing account": (
        _sql(
            "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, "
            "pending_id, user_data_64, user_data_32, timeout, ledger, code, flags, timestamp) "
            f"VALUES (900, {ALICE}, {EVE}, 500, 0, 0, 0, 0, {CNY}, 3, 0, {T0 + 50 * SECOND})"
        ),
        {"replay"},
        {ALICE, EVE},
    ),
    "the immutability triggers dropped": (_drop_all_guards, {"immutable"}, {None}),
    "the delete guard dropped": (_drop_the_delete_guard, {"immutable"}, {None}),
    "an unbalanced account inserted": (
        _sql(
            "INSERT INTO ledger_accounts (id, ledger, code, flags, user_data_64, user_data_32, "
            "debits_pending, debits_posted, credits_pending, credits_posted, timestamp) "
            f"VALUES ({EVE}, {CNY}, 100, 10, 0, 0, 0, 0, 0, 50000, {T0 + 999 * SECOND})"
        ),
        {"balanced", "replay"},
        {EVE, None},
    ),
    "an open hold marked posted": (
        _status(OPEN_HOLD, PendingStatus.POSTED),
        {"holds", "replay"},
        {None, BOB, ALICE},
    ),
    "a voided hold reopened": (
        _status(VOIDED_HOLD, PendingStatus.PENDING),
        {"holds", "replay"},
        {None, BOB, CAROL},
    ),
    "a posted hold marked voided": (
        _status(POSTED_HOLD, PendingStatus.VOIDED),
        {"holds"},
        {None},
    ),
    "an open hold marked expired without releasing it": (
        _status(OPEN_HOLD, PendingStatus.EXPIRED),
        {"replay"},
        {BOB, ALICE},
    ),
}


@pytest.mark.parametrize("name", list(TAMPERING))
def test_verify_notices_tampering(db: Database, name: str) -> None:
    tamper, checks, account_ids = TAMPERING[name]
    mixed_workload(db)
    assert report(db).ok
    with db.begin() as conn:
        tamper(conn)

    tampered = report(db)
    assert not tampered.ok
    assert {p.check for p in tampered.problems} == checks, tampered.problems
    assert {p.account_id for p in tampered.problems} == account_ids, tampered.problems


def test_verify_notices_a_transfer_newer_than_the_clock(db: Database) -> None:
    mixed_workload(db)
    with db.begin() as conn:
        conn.execute(text("UPDATE ledger_clock SET last_timestamp = 5 WHERE id = 1"))
    assert {p.check for p in report(db).problems} == {"clock"}
