"""Archives: the audit log's oldest entries and delivered webhook events leave the live
database for files, and the database keeps a registry of what went where.

Why. A team keeps years of records, and every payment writes an audit entry: the live
tables would grow without end. `guardpay archive` writes the oldest entries to files
(services/platform/archive.py), then deletes them; the audit chain stays verifiable
because the registry `audit_archives` keeps each file's first and last entry, their
hashes and the file's SHA-256, and `audit verify` starts the live chain from the last
archived hash (and with `--archive`, re-reads the files too).

The database itself allows only that: `audit_log`'s DELETE guard now lets through an
entry at or below the newest archived seq and nothing else, and `audit_archives` is
append-only, as `audit_log` is. UPDATE stays forbidden for every entry.

`outbox_archives` records the files of delivered webhook events (with their attempts).

Online: two new tables and a changed trigger; nothing is copied. Downgrade is refused
while any archive is registered: the entries it removed are in files, not here.

Revision ID: 0017_archives
Revises: 0016_transfer_parts
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_archives"
down_revision = "0016_transfer_parts"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REFUSED = "'audit_log is append-only'"
ARCHIVED = "(SELECT COALESCE(MAX(last_seq), 0) FROM audit_archives)"


def upgrade() -> None:
    op.create_table(
        "audit_archives",
        sa.Column("last_seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("first_seq", sa.BigInteger, nullable=False),
        sa.Column("first_prev_hash", sa.String(64), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "outbox_archives",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.BigInteger, nullable=False),
        sa.Column("delivered_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER audit_log_no_delete")
        op.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            f"WHEN old.seq > {ARCHIVED} BEGIN SELECT RAISE(ABORT, {REFUSED}); END"
        )
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_archives_no_{action.lower()} BEFORE {action} "
                "ON audit_archives BEGIN "
                "SELECT RAISE(ABORT, 'audit_archives is append-only'); END"
            )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP = 'DELETE' AND OLD.seq <= {ARCHIVED} THEN RETURN OLD; END IF; "
        f"RAISE EXCEPTION {REFUSED}; END $$"
    )
    op.execute(
        "CREATE FUNCTION audit_archives_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_archives is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_archives_append_only BEFORE UPDATE OR DELETE ON audit_archives "
        "FOR EACH ROW EXECUTE FUNCTION audit_archives_append_only()"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT COUNT(*) FROM audit_archives")).scalar_one():
        raise RuntimeError(
            "audit entries were archived to files: restore them before downgrading past 0017"
        )
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER audit_log_no_delete")
        op.execute(
            "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, {REFUSED}); END"
        )
    else:
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION {REFUSED}; END $$"
        )
        op.execute("DROP TRIGGER audit_archives_append_only ON audit_archives")
        op.execute("DROP FUNCTION audit_archives_append_only()")
    op.drop_table("outbox_archives")
    op.drop_table("audit_archives")
