"""Merchant API keys (public halves only) and every nonce a key has signed with.

A nonce row is written in its own short transaction before the endpoint runs, so a
request that later fails still spends its nonce: a captured request can never be
replayed, whether or not it succeeded. The primary key (key_id, nonce) makes the claim
one insert that loses on conflict, race-free on both engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Connection, DateTime, String, Table, Text, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from guardpay.storage.engine.db import as_utc
from guardpay.storage.schema import metadata

merchant_api_keys = Table(
    "merchant_api_keys",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("merchant_id", String(40), nullable=False, index=True),
    Column("public_key", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

merchant_nonces = Table(
    "merchant_nonces",
    metadata,
    Column("key_id", String(48), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class ApiKeyRow:
    id: str
    merchant_id: str
    public_key: str
    fingerprint: str
    created_at: datetime
    revoked_at: datetime | None


class MerchantApiRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert_key(self, row: ApiKeyRow) -> None:
        self.conn.execute(merchant_api_keys.insert().values(**row.__dict__))

    def key(self, key_id: str) -> ApiKeyRow | None:
        found = (
            self.conn.execute(select(merchant_api_keys).where(merchant_api_keys.c.id == key_id))
            .mappings()
            .first()
        )
        return None if found is None else _row(dict(found))

    def keys_of(self, merchant_id: str) -> list[ApiKeyRow]:
        rows = self.conn.execute(
            select(merchant_api_keys)
            .where(merchant_api_keys.c.merchant_id == merchant_id)
            .order_by(merchant_api_keys.c.created_at, merchant_api_keys.c.id)
        ).mappings()
        return [_row(dict(r)) for r in rows]

    def revoke(self, key_id: str, at: datetime) -> None:
        self.conn.execute(
            update(merchant_api_keys).where(merchant_api_keys.c.id == key_id).values(revoked_at=at)
        )

    def claim_nonce(self, key_id: str, nonce: str, at: datetime) -> bool:
        """True the first time this key signs with `nonce`, False ever after."""
        insert = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        stmt = (
            insert(merchant_nonces)
            .values(key_id=key_id, nonce=nonce, seen_at=at)
            .on_conflict_do_nothing()
            .returning(merchant_nonces.c.nonce)
        )
        return self.conn.execute(stmt).first() is not None


def _row(values: dict[str, object]) -> ApiKeyRow:
    row = ApiKeyRow(**values)  # type: ignore[arg-type]
    revoked = None if row.revoked_at is None else as_utc(row.revoked_at)
    return ApiKeyRow(
        row.id, row.merchant_id, row.public_key, row.fingerprint, as_utc(row.created_at), revoked
    )
