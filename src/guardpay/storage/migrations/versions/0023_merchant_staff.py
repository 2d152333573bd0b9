"""Merchant staff, and what a merchant received (issue 19: the wallet's shop view).

Why. A shop's people use the wallet to show a code for an amount, watch payments arrive
and refund them: `merchant_staff` says which users act for which merchant (added by a
supervisor), and `ix_payments_payee` lists a merchant's received payments newest first
without scanning every payment. `ix_payments_created` gives the console's dashboard the
last hour's payments without scanning them all (its key only grows: an insert lands on
the index's last page, the cheap kind of index).

Online: a new table, and two indexes built in the migration's transaction: readers are
not blocked, writers to `payments` wait for the build (seconds per million payments).
Not CONCURRENTLY: migrations run in one transaction (storage/migrations/env.py), and a
concurrent build that failed halfway would leave an invalid index and a half-applied
revision behind.

Revision ID: 0023_merchant_staff
Revises: 0022_operator_totp
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_merchant_staff"
down_revision = "0022_operator_totp"
branch_labels = None
depends_on = None
INDEXES = {
    "ix_payments_payee": ["payee_id", "created_at", "id"],
    "ix_payments_created": ["created_at"],
}


def upgrade() -> None:
    op.create_table(
        "merchant_staff",
        sa.Column("merchant_id", sa.String(32), sa.ForeignKey("merchants.id"), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("added_by", sa.String(40), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_merchant_staff_user", "merchant_staff", ["user_id"])
    for name, columns in INDEXES.items():
        op.create_index(name, "payments", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="payments")
    op.drop_index("ix_merchant_staff_user", table_name="merchant_staff")
    op.drop_table("merchant_staff")
