"""Deferred accounts (storage/ledger.py): a writer may leave the rows of the accounts its
transfers moved behind, since each transfer carries its accounts' balances; every read
still gets the balances as of now, `ledger verify` and the reserve totals still hold, and
a fold brings the rows up to date. On both backends."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from guardpay.clock import utc_now
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.engine import apply_batch
from guardpay.domain.ledger.model import Account, AccountFlags, AccountFlagsChange, Event
from guardpay.domain.ledger.results import Result
from guardpay.security.keys import Keyring
from guardpay.services.jobs import scheduler
from guardpay.services.ledger.books import execute, verify
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import alembic_config, upgrade
from guardpay.storage.uow import read_only, unit_of_work
from tests.factories import account, transfer, wallet

BANK, ALICE, BOB = 1, 10, 11
OK = Result.ok


def open_books(db: Database) -> None:
    """The bank paid Alice 1,000 and Bob 500, rows written as they moved."""
    with unit_of_work(db) as uow:
        opened = execute(
            uow,
            [
                account(BANK, code=AccountCode.RESERVE),
                wallet(ALICE),
                wallet(BOB),
                transfer(1, BANK, ALICE, 1_000),
                transfer(2, BANK, BOB, 500),
            ],
        )
    assert opened == [OK] * 5


def write_deferred(db: Database, events: list[Event]) -> list[Result]:
    """One batch written as the bulk writer writes it: account rows left behind."""
    with unit_of_work(db) as uow:
        repo = uow.ledger
        last = repo.lock_clock()
        view = repo.read_view([events], last + 1, last)
        outcome = apply_batch(view, [events])
        repo.write(outcome, last + 1, defer=True)
    return outcome.results[0]


def stored_row(db: Database, account_id: int) -> tuple[int, int, int]:
    """The row as it lies in the table: flags, debits posted, credits posted."""
    with db.read() as conn:
        row = conn.execute(
            text("SELECT flags, debits_posted, credits_posted FROM ledger_accounts WHERE id = :i"),
            {"i": account_id},
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


def posted(found: Account | None) -> tuple[int, int]:
    assert found is not None
    return found.debits_posted, found.credits_posted


def test_rows_left_behind_still_read_as_of_now_everywhere(db: Database) -> None:
    open_books(db)

    assert write_deferred(db, [transfer(3, ALICE, BOB, 300), transfer(4, BOB, ALICE, 100)]) == [
        OK,
        OK,
    ]

    assert stored_row(db, ALICE)[1:] == (0, 1_000)  # the row lags ...
    with read_only(db) as uow:  # ... every read does not
        assert uow.ledger.lag() > 0
        assert posted(uow.ledger_queries.account(ALICE)) == (300, 1_100)
        assert posted(uow.ledger.accounts_by_id([BOB])[BOB]) == (100, 800)
        page = {a.id: a for a in uow.ledger_queries.accounts().items}
        every = {a.id: a for a in uow.ledger_queries.all_accounts()}
        totals = {t.code: t for t in uow.funding.account_totals()}
        report = verify(uow)
    assert posted(page[ALICE]) == posted(every[ALICE]) == (300, 1_100)
    assert posted(page[BOB]) == posted(every[BOB]) == (100, 800)
    wallets = totals[AccountCode.CUSTOMER_WALLET]
    assert (wallets.debits_posted, wallets.credits_posted) == (400, 1_900)
    assert report.ok, report.problems


def test_a_payment_after_a_deferred_batch_sees_its_balance_and_writes_its_rows(
    db: Database,
) -> None:
    open_books(db)
    assert write_deferred(db, [transfer(3, ALICE, BOB, 900)]) == [OK]

    with unit_of_work(db) as uow:  # the API's way: rows written in place
        # Alice has 100 left, not the 1,000 her row still says
        paid = execute(uow, [transfer(4, ALICE, BOB, 101), transfer(5, ALICE, BOB, 100)])

    assert paid == [Result.exceeds_credits, OK]
    assert stored_row(db, ALICE)[1:] == (1_000, 1_000)
    with read_only(db) as uow:
        assert posted(uow.ledger_queries.account(ALICE)) == (1_000, 1_000)
        assert posted(uow.ledger_queries.account(BOB)) == (0, 1_500)
        assert verify(uow).ok


def test_a_fold_brings_every_row_up_to_date_and_clears_the_marker(db: Database) -> None:
    open_books(db)
    write_deferred(db, [transfer(3, ALICE, BOB, 300)])
    write_deferred(db, [transfer(4, BOB, ALICE, 50)])

    with unit_of_work(db) as uow:
        uow.ledger.lock_clock()
        folded = uow.ledger.fold()

    assert folded == 2
    assert stored_row(db, ALICE)[1:] == (300, 1_050)
    assert stored_row(db, BOB)[1:] == (50, 800)
    with read_only(db) as uow:
        assert uow.ledger.lag() == 0
        assert verify(uow).ok


def test_a_flag_change_in_a_deferred_batch_is_written_at_once(db: Database) -> None:
    open_books(db)
    freeze = AccountFlagsChange(ALICE, set_flags=AccountFlags.DEBITS_FROZEN)

    assert write_deferred(db, [transfer(3, ALICE, BOB, 300), freeze]) == [OK, OK]

    flags, debits, credits = stored_row(db, ALICE)
    assert flags & AccountFlags.DEBITS_FROZEN
    assert (debits, credits) == (300, 1_000)
    with unit_of_work(db) as uow:
        assert execute(uow, [transfer(4, ALICE, BOB, 1)]) == [Result.debit_account_frozen]


def test_the_ledger_fold_job_folds_what_lags_and_then_does_nothing(db: Database) -> None:
    open_books(db)
    write_deferred(db, [transfer(3, ALICE, BOB, 300)])
    job = scheduler.by_name("ledger_fold")

    first = scheduler.run_job(db, Keyring.generate(), utc_now, job)
    again = scheduler.run_job(db, Keyring.generate(), utc_now, job)

    assert (first, again) == (2, 0)
    assert stored_row(db, ALICE)[1:] == (300, 1_000)


def test_a_downgrade_folds_what_lags_before_it_drops_the_balances(database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade(db)
        open_books(db)
        write_deferred(db, [transfer(3, ALICE, BOB, 300)])

        command.downgrade(alembic_config(db), "0014_transfers_by_time")

        assert stored_row(db, ALICE)[1:] == (300, 1_000)
        assert stored_row(db, BOB)[1:] == (0, 800)
    finally:
        db.dispose()
