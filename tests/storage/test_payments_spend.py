"""What a payer has paid, as the limits count it: read for a batch of payers at once
(`read_spend_ahead`, one statement) it is what `spend_totals` reads for each alone, and
a payment written forgets the sums that count its payer, and only those."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from guardpay.storage.engine.db import Database
from guardpay.storage.payments import PaymentRow
from guardpay.storage.uow import UnitOfWork, unit_of_work

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
YEAR, DAY = datetime(2025, 12, 31, 16, 0, tzinfo=UTC), datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
STATIC, DYNAMIC = ["qr_static"], ["qr_order", "payment_code"]
_IDS = count()


def paid(
    payer: str,
    amount: int,
    *,
    kind: str = "p2p",
    factors: int = 1,
    status: str = "succeeded",
    days_ago: int = 0,
) -> PaymentRow:
    at = NOW - timedelta(days=days_ago)
    return PaymentRow(
        f"pay_{next(_IDS)}",
        kind,
        payer,
        "user",
        "usr_payee",
        None,
        amount,
        "CNY",
        0,
        status,
        None,
        factors,
        None,
        None,
        at,
        at,
    )


#: one person with two accounts (a and b), and someone else (c)
PEOPLE = {"usr_a": ["usr_a", "usr_b"], "usr_b": ["usr_a", "usr_b"], "usr_c": ["usr_c"]}
HISTORY = [
    paid("usr_a", 100_00),
    paid("usr_a", 20_00, kind="qr_static"),
    paid("usr_a", 7_00, kind="qr_order", factors=1),
    paid("usr_a", 9_00, kind="payment_code", factors=2),
    paid("usr_a", 50_00, days_ago=400),  # last year: in the total only
    paid("usr_a", 30_00, kind="qr_static", days_ago=2),  # this year, not today
    paid("usr_b", 11_00, kind="qr_static"),
    paid("usr_b", 99_00, status="failed"),  # never counted
    paid("usr_c", 3_00, kind="qr_order", factors=2),
]


def _alone(uow: UnitOfWork, user: str) -> tuple[int, int, int, int, int]:
    fresh = UnitOfWork(uow.conn)  # its own memo: the sums read by the statement for one
    return fresh.payments.spend_totals(PEOPLE[user], user, YEAR, DAY, STATIC, DYNAMIC)


def _remembered(uow: UnitOfWork, user: str) -> tuple[int, int, int, int, int]:
    return uow.payments.spend_totals(PEOPLE[user], user, YEAR, DAY, STATIC, DYNAMIC)


def test_sums_read_ahead_are_the_sums_read_alone(db: Database) -> None:
    with unit_of_work(db) as uow:
        for row in HISTORY:
            uow.payments.insert_payment(row)
        uow.payments.read_spend_ahead(PEOPLE, YEAR, DAY, STATIC, DYNAMIC)
        for user in PEOPLE:
            assert _remembered(uow, user) == _alone(uow, user)
        # a (total ever, this year, static today, weak dynamic today, all dynamic today)
        assert _remembered(uow, "usr_a") == (227_00, 177_00, 20_00, 7_00, 16_00)
        assert _remembered(uow, "usr_b") == (227_00, 177_00, 11_00, 0, 0)


def test_a_payment_written_forgets_the_sums_that_count_its_payer(db: Database) -> None:
    with unit_of_work(db) as uow:
        for row in HISTORY:
            uow.payments.insert_payment(row)
        uow.payments.read_spend_ahead(PEOPLE, YEAR, DAY, STATIC, DYNAMIC)
        uow.conn.exec_driver_sql("DELETE FROM payments WHERE payer_id = 'usr_c'")
        uow.payments.insert_payment(paid("usr_b", 5_00, kind="qr_static"))
        assert _remembered(uow, "usr_a")[0] == 232_00  # b is the same person: read again
        assert _remembered(uow, "usr_b")[2] == 16_00
        assert _remembered(uow, "usr_c")[0] == 3_00  # not b's: still the sums read ahead
