"""Account rows may lag behind the transfers that moved them (storage/ledger.py,
"Deferred accounts").

Why. With a million active accounts, a batch of 8,190 random transfers touches 16,000
accounts: nearly every page of `ledger_accounts`, each rewritten whole at every commit
(SQLite's WAL holds whole pages). Measured with `guardpay bench ledger --accounts
1000000`: 16k transfers/s with the account rows rewritten per batch, 48k without. So a
transfer now carries its two accounts' balances right after it (eight columns), a writer
may leave account rows behind and fold them in later, and the clock row says since when
rows may lag (`accounts_behind_since`, 0: no row lags). `as_of` is the ledger timestamp
of the state a row holds.

Online: three added columns with constant defaults, no table rewritten (PostgreSQL adds
them in the catalog alone; SQLite's ADD COLUMN does not touch the rows). Rows written
before have `as_of` 0 and transfers without balances: no writer deferred then, so every
such row is current.

Revision ID: 0015_deferred_accounts
Revises: 0014_transfers_by_time
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_deferred_accounts"
down_revision = "0014_transfers_by_time"
branch_labels = None
depends_on = None

AFTER = tuple(
    f"{side}_{counter}"
    for side in ("dr", "cr")
    for counter in ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
)

_SET = ("dp", "dpo", "cp", "cpo")


def upgrade() -> None:
    for name in AFTER:
        op.add_column("ledger_transfers", sa.Column(name, sa.BigInteger(), nullable=True))
    op.add_column(
        "ledger_accounts", sa.Column("as_of", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.add_column(
        "ledger_clock",
        sa.Column("accounts_behind_since", sa.BigInteger(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    """Folds every lagging row in first (from the balances its transfers carry), so no
    balance is lost with the columns."""
    conn = op.get_bind()
    since = conn.execute(sa.text("SELECT accounts_behind_since FROM ledger_clock")).scalar()
    if since:
        latest: dict[int, dict[str, int]] = {}
        rows = conn.execute(
            sa.text(
                f"SELECT timestamp, debit_account_id, credit_account_id, {', '.join(AFTER)} "
                "FROM ledger_transfers WHERE timestamp >= :since ORDER BY timestamp"
            ),
            {"since": since},
        )
        for ts, dr, cr, *after in rows:
            if after[0] is not None:
                latest[dr] = {"id": dr, "at": ts, **dict(zip(_SET, after[:4], strict=True))}
                latest[cr] = {"id": cr, "at": ts, **dict(zip(_SET, after[4:], strict=True))}
        if latest:
            conn.execute(
                sa.text(
                    "UPDATE ledger_accounts SET debits_pending = :dp, debits_posted = :dpo, "
                    "credits_pending = :cp, credits_posted = :cpo, as_of = :at "
                    "WHERE id = :id AND as_of < :at"
                ),
                list(latest.values()),
            )
    op.drop_column("ledger_clock", "accounts_behind_since")
    op.drop_column("ledger_accounts", "as_of")
    for name in AFTER:
        op.drop_column("ledger_transfers", name)
