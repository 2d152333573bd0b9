"""API infrastructure: idempotency keys and the webhook outbox.

Revision ID: 0007_api_infra
Revises: 0006_payments
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_api_infra"
down_revision = "0006_payments"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _idempotency() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("caller", sa.String(120), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_path", sa.String(300), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("response_status", sa.Integer, nullable=True),
        sa.Column("response_type", sa.String(100), nullable=True),
        sa.Column("response_body", sa.Text, nullable=True),
        _at("created_at"),
        _at("completed_at", nullable=True),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def _webhooks() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("merchant_id", sa.String(40), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        _at("created_at"),
    )
    op.create_table(
        "webhook_sequences",
        sa.Column("merchant_id", sa.String(40), primary_key=True),
        sa.Column("last_sequence", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("merchant_id", sa.String(40), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("event_type", sa.String(80), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        _at("created_at"),
        sa.Column("attempts", sa.Integer, nullable=False),
        _at("next_attempt_at"),
        _at("leased_until", nullable=True),
        _at("delivered_at", nullable=True),
        sa.UniqueConstraint("merchant_id", "sequence", name="uq_outbox_events_merchant_sequence"),
    )
    op.create_index(
        "ix_outbox_events_pending", "outbox_events", ["delivered_at", "merchant_id", "sequence"]
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("event_id", sa.String(40), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
        _at("at"),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
    )


def upgrade() -> None:
    _idempotency()
    _webhooks()


def downgrade() -> None:
    for table in (
        "webhook_attempts",
        "outbox_events",
        "webhook_sequences",
        "webhook_endpoints",
        "idempotency_keys",
    ):
        op.drop_table(table)
