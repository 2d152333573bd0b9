"""AML monitoring: the runs of `guardpay aml run` and the findings they kept.

Why. A periodic scan of the transaction graph (services/aml/monitor.py) must know where
the last one ended, so each run reads what was recorded since (and as far back as its
scenarios look), and keeps only findings with activity after that watermark: a rerun
never reports the same evidence twice. The findings are what alerts and cases are made
from.

Online: two new tables; nothing is copied.

Revision ID: 0018_aml
Revises: 0017_archives
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_aml"
down_revision = "0017_archives"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aml_runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("read_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transactions", sa.BigInteger, nullable=False),
        sa.Column("findings", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_aml_runs_watermark", "aml_runs", ["watermark"])
    op.create_table(
        "aml_findings",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("account", sa.String(80), nullable=False),
        sa.Column("typology", sa.String(40), nullable=False),
        sa.Column("score_bp", sa.Integer, nullable=False),
        sa.Column("transactions", sa.BigInteger, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
    )
    op.create_index("ix_aml_findings_account", "aml_findings", ["account", "last_seen"])
    op.create_index("ix_aml_findings_run", "aml_findings", ["run_id"])


def downgrade() -> None:
    op.drop_table("aml_findings")
    op.drop_table("aml_runs")
