"""Ledger transfers are written in time partitions (storage/ledger_parts.py).

Why. One transfers table keeps three indexes whose keys arrive in no order (the id and
the two accounts); once they outgrow the page cache every batch pays for their size:
measured with 8,190-row batches into one table, 111k rows/s in its first million rows,
23k/s in its fourth. Writing to the newest of a series of tables keeps the indexes a
batch writes small.

Online: nothing is copied. The existing `ledger_transfers` becomes part 0 of the
registry `ledger_parts`, still open, with its row count; the writer seals it and opens
the next part when it is full. Holds (`ledger_pending`) may now name a transfer in any
part, so their foreign key to `ledger_transfers` goes: the writer checks that a hold's
transfer exists, and `ledger verify` that every hold has its transfer. On SQLite
dropping a foreign key rebuilds `ledger_pending` (holds only, a small table); on
PostgreSQL it is a catalog change.

Downgrade copies every later part back into `ledger_transfers`, in time order, and
restores the foreign key.

Revision ID: 0016_transfer_parts
Revises: 0015_deferred_accounts
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0016_transfer_parts"
down_revision = "0015_deferred_accounts"
branch_labels = None
depends_on = None

ACTIVE_HOLD = sa.text("status = 1 AND expires_at > 0")
FK = "ledger_pending_transfer_id_fkey"


def upgrade() -> None:
    op.create_table(
        "ledger_parts",
        sa.Column("part", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("first_timestamp", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("bloom", sa.LargeBinary, nullable=True),
        sa.Column("bloom_hashes", sa.SmallInteger, nullable=True),
    )
    conn = op.get_bind()
    count = conn.execute(sa.text("SELECT COUNT(*) FROM ledger_transfers")).scalar()
    conn.execute(
        sa.text(
            "INSERT INTO ledger_parts (part, name, first_timestamp, rows, uid) "
            "VALUES (0, 'ledger_transfers', 0, :rows, :uid)"
        ),
        {"rows": count or 0, "uid": uuid.uuid4().hex},
    )
    if conn.dialect.name == "sqlite":
        _rebuild_pending_sqlite(with_key=False)
    else:
        op.drop_constraint(FK, "ledger_pending", type_="foreignkey")


def downgrade() -> None:
    conn = op.get_bind()
    later = conn.execute(sa.text("SELECT name FROM ledger_parts WHERE part > 0 ORDER BY part"))
    for (name,) in list(later):
        op.execute(f"INSERT INTO ledger_transfers SELECT * FROM {name} ORDER BY timestamp")
        op.execute(f"DROP TABLE {name}")
    op.drop_table("ledger_parts")
    if conn.dialect.name == "sqlite":
        _rebuild_pending_sqlite(with_key=True)
    else:
        op.create_foreign_key(FK, "ledger_pending", "ledger_transfers", ["transfer_id"], ["id"])


def _rebuild_pending_sqlite(with_key: bool) -> None:
    """SQLite cannot drop or add a foreign key in place: build the table anew beside the
    old one, copy, drop, rename."""
    transfer_id = (
        sa.Column(
            "transfer_id",
            sa.Integer,
            sa.ForeignKey("ledger_transfers.id"),
            primary_key=True,
            autoincrement=False,
        )
        if with_key
        else sa.Column("transfer_id", sa.Integer, primary_key=True, autoincrement=False)
    )
    op.create_table(
        "ledger_pending_new",
        transfer_id,
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO ledger_pending_new SELECT transfer_id, status, expires_at FROM ledger_pending"
    )
    op.drop_table("ledger_pending")
    op.rename_table("ledger_pending_new", "ledger_pending")
    op.create_index(
        "ix_ledger_pending_expiry", "ledger_pending", ["expires_at"], sqlite_where=ACTIVE_HOLD
    )
