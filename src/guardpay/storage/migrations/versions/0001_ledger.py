"""The double-entry ledger: accounts, immutable transfers, holds, failures, history.

Two choices made for the hot path:
- `ledger_transfers` has no foreign keys to `ledger_accounts`. On PostgreSQL each one is a
  per-row trigger that doubled the cost of inserting a batch. The engine checks that both
  accounts exist while holding the ledger lock, accounts are never deleted, and
  `guardpay ledger verify` reports any transfer naming a missing account.
- `ledger_accounts` is updated in place on every transfer; on PostgreSQL it leaves half of
  each page free (fillfactor 50) so those updates are HOT (no index churn).

Revision ID: 0001_ledger
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_ledger"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ACTIVE_HOLD = sa.text("status = 1 AND expires_at > 0")
RESOLVES = sa.text("pending_id != 0")


def _counters() -> list[sa.Column[int]]:
    names = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
    return [sa.Column(n, sa.BigInteger, nullable=False, server_default="0") for n in names]


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", ID, primary_key=True, autoincrement=False),
        sa.Column("ledger", sa.Integer, nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.Column("user_data_64", sa.BigInteger, nullable=False),
        sa.Column("user_data_32", sa.Integer, nullable=False),
        *_counters(),
        sa.Column("timestamp", sa.BigInteger, nullable=False, unique=True),
    )
    op.create_table(
        "ledger_transfers",
        sa.Column("id", ID, primary_key=True, autoincrement=False),
        sa.Column("debit_account_id", sa.BigInteger, nullable=False),
        sa.Column("credit_account_id", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("pending_id", sa.BigInteger, nullable=False),
        sa.Column("user_data_64", sa.BigInteger, nullable=False),
        sa.Column("user_data_32", sa.Integer, nullable=False),
        sa.Column("timeout", sa.Integer, nullable=False),
        sa.Column("ledger", sa.Integer, nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False, unique=True),
    )
    op.create_index(
        "ix_ledger_transfers_debit", "ledger_transfers", ["debit_account_id", "timestamp"]
    )
    op.create_index(
        "ix_ledger_transfers_credit", "ledger_transfers", ["credit_account_id", "timestamp"]
    )
    op.create_index(
        "ix_ledger_transfers_pending",
        "ledger_transfers",
        ["pending_id"],
        sqlite_where=RESOLVES,
        postgresql_where=RESOLVES,
    )
    op.create_table(
        "ledger_pending",
        sa.Column(
            "transfer_id",
            ID,
            sa.ForeignKey("ledger_transfers.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_ledger_pending_expiry",
        "ledger_pending",
        ["expires_at"],
        sqlite_where=ACTIVE_HOLD,
        postgresql_where=ACTIVE_HOLD,
    )
    op.create_table(
        "ledger_failed",
        sa.Column("id", ID, primary_key=True, autoincrement=False),
        sa.Column("result", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ledger_balances",
        sa.Column(
            "account_id", sa.BigInteger, sa.ForeignKey("ledger_accounts.id"), primary_key=True
        ),
        sa.Column("timestamp", sa.BigInteger, primary_key=True),
        *_counters(),
    )
    op.create_table(
        "ledger_flag_changes",
        sa.Column("timestamp", ID, primary_key=True, autoincrement=False),
        sa.Column("account_id", sa.BigInteger, sa.ForeignKey("ledger_accounts.id"), nullable=False),
        sa.Column("set_flags", sa.Integer, nullable=False),
        sa.Column("clear_flags", sa.Integer, nullable=False),
    )
    op.create_table(
        "ledger_clock",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_timestamp", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO ledger_clock (id, last_timestamp) VALUES (1, 0)")
    _immutable_transfers()
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger_accounts SET (fillfactor = 50)")


def _immutable_transfers() -> None:
    """Transfers are facts: the database itself refuses to change or delete one."""
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_transfers_no_{action.lower()} BEFORE {action} "
                "ON ledger_transfers BEGIN "
                "SELECT RAISE(ABORT, 'ledger transfers are immutable'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION ledger_transfers_immutable() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'ledger transfers are immutable'; END $$"
    )
    op.execute(
        "CREATE TRIGGER ledger_transfers_immutable BEFORE UPDATE OR DELETE ON ledger_transfers "
        "FOR EACH ROW EXECUTE FUNCTION ledger_transfers_immutable()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER ledger_transfers_immutable ON ledger_transfers")
        op.execute("DROP FUNCTION ledger_transfers_immutable()")
    for table in (
        "ledger_clock",
        "ledger_flag_changes",
        "ledger_balances",
        "ledger_failed",
        "ledger_pending",
        "ledger_transfers",
        "ledger_accounts",
    ):
        op.drop_table(table)
