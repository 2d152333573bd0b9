"""Identity SQL: users, identity documents, verification attempts, merchants, bank cards.

Columns ending `_enc` hold vault tokens (ciphertext); `_index` columns hold blind indexes.
This module never sees plaintext personal data and never decrypts: the services encrypt
before writing and decrypt after reading. The tables are declared on the shared
`schema.metadata` (storage/tables.py gathers every repository's, for the migration check)
and every encrypted column is registered for key rotation (`storage/encrypted.py`).

Uniqueness races (two requests registering one phone, binding one card) are settled by
the unique indexes; a violation is reported as the same `Conflict` the services raise
when they see it first. Times are timezone-aware UTC; SQLite hands them back naive, so
rows are read through `_utc`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import Executable

from guardpay.errors import Conflict
from guardpay.storage.encrypted import EncryptedColumn, register
from guardpay.storage.engine.db import as_utc as _utc
from guardpay.storage.engine.memo import RowMemo
from guardpay.storage.engine.prepared import insert_into, once, one_of, rows_by, run, select_by
from guardpay.storage.schema import metadata

_SEQ = BigInteger().with_variant(Integer(), "sqlite")
_ACTIVE = text("status = 'active'")
R = TypeVar("R")


def _at(name: str, nullable: bool = False) -> Column[datetime]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("phone_enc", Text, nullable=False),
    Column("phone_index", String(64), nullable=True, unique=True),
    Column("display_name_enc", Text, nullable=True),
    Column("status", String(16), nullable=False),
    Column("account_class", String(16), nullable=False),
    Column("person_index", String(64), nullable=True),
    Column("pseudonym", String(32), nullable=True, unique=True),
    _at("created_at"),
    _at("verified_at", True),
    _at("erased_at", True),
    Index("ix_users_person_index", "person_index"),
)
identity_documents = Table(
    "identity_documents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False, unique=True),
    Column("doc_type", String(32), nullable=False),
    Column("country", String(3), nullable=True),
    Column("number_enc", Text, nullable=False),
    Column("number_index", String(64), nullable=True),
    Column("name_enc", Text, nullable=False),
    _at("verified_at"),
    Index("ix_identity_documents_number", "number_index"),
)
identity_verifications = Table(
    "identity_verifications",
    metadata,
    Column("id", _SEQ, primary_key=True, autoincrement=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),
    _at("at"),
    Index("ix_identity_verifications_user", "user_id", "at"),
)
merchants = Table(
    "merchants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("parent_id", String(32), ForeignKey("merchants.id"), nullable=True),
    Column("legal_name", String(100), nullable=False),
    Column("display_name", String(32), nullable=False),
    Column("registration_enc", Text, nullable=True),
    Column("registration_index", String(64), nullable=True, unique=True),
    Column("mcc", String(4), nullable=False),
    Column("status", String(16), nullable=False),
    Column("settlement_account_id", BigInteger, nullable=True),
    _at("created_at"),
    Index("ix_merchants_parent", "parent_id"),
)
merchant_staff = Table(  # users who act for a merchant in the wallet's shop view
    "merchant_staff",
    metadata,
    Column("merchant_id", String(32), ForeignKey("merchants.id"), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), primary_key=True),
    Column("added_by", String(40), nullable=False),
    _at("added_at"),
    Index("ix_merchant_staff_user", "user_id"),
)
bank_cards = Table(
    "bank_cards",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
    Column("pan_enc", Text, nullable=False),
    Column("pan_index", String(64), nullable=True),
    Column("token", String(40), nullable=True, unique=True),
    Column("bin", String(8), nullable=False),
    Column("last4", String(4), nullable=True),
    Column("bank_code", String(16), nullable=False),
    Column("bank", String(64), nullable=False),
    Column("card_type", String(8), nullable=False),
    Column("scheme", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    _at("bound_at"),
    _at("unbound_at", True),
    Index("ix_bank_cards_user", "user_id"),
    Index("ix_bank_cards_pan", "pan_index"),
    Index(
        "ux_bank_cards_active_pan",
        "pan_index",
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    ),
)

register(
    EncryptedColumn("users", "id", "id", "phone_enc", "phone"),
    EncryptedColumn("users", "id", "id", "display_name_enc", "display_name"),
    EncryptedColumn("identity_documents", "id", "user_id", "number_enc", "document_number"),
    EncryptedColumn("identity_documents", "id", "user_id", "name_enc", "legal_name"),
    EncryptedColumn("bank_cards", "id", "user_id", "pan_enc", "pan"),
    EncryptedColumn("merchants", "id", "id", "registration_enc", "registration_number"),
)


@dataclass(frozen=True)
class UserRow:
    id: str
    phone_enc: str
    phone_index: str | None
    display_name_enc: str | None
    status: str  # active | erased
    account_class: str
    person_index: str | None
    pseudonym: str | None
    created_at: datetime
    verified_at: datetime | None
    erased_at: datetime | None


@dataclass(frozen=True)
class DocumentRow:
    id: str
    user_id: str
    doc_type: str
    country: str | None
    number_enc: str
    number_index: str | None
    name_enc: str
    verified_at: datetime


@dataclass(frozen=True)
class AttemptRow:
    channel: str
    outcome: str  # passed | failed | unavailable
    at: datetime


@dataclass(frozen=True)
class MerchantRow:
    id: str
    parent_id: str | None
    legal_name: str
    display_name: str
    registration_enc: str | None
    registration_index: str | None
    mcc: str
    status: str
    settlement_account_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class CardRow:
    id: str
    user_id: str
    pan_enc: str
    pan_index: str | None
    token: str | None
    bin: str
    last4: str | None
    bank_code: str
    bank: str
    card_type: str
    scheme: str
    status: str  # active | unbound | erased
    bound_at: datetime
    unbound_at: datetime | None


def _row(cls: type[R], mapping: Mapping[Any, Any]) -> R:
    values = {k: (_utc(v) if isinstance(v, datetime) else v) for k, v in mapping.items()}
    return cls(**values)


_PERSON = once(
    select(users.c.id).where(users.c.person_index == bindparam("person")).order_by(users.c.id)
)


@lru_cache(maxsize=4)
def _persons(dialect: str) -> Select[Any]:
    """`_PERSON` for several people: (user id, person index), in id order."""
    where = one_of("users.person_index", "values", dialect)
    return once(select(users.c.id, users.c.person_index).where(where).order_by(users.c.id))


class IdentityRepository:
    """Identity tables, used inside a transaction the caller owns."""

    def __init__(self, conn: Connection, memo: RowMemo | None = None) -> None:
        self.conn = conn
        self.memo = memo or RowMemo()

    def _one(
        self, cls: type[R], stmt: Executable, params: dict[str, Any] | None = None
    ) -> R | None:
        found = run(self.conn, stmt, params).mappings().first()
        return None if found is None else _row(cls, found)

    def _all(self, cls: type[R], stmt: Executable) -> list[R]:
        return [_row(cls, m) for m in self.conn.execute(stmt).mappings().all()]

    def _insert(self, table: Table, row: object, conflict: Conflict) -> None:
        """Insert a row dataclass; a unique-index violation becomes `conflict`."""
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert_into(table), row.__dict__)
        except IntegrityError:
            raise conflict from None

    # -- users ------------------------------------------------------------------------
    def insert_user(self, row: UserRow) -> None:
        self.memo.forget(("users", row.id))
        self.memo.forget_table("persons")
        taken = Conflict(
            "this phone number already has an account", code="phone_taken", param="phone"
        )
        self._insert(users, row, taken)

    def user(self, user_id: str, *, for_update: bool = False) -> UserRow | None:
        stmt = select_by(users, ("id",), for_update)
        if for_update and not self.memo.has(("users.locked", user_id)):
            self.memo.forget(("users", user_id))  # the lock is taken in the database
            self.memo.put(("users.locked", user_id), True)
        return self.memo.get(("users", user_id), lambda: self._one(UserRow, stmt, {"id": user_id}))

    def read_users_ahead(
        self, user_ids: Sequence[str], *, for_update: bool = False
    ) -> list[UserRow]:
        """Several users into the memo (None for an unknown id), `for_update` locked as
        `user(for_update=True)` locks one, in id order; those found."""
        rows = rows_by(self.conn, users, "id", user_ids, lock=for_update)
        found = {k: _row(UserRow, r) for k, r in rows.items()}
        self.memo.put_all("users", user_ids, found)
        if for_update:
            self.memo.put_all("users.locked", user_ids, dict.fromkeys(user_ids, True))
        return list(found.values())

    def read_persons_ahead(self, person_indexes: Sequence[str]) -> None:
        """`users_of_person` for several people at once, into the memo."""
        accounts: dict[str, list[str]] = {p: [] for p in person_indexes}
        params = {"values": sorted(set(person_indexes))}
        for user_id, person in run(self.conn, _persons(self.conn.dialect.name), params).all():
            accounts[str(person)].append(str(user_id))  # in id order, as `_PERSON` reads
        self.memo.put_all("persons", person_indexes, accounts)

    def user_by_phone_index(self, phone_index: str) -> UserRow | None:
        return self._one(UserRow, select(users).where(users.c.phone_index == phone_index))

    def users_by_phone_indexes(self, indexes: Sequence[str]) -> list[UserRow]:
        """The users whose phone has one of these indexes (a masked number's candidates),
        by the unique index, in one statement; by id."""
        found = rows_by(self.conn, users, "phone_index", indexes)
        return sorted((_row(UserRow, m) for m in found.values()), key=lambda u: u.id)

    def users_of_person(self, person_index: str) -> list[str]:
        """The ids of every account verified with the same document (one person)."""
        return self.memo.get(
            ("persons", person_index),
            lambda: [str(r[0]) for r in run(self.conn, _PERSON, {"person": person_index}).all()],
        )

    def set_verified(
        self, user_id: str, account_class: str, person_index: str | None, at: datetime
    ) -> None:
        self.memo.forget(("users", user_id))
        self.memo.forget_table("persons")
        self.conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(
                account_class=account_class,
                person_index=person_index,
                verified_at=func.coalesce(users.c.verified_at, at),
            )
        )

    def mark_user_erased(self, user_id: str, pseudonym: str, at: datetime) -> None:
        """Blind indexes dropped (the phone may register again), class reset, row kept."""
        self.memo.forget(("users", user_id))
        self.memo.forget_table("persons")
        self.conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(
                status="erased",
                phone_index=None,
                person_index=None,
                pseudonym=pseudonym,
                account_class="unverified",
                erased_at=at,
            )
        )

    # -- identity documents and verification attempts ----------------------------------
    def insert_document(self, row: DocumentRow) -> None:
        clash = Conflict(
            "this account already has a verified identity",
            code="identity_mismatch",
            param="document_number",
        )
        self._insert(identity_documents, row, clash)

    def document_of(self, user_id: str) -> DocumentRow | None:
        stmt = select(identity_documents).where(identity_documents.c.user_id == user_id)
        return self._one(DocumentRow, stmt)

    def add_attempts(self, user_id: str, outcomes: Iterable[tuple[str, str]], at: datetime) -> None:
        rows = [{"user_id": user_id, "channel": c, "outcome": o, "at": at} for c, o in outcomes]
        if rows:
            self.conn.execute(insert(identity_verifications), rows)

    def attempts(self, user_id: str) -> list[AttemptRow]:
        t = identity_verifications
        stmt = select(t.c.channel, t.c.outcome, t.c.at).where(t.c.user_id == user_id)
        return self._all(AttemptRow, stmt.order_by(t.c.id))

    def passed_channels(self, user_id: str) -> set[str]:
        t = identity_verifications
        stmt = select(t.c.channel).where(t.c.user_id == user_id, t.c.outcome == "passed")
        return {str(r[0]) for r in self.conn.execute(stmt.distinct())}

    def erase_document(self, user_id: str) -> None:
        self.conn.execute(
            update(identity_documents)
            .where(identity_documents.c.user_id == user_id)
            .values(number_index=None)
        )

    # -- merchants ----------------------------------------------------------------------
    def insert_merchant(self, row: MerchantRow) -> None:
        self.memo.forget(("merchants", row.id))
        taken = Conflict(
            "a merchant with this registration number exists",
            code="merchant_already_registered",
            param="registration_number",
        )
        self._insert(merchants, row, taken)

    def merchant(self, merchant_id: str) -> MerchantRow | None:
        stmt = select(merchants).where(merchants.c.id == merchant_id)
        return self.memo.get(("merchants", merchant_id), lambda: self._one(MerchantRow, stmt))

    def merchant_by_registration(self, registration_index: str) -> MerchantRow | None:
        stmt = select(merchants).where(merchants.c.registration_index == registration_index)
        return self._one(MerchantRow, stmt)

    def sub_merchants(self, parent_id: str) -> list[MerchantRow]:
        stmt = select(merchants).where(merchants.c.parent_id == parent_id)
        return self._all(MerchantRow, stmt.order_by(merchants.c.created_at, merchants.c.id))

    def add_staff(self, merchant_id: str, user_id: str, added_by: str, at: datetime) -> bool:
        """False if the user acts for the merchant already."""
        t = merchant_staff
        found = select(t.c.user_id).where(t.c.merchant_id == merchant_id, t.c.user_id == user_id)
        if self.conn.execute(found).first() is not None:
            return False
        row = {"merchant_id": merchant_id, "user_id": user_id, "added_by": added_by}
        self.conn.execute(insert(t).values(**row, added_at=at))
        return True

    def remove_staff(self, merchant_id: str, user_id: str) -> int:
        """Take a user off a merchant's staff; how many rows went (0 or 1)."""
        t = merchant_staff
        done = self.conn.execute(
            delete(t).where(t.c.merchant_id == merchant_id, t.c.user_id == user_id)
        )
        return int(done.rowcount or 0)

    def leave_all(self, user_id: str) -> int:
        """Take a user off every merchant's staff (their erasure)."""
        t = merchant_staff
        return int(self.conn.execute(delete(t).where(t.c.user_id == user_id)).rowcount or 0)

    def staff_merchants(self, user_id: str) -> list[str]:
        """The ids of the merchants the user acts for, in the order they were added."""
        t = merchant_staff
        query = select(t.c.merchant_id).where(t.c.user_id == user_id)
        return [str(r[0]) for r in self.conn.execute(query.order_by(t.c.added_at))]

    # -- bank cards ---------------------------------------------------------------------
    def insert_card(self, row: CardRow) -> None:
        bound = Conflict(
            "this card is already bound to an account",
            code="card_already_bound",
            param="card_number",
        )
        self._insert(bank_cards, row, bound)

    def active_card_by_index(self, pan_index: str) -> CardRow | None:
        stmt = select(bank_cards).where(
            bank_cards.c.pan_index == pan_index, bank_cards.c.status == "active"
        )
        return self._one(CardRow, stmt)

    def card(self, card_id: str) -> CardRow | None:
        return self._one(CardRow, select(bank_cards).where(bank_cards.c.id == card_id))

    def cards_of(self, user_id: str, *, statuses: Sequence[str] = ("active",)) -> list[CardRow]:
        stmt = select(bank_cards).where(
            bank_cards.c.user_id == user_id, bank_cards.c.status.in_(list(statuses))
        )
        return self._all(CardRow, stmt.order_by(bank_cards.c.bound_at, bank_cards.c.id))

    def unbind_card(self, card_id: str, at: datetime) -> None:
        self.conn.execute(
            update(bank_cards)
            .where(bank_cards.c.id == card_id, bank_cards.c.status == "active")
            .values(status="unbound", unbound_at=at)
        )

    def erase_cards(self, user_id: str, at: datetime) -> int:
        """Every card of the person: index, token and last four gone; the card may be
        bound again by whoever holds it."""
        result = self.conn.execute(
            update(bank_cards)
            .where(bank_cards.c.user_id == user_id)
            .values(
                status="erased",
                pan_index=None,
                token=None,
                last4=None,
                unbound_at=func.coalesce(bank_cards.c.unbound_at, at),
            )
        )
        return int(result.rowcount)

    def count(self, table: str) -> int:
        """Rows in one identity table (for operations dashboards and tests)."""
        tables = {
            t.name: t
            for t in (users, identity_documents, identity_verifications, merchants, bank_cards)
        }
        return int(self.conn.execute(select(func.count()).select_from(tables[table])).scalar_one())
