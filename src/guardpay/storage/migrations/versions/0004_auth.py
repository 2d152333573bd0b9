"""Authentication: credentials, sessions, devices, step-up challenges, operators, approvals.

Revision ID: 0004_auth
Revises: 0003_identity

Nothing secret is stored readable: login and payment passwords as argon2id hashes,
session tokens as SHA-256 (unique: a request is authenticated by one index lookup), SMS
codes as salted HMACs, TOTP secrets as vault tokens. Credentials, TOTP, devices and
challenges reference `users` (which erasure keeps); sessions and the failure log do not,
as they also serve operators and phone numbers that have no account.
`auth_failures` is a log of recent events that rate limits and the payment lockout count
over a window: failed logins (per account and per client address), wrong payment
passwords and wrong step-up answers (per user), and SMS codes sent (per user).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_auth"
down_revision = "0003_identity"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REF = sa.String(40)
WHEN = sa.DateTime(timezone=True)
TABLES = (
    "auth_approvals",
    "auth_operators",
    "auth_challenges",
    "auth_devices",
    "auth_sessions",
    "auth_failures",
    "auth_totp",
    "auth_credentials",
)


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, WHEN, nullable=nullable)


def _user(table: str) -> sa.ForeignKey:
    return sa.ForeignKey("users.id", name=f"fk_auth_{table}_user")


def upgrade() -> None:
    op.create_table(
        "auth_credentials",
        sa.Column("user_id", REF, _user("credentials"), primary_key=True),
        sa.Column("login_hash", sa.String(255), nullable=True),
        _at("login_changed_at", True),
        sa.Column("pay_hash", sa.String(255), nullable=True),
        _at("pay_changed_at", True),
        _at("pay_locked_until", True),
    )
    op.create_table(
        "auth_totp",
        sa.Column("user_id", REF, _user("totp"), primary_key=True),
        sa.Column("secret", sa.String(255), nullable=False),
        _at("created_at"),
        _at("confirmed_at", True),
        sa.Column("last_step", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "auth_failures",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        _at("at"),
    )
    op.create_index("ix_auth_failures_key", "auth_failures", ["kind", "key", "at"])
    _sessions_and_devices()
    _challenges()
    _operators_and_approvals()


def _sessions_and_devices() -> None:
    op.create_table(
        "auth_sessions",
        sa.Column("id", REF, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_id", REF, nullable=False),
        sa.Column("device_id", REF, nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        _at("created_at"),
        _at("last_seen_at"),
        _at("expires_at"),
        _at("revoked_at", True),
        sa.Column("revoked_reason", sa.String(32), nullable=True),
    )
    op.create_index("ix_auth_sessions_subject", "auth_sessions", ["subject_kind", "subject_id"])
    op.create_table(
        "auth_devices",
        sa.Column("id", REF, primary_key=True),
        sa.Column("user_id", REF, _user("devices"), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        _at("created_at"),
        _at("trusted_at", True),
        _at("revoked_at", True),
        sa.Column("last_proof_at", sa.BigInteger, nullable=True),
        _at("last_used_at", True),
        sa.UniqueConstraint("user_id", "public_key", name="uq_auth_devices_user_key"),
    )


def _challenges() -> None:
    op.create_table(
        "auth_challenges",
        sa.Column("id", REF, primary_key=True),
        sa.Column("user_id", REF, _user("challenges"), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("methods", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _at("created_at"),
        _at("expires_at"),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("device_id", REF, nullable=True),
        sa.Column("sms_hash", sa.String(64), nullable=True),
        sa.Column("sms_salt", sa.String(32), nullable=True),
        _at("sms_expires_at", True),
        sa.Column("sms_sends", sa.Integer, nullable=False),
        sa.Column("passed_method", sa.String(24), nullable=True),
        _at("passed_at", True),
    )
    op.create_index("ix_auth_challenges_user", "auth_challenges", ["user_id", "status"])


def _operators_and_approvals() -> None:
    op.create_table(
        "auth_operators",
        sa.Column("id", REF, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        _at("created_at"),
        _at("disabled_at", True),
    )
    op.create_table(
        "auth_approvals",
        sa.Column("id", REF, primary_key=True),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("required_role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", REF, nullable=False),
        _at("requested_at"),
        sa.Column("decided_by", REF, nullable=True),
        _at("decided_at", True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
    )
    op.create_index("ix_auth_approvals_status", "auth_approvals", ["status", "requested_at"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
