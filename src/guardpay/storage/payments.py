"""Payments tables: payments, order QR codes, issued payment codes and device secrets.

The ledger holds the money; these rows hold what the ledger does not know: who paid whom
through which channel, the state machine's status, the single-use records of order codes
and payment codes, and the sums the daily and class limits count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    TextClause,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from guardpay.storage.engine.db import as_utc as _utc
from guardpay.storage.engine.memo import RowMemo
from guardpay.storage.engine.prepared import StringList, insert_into, member, once, run, select_by
from guardpay.storage.schema import metadata

R = TypeVar("R")


@lru_cache(maxsize=8)
def _spend(dialect: str, by_payer: bool = False) -> TextClause:
    """One statement text per dialect for every payment's limits (`spend_totals`), or
    the same sums with a row per payer that has paid (`by_payer`, `read_spend_ahead`)."""
    mine = "" if by_payer else "payer_id = :me AND "

    def today(kinds: str) -> str:
        return f"{mine}created_at >= :day AND {member('kind', kinds, dialect)}"

    statement = text(
        f"SELECT {'payer_id, ' if by_payer else ''}COALESCE(SUM(amount), 0), "
        "COALESCE(SUM(CASE WHEN created_at >= :year THEN amount ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN {today('static')} THEN amount ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN {today('dynamic')} AND factors <= 1 "
        "THEN amount ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN {today('dynamic')} THEN amount ELSE 0 END), 0) "
        f"FROM payments WHERE {member('payer_id', 'payers', dialect)} "
        f"AND status IN ('succeeded', 'processing'){' GROUP BY payer_id' if by_payer else ''}"
    ).bindparams(
        bindparam("payers", type_=StringList()),
        bindparam("static", type_=StringList()),
        bindparam("dynamic", type_=StringList()),
        bindparam("year", type_=DateTime(timezone=True)),
        bindparam("day", type_=DateTime(timezone=True)),
    )
    return once(statement)


@dataclass(frozen=True)
class _Spent:
    """A payer's limit sums as remembered in the unit's memo: whose payments they count
    (any payment of these accounts forgets them), for which bounds, and the sums."""

    accounts: frozenset[str]
    bounds: tuple[object, ...]
    totals: tuple[int, int, int, int, int]


def _at(name: str, nullable: bool = False) -> Column[datetime]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


payments = Table(
    "payments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("payer_id", String(40), nullable=False),
    Column("payee_kind", String(16), nullable=False),
    Column("payee_id", String(40), nullable=False),
    Column("descriptor", String(200), nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("failure_code", String(64), nullable=True),
    Column("factors", Integer, nullable=False),
    Column("order_id", String(40), nullable=True),
    Column("challenge_id", String(40), nullable=True),
    _at("created_at"),
    _at("updated_at"),
    Column("device_id", String(40), nullable=True),  # the payer's session's (0019)
    Index("ix_payments_payer", "payer_id", "created_at", "id"),
    Index("ix_payments_payee", "payee_id", "created_at", "id"),  # a merchant's received (0023)
    Index("ix_payments_created", "created_at"),  # the console's last hour (0023)
)

payment_orders = Table(
    "payment_orders",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("merchant_id", String(40), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("nonce", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open | paid
    Column("payment_id", String(40), nullable=True),
    _at("expires_at"),
    _at("created_at"),
)

payment_codes = Table(
    "payment_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("user_id", String(40), nullable=False),
    Column("device_id", String(40), nullable=False),
    Column("factors", Integer, nullable=False),
    _at("issued_at"),
    _at("used_at", nullable=True),
    Column("payment_id", String(40), nullable=True),
    _at("shown_at", nullable=True),
    _at("retired_at", nullable=True),
)

payment_code_secrets = Table(
    "payment_code_secrets",
    metadata,
    Column("user_id", String(40), primary_key=True),
    Column("device_id", String(40), primary_key=True),
    Column("secret_enc", Text, nullable=False),
    _at("created_at"),
)


@dataclass(frozen=True)
class PaymentRow:
    id: str
    kind: str
    payer_id: str
    payee_kind: str  # user | merchant
    payee_id: str
    descriptor: str | None
    amount: int
    currency: str
    fee: int
    status: str
    failure_code: str | None
    factors: int
    order_id: str | None
    challenge_id: str | None
    created_at: datetime
    updated_at: datetime
    device_id: str | None = None  # the device the payer's session was bound to


@dataclass(frozen=True)
class OrderRow:
    id: str
    merchant_id: str
    amount: int
    currency: str
    nonce: str
    payload: str
    status: str
    payment_id: str | None
    expires_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class CodeRow:
    code_hash: str
    user_id: str
    device_id: str
    factors: int
    issued_at: datetime
    used_at: datetime | None
    payment_id: str | None
    #: When the payer last showed their factors: a code refreshed on screen keeps the
    #: first one's (None on codes issued before migration 0024: their `issued_at`).
    shown_at: datetime | None = None
    retired_at: datetime | None = None  # replaced by a fresh code before its time

    @property
    def authorised_at(self) -> datetime:
        return self.shown_at or self.issued_at


def _row(cls: type[R], mapping: Mapping[Any, Any]) -> R:
    return cls(**{k: _utc(v) for k, v in mapping.items()})


class PaymentRepository:
    """The payments tables, inside a transaction the caller owns."""

    def __init__(self, conn: Connection, memo: RowMemo | None = None) -> None:
        self.conn = conn
        self.memo = memo or RowMemo()

    def _one(
        self, cls: type[R], table: Table, where: dict[str, Any], lock: bool = False
    ) -> R | None:
        """The row whose columns equal `where`, by a statement built once per shape."""
        row = run(self.conn, select_by(table, tuple(where), lock), where).mappings().first()
        return None if row is None else _row(cls, row)

    # -- payments ----------------------------------------------------------------------
    def insert_payment(self, row: PaymentRow) -> None:
        self._spent_by(row.payer_id)
        run(self.conn, insert_into(payments), row.__dict__)

    def insert_payments(self, rows: Sequence[PaymentRow]) -> None:
        """Many rows in one statement (bulk loads: `bench api --prefill`)."""
        for payer_id in {r.payer_id for r in rows}:
            self._spent_by(payer_id)
        if rows:
            self.conn.execute(insert_into(payments), [r.__dict__ for r in rows])

    def payment(self, payment_id: str, *, lock: bool = False) -> PaymentRow | None:
        return self._one(PaymentRow, payments, {"id": payment_id}, lock)

    def save_payment(self, row: PaymentRow) -> None:
        self._spent_by(row.payer_id)
        values = {k: v for k, v in row.__dict__.items() if k != "id"}
        self.conn.execute(update(payments).where(payments.c.id == row.id).values(**values))

    def payments_of(self, payer_id: str, after: PaymentRow | None, limit: int) -> list[PaymentRow]:
        """Newest first; `after` is the last row of the previous page (the cursor)."""
        return self._newest(payments.c.payer_id == payer_id, after, limit)

    def payments_to(self, payee_id: str, after: PaymentRow | None, limit: int) -> list[PaymentRow]:
        """What a payee (a merchant) received, newest first, as `payments_of`."""
        return self._newest(payments.c.payee_id == payee_id, after, limit)

    def _newest(self, which: Any, after: PaymentRow | None, limit: int) -> list[PaymentRow]:
        c = payments.c
        stmt = select(payments).where(which)
        if after is not None:
            older = or_(
                c.created_at < after.created_at,
                and_(c.created_at == after.created_at, c.id < after.id),
            )
            stmt = stmt.where(older)
        stmt = stmt.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        return [_row(PaymentRow, m) for m in self.conn.execute(stmt).mappings().all()]

    def per_minute(self, since: datetime) -> list[tuple[int, str, int]]:
        """(minute since the epoch, status, payments) of the payments created since."""
        c = payments.c
        if self.conn.dialect.name == "sqlite":
            epoch: Any = func.cast(func.strftime("%s", c.created_at), Integer)
        else:
            epoch = func.cast(func.floor(func.extract("epoch", c.created_at)), BigInteger)
        minute = (epoch // 60).label("minute")
        query = (
            select(minute, c.status, func.count())
            .where(c.created_at >= since)
            .group_by(minute, c.status)
        )
        return [(int(r[0]), str(r[1]), int(r[2])) for r in self.conn.execute(query)]

    def status_counts(self) -> dict[str, int]:
        """How many payments are in each status (the API benchmark's outcome)."""
        c = payments.c
        rows = self.conn.execute(select(c.status, func.count()).group_by(c.status))
        return {str(status): int(n) for status, n in rows}

    def spend_totals(
        self,
        person_ids: Sequence[str],
        user_id: str,
        year_start: datetime,
        day_start: datetime,
        static_kinds: Sequence[str],
        dynamic_kinds: Sequence[str],
    ) -> tuple[int, int, int, int, int]:
        """What the limits need in one query (the same rows `spent` counts): the person's
        total ever and this year, and this account's static, weak dynamic and all dynamic
        QR spending today. One statement text per dialect (`_spend`): building the
        expression anew each time cost more than running it. Sums read ahead for a batch
        (`read_spend_ahead`) are used while no payment of the accounts was written."""
        accounts = frozenset([*person_ids, user_id])
        bounds = (year_start, day_start, tuple(static_kinds), tuple(dynamic_kinds))
        known = self.memo.peek(("spend", user_id))
        if isinstance(known, _Spent) and (known.accounts, known.bounds) == (accounts, bounds):
            return known.totals
        row = run(
            self.conn,
            _spend(self.conn.dialect.name),
            {
                "payers": [*person_ids, user_id],
                "me": user_id,
                "year": year_start,
                "day": day_start,
                "static": list(static_kinds),
                "dynamic": list(dynamic_kinds),
            },
        ).one()
        return int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4])

    def read_spend_ahead(
        self,
        payers: Mapping[str, Sequence[str]],
        year_start: datetime,
        day_start: datetime,
        static_kinds: Sequence[str],
        dynamic_kinds: Sequence[str],
    ) -> None:
        """`spend_totals` for several payers (each with its person's accounts) in one
        statement, into the memo."""
        everyone = sorted({a for user, people in payers.items() for a in (*people, user)})
        params = {
            "payers": everyone,
            "year": year_start,
            "day": day_start,
            "static": list(static_kinds),
            "dynamic": list(dynamic_kinds),
        }
        rows = run(self.conn, _spend(self.conn.dialect.name, by_payer=True), params).all()
        sums = {str(r[0]): tuple(int(v) for v in r[1:]) for r in rows}
        bounds = (year_start, day_start, tuple(static_kinds), tuple(dynamic_kinds))
        for user, people in payers.items():
            accounts = frozenset([*people, user])
            total = sum(sums[a][0] for a in accounts if a in sums)
            this_year = sum(sums[a][1] for a in accounts if a in sums)
            static, weak, dynamic = sums.get(user, (0, 0, 0, 0, 0))[2:]
            totals = (total, this_year, static, weak, dynamic)
            self.memo.put(("spend", user), _Spent(accounts, bounds, totals))

    def _spent_by(self, payer_id: str) -> None:
        """A payment of `payer_id` written: forget every sum that counts it."""
        self.memo.forget_table(
            "spend", lambda known: isinstance(known, _Spent) and payer_id in known.accounts
        )

    # -- orders ------------------------------------------------------------------------
    def insert_order(self, row: OrderRow) -> None:
        self.conn.execute(insert(payment_orders).values(**row.__dict__))

    def order(self, order_id: str, *, lock: bool = False) -> OrderRow | None:
        return self._one(OrderRow, payment_orders, {"id": order_id}, lock)

    def mark_order_paid(self, order_id: str, payment_id: str) -> bool:
        """Open -> paid, once: False if it was not open (a concurrent replay lost)."""
        c = payment_orders.c
        result = self.conn.execute(
            update(payment_orders)
            .where(c.id == order_id, c.status == "open")
            .values(status="paid", payment_id=payment_id)
        )
        return bool(result.rowcount)

    def reopen_order(self, order_id: str, payment_id: str) -> None:
        """Paid -> open again, when the payment that claimed it failed after a review."""
        c = payment_orders.c
        self.conn.execute(
            update(payment_orders)
            .where(c.id == order_id, c.payment_id == payment_id)
            .values(status="open", payment_id=None)
        )

    # -- payment codes -----------------------------------------------------------------
    def code_secret(self, user_id: str, device_id: str) -> str | None:
        c = payment_code_secrets.c
        stmt = select(c.secret_enc).where(c.user_id == user_id, c.device_id == device_id)
        found = self.conn.execute(stmt).first()
        return None if found is None else str(found[0])

    def insert_code_secret(
        self, user_id: str, device_id: str, secret_enc: str, at: datetime
    ) -> None:
        self.conn.execute(
            insert(payment_code_secrets).values(
                user_id=user_id, device_id=device_id, secret_enc=secret_enc, created_at=at
            )
        )

    def code(self, code_hash: str, *, lock: bool = False) -> CodeRow | None:
        return self._one(CodeRow, payment_codes, {"code_hash": code_hash}, lock)

    def insert_code(self, row: CodeRow) -> None:
        self.conn.execute(insert(payment_codes).values(**row.__dict__))

    def retire_code(self, code_hash: str, at: datetime) -> None:
        c = payment_codes.c
        stmt = update(payment_codes).where(c.code_hash == code_hash, c.used_at.is_(None))
        self.conn.execute(stmt.values(retired_at=at))

    def mark_code_used(self, code_hash: str, payment_id: str, at: datetime) -> bool:
        c = payment_codes.c
        result = self.conn.execute(
            update(payment_codes)
            .where(c.code_hash == code_hash, c.used_at.is_(None), c.retired_at.is_(None))
            .values(used_at=at, payment_id=payment_id)
        )
        return bool(result.rowcount)
