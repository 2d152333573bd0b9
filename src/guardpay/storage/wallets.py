"""The wallets table: owner (user, merchant) and currency -> ledger account id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    String,
    Table,
    TextClause,
    bindparam,
    text,
)

from guardpay.storage.engine.memo import RowMemo
from guardpay.storage.engine.prepared import StringList, member, once, run, sql
from guardpay.storage.schema import metadata

wallets = Table(
    "wallets",
    metadata,
    Column("owner_kind", String(16), primary_key=True),
    Column("owner_id", String(40), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("purpose", String(24), primary_key=True),
    Column("account_id", BigInteger, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


@lru_cache(maxsize=4)
def _owners_wallets(dialect: str) -> TextClause:
    owners = member("owner_id", "values", dialect)
    return once(
        text(
            "SELECT owner_id, account_id FROM wallets WHERE owner_kind = :k AND "
            f"{owners} AND currency = :c AND purpose = :p"
        ).bindparams(bindparam("values", type_=StringList()))
    )


class WalletRepository:
    def __init__(self, conn: Connection, memo: RowMemo | None = None) -> None:
        self.conn = conn
        self.memo = memo or RowMemo()

    def find(self, owner_kind: str, owner_id: str, currency: str, purpose: str) -> int | None:
        key = ("wallets", owner_kind, owner_id, currency, purpose)
        return self.memo.get(key, lambda: self._find(owner_kind, owner_id, currency, purpose))

    def read_ahead(
        self, owner_kind: str, owner_ids: Sequence[str], currency: str, purpose: str
    ) -> list[int]:
        """`find` for several owners at once, into the memo (None where none is open);
        the ledger accounts of those found."""
        found = {
            str(r[0]): int(r[1])
            for r in run(
                self.conn,
                _owners_wallets(self.conn.dialect.name),
                {"k": owner_kind, "values": sorted(set(owner_ids)), "c": currency, "p": purpose},
            ).all()
        }
        for owner_id in owner_ids:  # keyed as `find` keys it, not by owner alone
            self.memo.put(("wallets", owner_kind, owner_id, currency, purpose), found.get(owner_id))
        return list(found.values())

    def _find(self, owner_kind: str, owner_id: str, currency: str, purpose: str) -> int | None:
        row = run(
            self.conn,
            sql(
                "SELECT account_id FROM wallets WHERE owner_kind = :k AND owner_id = :o "
                "AND currency = :c AND purpose = :p"
            ),
            {"k": owner_kind, "o": owner_id, "c": currency, "p": purpose},
        ).first()
        return int(row[0]) if row else None

    def of_owner(self, owner_kind: str, owner_id: str, purpose: str) -> list[tuple[str, int]]:
        """(currency, account id) of every wallet of this purpose the owner has opened, by
        currency: the read side lists wallets without opening one."""
        rows = run(
            self.conn,
            sql(
                "SELECT currency, account_id FROM wallets WHERE owner_kind = :k "
                "AND owner_id = :o AND purpose = :p ORDER BY currency"
            ),
            {"k": owner_kind, "o": owner_id, "p": purpose},
        ).all()
        return [(str(r[0]), int(r[1])) for r in rows]

    def insert_if_absent(
        self,
        owner_kind: str,
        owner_id: str,
        currency: str,
        purpose: str,
        account_id: int,
        at: datetime,
    ) -> bool:
        """Whether this opened the wallet (then `find` knows it without reading)."""
        key = ("wallets", owner_kind, owner_id, currency, purpose)
        self.memo.forget(key)
        result = run(
            self.conn,
            sql(
                "INSERT INTO wallets (owner_kind, owner_id, currency, purpose, account_id, "
                "created_at) VALUES (:k, :o, :c, :p, :a, :at) "
                "ON CONFLICT (owner_kind, owner_id, currency, purpose) DO NOTHING"
            ),
            {
                "k": owner_kind,
                "o": owner_id,
                "c": currency,
                "p": purpose,
                "a": account_id,
                "at": at,
            },
        )
        if not result.rowcount:
            return False
        self.memo.put(key, account_id)
        return True

    def owner_of(self, account_id: int) -> tuple[str, str, str, str] | None:
        row = self.conn.execute(
            text(
                "SELECT owner_kind, owner_id, currency, purpose FROM wallets WHERE account_id = :a"
            ),
            {"a": account_id},
        ).first()
        return (row[0], row[1], row[2], row[3]) if row else None
