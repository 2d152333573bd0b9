"""The identities a regulatory report names, sealed apart from its content (issue 18).

Why. A regulator needs to know who each reported customer is: legal name and identity
document for a person, registered name and registration number for a merchant. Those are
personal data; they are kept sealed under the platform's reports key, one row per
customer of a report, so the report's content stays free of them.

Online: a new table only, nothing existing changes. Reports filed before this migration
have no identities and render as they did (their recorded hashes still match).

Revision ID: 0021_report_identities
Revises: 0020_cases
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_report_identities"
down_revision = "0020_cases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_identities",
        sa.Column("id", sa.String(130), primary_key=True),
        sa.Column("report_id", sa.String(40), nullable=False),
        sa.Column("customer", sa.String(80), nullable=False),
        sa.Column("sealed_for", sa.String(40), nullable=False),
        sa.Column("identity_enc", sa.Text, nullable=False),
    )
    op.create_index("ix_report_identities_report", "report_identities", ["report_id"])


def downgrade() -> None:
    op.drop_index("ix_report_identities_report", table_name="report_identities")
    op.drop_table("report_identities")
