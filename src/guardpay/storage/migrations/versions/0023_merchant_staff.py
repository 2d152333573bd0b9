"""Merchant staff, and what a merchant received (issue 19: the wallet's shop view).

Why. A shop's people use the wallet to show a code for an amount, watch payments arrive
and refund them: `merchant_staff` says which users act for which merchant (added by a
supervisor), and `ix_payments_payee` lists a merchant's received payments newest first
without scanning every payment.

Online: a new table, and an index built on PostgreSQL without blocking writes
(CREATE INDEX CONCURRENTLY, outside the migration's transaction); on SQLite the index is
built in one go (readers are not blocked; writers wait for it).

Revision ID: 0023_merchant_staff
Revises: 0022_operator_totp
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_merchant_staff"
down_revision = "0022_operator_totp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merchant_staff",
        sa.Column("merchant_id", sa.String(32), sa.ForeignKey("merchants.id"), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("added_by", sa.String(40), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_merchant_staff_user", "merchant_staff", ["user_id"])
    columns = ["payee_id", "created_at", "id"]
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index("ix_payments_payee", "payments", columns, postgresql_concurrently=True)
    else:
        op.create_index("ix_payments_payee", "payments", columns)


def downgrade() -> None:
    op.drop_index("ix_payments_payee", table_name="payments")
    op.drop_index("ix_merchant_staff_user", table_name="merchant_staff")
    op.drop_table("merchant_staff")
