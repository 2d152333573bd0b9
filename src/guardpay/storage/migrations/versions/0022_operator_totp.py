"""Operators' authenticator apps: the console's second factor (issue 19).

Why. The console signs an operator in with a password and then a TOTP code; the secret
is sealed in the vault like a user's (`auth_totp`), one per operator. An authenticator is
set up only with a one-time enrolment code an admin issued (`auth_operator_enrolments`,
its SHA-256 only), so a password alone cannot enrol one.

Online: new tables only, nothing existing changes.

Revision ID: 0022_operator_totp
Revises: 0021_report_identities
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_operator_totp"
down_revision = "0021_report_identities"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_operator_totp",
        sa.Column(
            "operator_id", sa.String(40), sa.ForeignKey("auth_operators.id"), primary_key=True
        ),
        sa.Column("secret", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "auth_operator_enrolments",
        sa.Column(
            "operator_id", sa.String(40), sa.ForeignKey("auth_operators.id"), primary_key=True
        ),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("issued_by", sa.String(60), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("auth_operator_enrolments")
    op.drop_table("auth_operator_totp")
