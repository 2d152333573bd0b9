"""The rule sets that decided, kept (issue 19: the console's rule-set versions).

Why. A decision records its rule set as `name@version:digest` only; to show an analyst
the versions side by side (what changed, and how each does over the same decisions) the
text of each is needed. The risk engine keeps each rule set the first time it decides
(services/risk/engine.py); rule sets that decided before this revision are not known.

Online: a new table.

Revision ID: 0025_rule_set_versions
Revises: 0024_payment_code_refresh
"""

import sqlalchemy as sa
from alembic import op

revision = "0025_rule_set_versions"
down_revision = "0024_payment_code_refresh"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_rule_sets",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("risk_rule_sets")
