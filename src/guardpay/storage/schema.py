"""Table definitions, for typed queries and for checking migrations match the code.

The tables are created by Alembic migrations (storage/migrations/versions), never by
`create_all`; a test compares the migrated database with this metadata.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

#: 64-bit ids; on SQLite an INTEGER PRIMARY KEY (the rowid itself, no second index).
Id = BigInteger().with_variant(Integer(), "sqlite")


def _counter(name: str) -> Column[int]:
    return Column(name, BigInteger, nullable=False, server_default="0")


ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("ledger", Integer, nullable=False),
    Column("code", Integer, nullable=False),
    Column("flags", Integer, nullable=False),
    Column("user_data_64", BigInteger, nullable=False),
    Column("user_data_32", Integer, nullable=False),
    _counter("debits_pending"),
    _counter("debits_posted"),
    _counter("credits_pending"),
    _counter("credits_posted"),
    Column("timestamp", BigInteger, nullable=False, unique=True),
    # the ledger timestamp of the state the row holds (storage/ledger.py, "Deferred
    # accounts"); 0 for rows written before any writer deferred
    Column("as_of", BigInteger, nullable=False, server_default="0"),
)

#: a transfer's two accounts right after it (domain/ledger/work.py `After`)
AFTER_COLUMNS = tuple(
    f"{side}_{counter}"
    for side in ("dr", "cr")
    for counter in ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
)

ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    # Keyed by time, so every insert appends (migration 0014); the id, the idempotency
    # key, is unique. No foreign keys here on purpose: see the migration 0001 docstring.
    # Part 0 of the transfers: later parts are made like it (storage/ledger_parts.py).
    Column("id", BigInteger, nullable=False, unique=True),
    Column("debit_account_id", BigInteger, nullable=False),
    Column("credit_account_id", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("pending_id", BigInteger, nullable=False),
    Column("user_data_64", BigInteger, nullable=False),
    Column("user_data_32", Integer, nullable=False),
    Column("timeout", Integer, nullable=False),
    Column("ledger", Integer, nullable=False),
    Column("code", Integer, nullable=False),
    Column("flags", Integer, nullable=False),
    Column("timestamp", Id, primary_key=True, autoincrement=False),
    *(Column(name, BigInteger, nullable=True) for name in AFTER_COLUMNS),
    # On SQLite these two name only the account: the timestamp is the rowid, which
    # orders every index's entries already (migration 0014).
    Index("ix_ledger_transfers_debit", "debit_account_id", "timestamp"),
    Index("ix_ledger_transfers_credit", "credit_account_id", "timestamp"),
    Index(
        "ix_ledger_transfers_pending",
        "pending_id",
        sqlite_where=text("pending_id != 0"),
        postgresql_where=text("pending_id != 0"),
    ),
)

#: the parts transfers are written in (storage/ledger_parts.py)
ledger_parts = Table(
    "ledger_parts",
    metadata,
    Column("part", Integer, primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False, unique=True),
    Column("first_timestamp", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("uid", String(32), nullable=False),
    Column("bloom", LargeBinary, nullable=True),
    Column("bloom_hashes", SmallInteger, nullable=True),
)

ledger_pending = Table(
    "ledger_pending",
    metadata,
    # a transfer in any part (storage/ledger_parts.py): no foreign key (migration 0016)
    Column("transfer_id", Id, primary_key=True, autoincrement=False),
    Column("status", SmallInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index(
        "ix_ledger_pending_expiry",
        "expires_at",
        sqlite_where=text("status = 1 AND expires_at > 0"),
        postgresql_where=text("status = 1 AND expires_at > 0"),
    ),
)

ledger_failed = Table(
    "ledger_failed",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("result", String(64), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

ledger_balances = Table(
    "ledger_balances",
    metadata,
    Column("account_id", BigInteger, ForeignKey("ledger_accounts.id"), primary_key=True),
    Column("timestamp", BigInteger, primary_key=True),
    _counter("debits_pending"),
    _counter("debits_posted"),
    _counter("credits_pending"),
    _counter("credits_posted"),
)

ledger_flag_changes = Table(
    "ledger_flag_changes",
    metadata,
    Column("timestamp", Id, primary_key=True, autoincrement=False),
    Column("account_id", BigInteger, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("set_flags", Integer, nullable=False),
    Column("clear_flags", Integer, nullable=False),
)

ledger_clock = Table(
    "ledger_clock",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_timestamp", BigInteger, nullable=False),
    # since when account rows may lag behind their transfers (0: none lags)
    Column("accounts_behind_since", BigInteger, nullable=False, server_default="0"),
)

data_keys = Table(
    "data_keys",
    metadata,
    Column("subject", String(64), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("master_version", Integer, nullable=False),
    Column("wrapped", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("destroyed_at", DateTime(timezone=True), nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("ip", String(64), nullable=True),
    Column("action", String(80), nullable=False),
    Column("subject", String(80), nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_subject", "subject", "seq"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

#: the audit log's entries archived to files (services/platform/archive.py): append-only,
#: and an entry may leave `audit_log` only once its file is registered here
audit_archives = Table(
    "audit_archives",
    metadata,
    Column("last_seq", Id, primary_key=True, autoincrement=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("first_prev_hash", String(64), nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("first_at", DateTime(timezone=True), nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
    Column("name", String(200), nullable=False, unique=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("archived_at", DateTime(timezone=True), nullable=False),
)
