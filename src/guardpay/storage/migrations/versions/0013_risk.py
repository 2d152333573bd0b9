"""Risk control: decisions (with their features and review), block/allow lists, models.

Revision ID: 0013_risk
Revises: 0012_merchant_api
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_risk"
down_revision = "0012_merchant_api"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "risk_decisions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("request_kind", sa.String(24), nullable=False),
        sa.Column("channel", sa.String(24), nullable=False),
        sa.Column("subject_id", sa.String(40), nullable=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("rule_set", sa.String(120), nullable=False),
        sa.Column("model_version", sa.String(80), nullable=True),
        sa.Column("features", sa.Text, nullable=False),
        sa.Column("contributions", sa.Text, nullable=False),
        sa.Column("shadow_hits", sa.Text, nullable=False),
        sa.Column("review_status", sa.String(16), nullable=True),
        _at("review_deadline", True),
        sa.Column("reviewed_by", sa.String(40), nullable=True),
        _at("reviewed_at", True),
        sa.Column("holds", sa.Text, nullable=True),
        sa.Column("label", sa.String(16), nullable=True),
        sa.Column("label_source", sa.String(40), nullable=True),
        _at("created_at"),
    )
    op.create_index("ix_risk_decisions_subject_id", "risk_decisions", ["subject_id"])
    op.create_index("ix_risk_decisions_user_created", "risk_decisions", ["user_id", "created_at"])
    op.create_index(
        "ix_risk_decisions_review", "risk_decisions", ["review_status", "review_deadline"]
    )
    op.create_index("ix_risk_decisions_created", "risk_decisions", ["created_at"])
    op.create_table(
        "risk_lists",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("list", sa.String(8), nullable=False),
        sa.Column("entity", sa.String(12), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(60), nullable=False),
        _at("created_at"),
        _at("expires_at", True),
    )
    op.create_index("ix_risk_lists_entity_value", "risk_lists", ["entity", "value"])
    op.create_table(
        "risk_models",
        sa.Column("version", sa.String(80), primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        _at("created_at"),
        sa.Column("active", sa.Boolean, nullable=False),
        _at("activated_at", True),
    )


def downgrade() -> None:
    op.drop_table("risk_models")
    op.drop_index("ix_risk_lists_entity_value", "risk_lists")
    op.drop_table("risk_lists")
    for name in ("created", "review", "user_created", "subject_id"):
        op.drop_index(f"ix_risk_decisions_{name}", "risk_decisions")
    op.drop_table("risk_decisions")
