"""People and organisations: users, merchants, identity documents, verifications, bank cards.

Revision ID: 0003_identity
Revises: 0002_keys_audit

Personal data sits in `*_enc` columns as vault tokens sealed under the person's own data
key (registered in storage/encrypted.py for key rotation). Lookups and uniqueness use
blind indexes (`*_index`, keyed HMAC) so nothing is decrypted to find a phone or to see
that a card is already bound:
- `users.phone_index` is unique (one account per phone); NULL after erasure, so the
  number can register again;
- `bank_cards.pan_index` is unique among active cards (a partial index), so a card is
  bound to one account at a time whoever tries;
- `merchants.registration_index` is unique (one merchant per registration number).
Verification attempts record channel and outcome only, no personal data. Erasure keeps
every row (the ledger and the audit log refer to the ids) with its ciphertexts made
unreadable by destroying the person's keys. Times are timezone-aware UTC.
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0003_identity"
down_revision = "0002_keys_audit"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ACTIVE = sa.text("status = 'active'")


def _at(name: str, nullable: bool = False) -> "sa.Column[datetime]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("phone_enc", sa.Text, nullable=False),
        sa.Column("phone_index", sa.String(64), nullable=True, unique=True),
        sa.Column("display_name_enc", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("account_class", sa.String(16), nullable=False),
        sa.Column("person_index", sa.String(64), nullable=True),
        sa.Column("pseudonym", sa.String(32), nullable=True, unique=True),
        _at("created_at"),
        _at("verified_at", True),
        _at("erased_at", True),
    )
    op.create_index("ix_users_person_index", "users", ["person_index"])
    op.create_table(
        "identity_documents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False, unique=True),
        sa.Column("doc_type", sa.String(32), nullable=False),
        sa.Column("country", sa.String(3), nullable=True),
        sa.Column("number_enc", sa.Text, nullable=False),
        sa.Column("number_index", sa.String(64), nullable=True),
        sa.Column("name_enc", sa.Text, nullable=False),
        _at("verified_at"),
    )
    op.create_index("ix_identity_documents_number", "identity_documents", ["number_index"])
    op.create_table(
        "identity_verifications",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        _at("at"),
    )
    op.create_index("ix_identity_verifications_user", "identity_verifications", ["user_id", "at"])
    _merchants()
    _bank_cards()


def _merchants() -> None:
    op.create_table(
        "merchants",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("parent_id", sa.String(32), sa.ForeignKey("merchants.id"), nullable=True),
        sa.Column("legal_name", sa.String(100), nullable=False),
        sa.Column("display_name", sa.String(32), nullable=False),
        sa.Column("registration_enc", sa.Text, nullable=True),
        sa.Column("registration_index", sa.String(64), nullable=True, unique=True),
        sa.Column("mcc", sa.String(4), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("settlement_account_id", sa.BigInteger, nullable=True),
        _at("created_at"),
    )
    op.create_index("ix_merchants_parent", "merchants", ["parent_id"])


def _bank_cards() -> None:
    op.create_table(
        "bank_cards",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("pan_enc", sa.Text, nullable=False),
        sa.Column("pan_index", sa.String(64), nullable=True),
        sa.Column("token", sa.String(40), nullable=True, unique=True),
        sa.Column("bin", sa.String(8), nullable=False),
        sa.Column("last4", sa.String(4), nullable=True),
        sa.Column("bank_code", sa.String(16), nullable=False),
        sa.Column("bank", sa.String(64), nullable=False),
        sa.Column("card_type", sa.String(8), nullable=False),
        sa.Column("scheme", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _at("bound_at"),
        _at("unbound_at", True),
    )
    op.create_index("ix_bank_cards_user", "bank_cards", ["user_id"])
    op.create_index("ix_bank_cards_pan", "bank_cards", ["pan_index"])
    op.create_index(
        "ux_bank_cards_active_pan",
        "bank_cards",
        ["pan_index"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def downgrade() -> None:
    for table in (
        "bank_cards",
        "merchants",
        "identity_verifications",
        "identity_documents",
        "users",
    ):
        op.drop_table(table)
