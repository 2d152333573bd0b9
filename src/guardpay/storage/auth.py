"""Authentication tables and their repository (created by migration 0004_auth).

No secret is stored readable: passwords as argon2id hashes, session tokens as SHA-256,
SMS codes as salted HMACs, TOTP secrets as vault tokens (registered with
`storage/encrypted.py`, so key rotation re-encrypts them). Credentials, TOTP, devices and
challenges belong to a row of `users` (foreign keys; erasure keeps that row); sessions and
the failure log do not, as they also serve operators and unknown phone numbers. Times are
stored in UTC; SQLite hands them back naive, `_utc` makes them aware.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from guardpay.domain.auth.records import Approval, Credentials, Device, Operator, TotpState
from guardpay.domain.auth.sessions import Session
from guardpay.domain.auth.stepup import Challenge, ChallengeStatus
from guardpay.storage.encrypted import EncryptedColumn, register
from guardpay.storage.engine.db import as_utc as _utc
from guardpay.storage.engine.memo import RowMemo
from guardpay.storage.engine.prepared import once, rows_by, run, select_by
from guardpay.storage.schema import Id, metadata

Ref = String(40)  # "usr_...", "ses_...", "dev_...": ids are strings
When = DateTime(timezone=True)


def _at(name: str, nullable: bool = False) -> Column[datetime]:
    return Column(name, When, nullable=nullable)


def _user(table: str) -> ForeignKey:
    # By name, not by the Table object: storage/identity.py and this module are both
    # imported by schema.py, in either order.
    return ForeignKey("users.id", name=f"fk_auth_{table}_user")


auth_credentials = Table(
    "auth_credentials",
    metadata,
    Column("user_id", Ref, _user("credentials"), primary_key=True),
    Column("login_hash", String(255), nullable=True),
    _at("login_changed_at", True),
    Column("pay_hash", String(255), nullable=True),
    _at("pay_changed_at", True),
    _at("pay_locked_until", True),
)
auth_totp = Table(
    "auth_totp",
    metadata,
    Column("user_id", Ref, _user("totp"), primary_key=True),
    Column("secret", String(255), nullable=False),
    _at("created_at"),
    _at("confirmed_at", True),
    Column("last_step", BigInteger, nullable=True),
)
auth_operator_totp = Table(  # an operator's authenticator app: the console's second factor
    "auth_operator_totp",
    metadata,
    Column("operator_id", Ref, ForeignKey("auth_operators.id"), primary_key=True),
    Column("secret", String(255), nullable=False),
    _at("created_at"),
    _at("confirmed_at", True),
    Column("last_step", BigInteger, nullable=True),
)
auth_operator_enrolments = Table(  # an admin's one-time code to set up an authenticator
    "auth_operator_enrolments",
    metadata,
    Column("operator_id", Ref, ForeignKey("auth_operators.id"), primary_key=True),
    Column("code_hash", String(64), nullable=False),
    Column("issued_by", String(60), nullable=False),
    _at("expires_at"),
)
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(24), nullable=False),
    Column("key", String(128), nullable=False),
    _at("at"),
    Index("ix_auth_failures_key", "kind", "key", "at"),
)
auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", Ref, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("subject_kind", String(16), nullable=False),
    Column("subject_id", Ref, nullable=False),
    Column("device_id", Ref, nullable=True),
    Column("ip", String(64), nullable=True),
    _at("created_at"),
    _at("last_seen_at"),
    _at("expires_at"),
    _at("revoked_at", True),
    Column("revoked_reason", String(32), nullable=True),
    Index("ix_auth_sessions_subject", "subject_kind", "subject_id"),
)
auth_devices = Table(
    "auth_devices",
    metadata,
    Column("id", Ref, primary_key=True),
    Column("user_id", Ref, _user("devices"), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("name", String(80), nullable=False),
    _at("created_at"),
    _at("trusted_at", True),
    _at("revoked_at", True),
    Column("last_proof_at", BigInteger, nullable=True),
    _at("last_used_at", True),
    UniqueConstraint("user_id", "public_key", name="uq_auth_devices_user_key"),
)
auth_challenges = Table(
    "auth_challenges",
    metadata,
    Column("id", Ref, primary_key=True),
    Column("user_id", Ref, _user("challenges"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("methods", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    _at("created_at"),
    _at("expires_at"),
    Column("nonce", String(64), nullable=False),
    Column("device_id", Ref, nullable=True),
    Column("sms_hash", String(64), nullable=True),
    Column("sms_salt", String(32), nullable=True),
    _at("sms_expires_at", True),
    Column("sms_sends", Integer, nullable=False),
    Column("passed_method", String(24), nullable=True),
    _at("passed_at", True),
    Index("ix_auth_challenges_user", "user_id", "status"),
)
auth_operators = Table(
    "auth_operators",
    metadata,
    Column("id", Ref, primary_key=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    _at("created_at"),
    _at("disabled_at", True),
)
auth_approvals = Table(
    "auth_approvals",
    metadata,
    Column("id", Ref, primary_key=True),
    Column("action", String(80), nullable=False),
    Column("payload", Text, nullable=False),
    Column("required_role", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_by", Ref, nullable=False),
    _at("requested_at"),
    Column("decided_by", Ref, nullable=True),
    _at("decided_at", True),
    Column("reason", Text, nullable=True),
    Column("result", Text, nullable=True),
    Index("ix_auth_approvals_status", "status", "requested_at"),
)

register(
    EncryptedColumn("auth_totp", "user_id", "user_id", "secret", "totp_secret"),
    EncryptedColumn("auth_operator_totp", "operator_id", "operator_id", "secret", "totp_secret"),
)

_TIMES = frozenset(
    c.name
    for t in metadata.tables.values()
    if t.name.startswith("auth_")
    for c in t.columns
    if isinstance(c.type, DateTime)
)


def _db(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values for a write: datetimes in UTC (SQLite would drop any other offset)."""
    return {k: _utc(v) if isinstance(v, datetime) else v for k, v in values.items()}


def _row(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {k: _utc(v) if k in _TIMES else v for k, v in row.items()}


def _challenge(row: Mapping[Any, Any]) -> Challenge:
    values = _row(row)
    values["methods"] = tuple(m for m in values["methods"].split(",") if m)
    values["status"] = ChallengeStatus(values["status"])
    return Challenge(**values)


def _approval(row: Mapping[Any, Any]) -> Approval:
    values = _row(row)
    values["payload"] = json.loads(values["payload"])
    values["result"] = json.loads(values["result"]) if values["result"] is not None else None
    return Approval(**values)


_TOUCH = once(update(auth_sessions).where(auth_sessions.c.id == bindparam("w_id")))


class AuthRepository:
    """Every authentication read and write, inside the caller's transaction."""

    def __init__(self, conn: Connection, memo: RowMemo | None = None) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.memo = memo or RowMemo()

    def _one(self, table: Table, *, lock: bool = False, **where: Any) -> dict[str, Any] | None:
        """One row; `lock` for read-modify-write (counters, one-shot states), so two
        concurrent requests queue instead of both passing (SQLite: BEGIN IMMEDIATE)."""
        query = select_by(table, tuple(where), self.pg and lock)
        return run(self.conn, query, where).mappings().first()

    # -- credentials ---------------------------------------------------------------------
    def credentials(self, user_id: str, *, lock: bool = True) -> Credentials | None:
        """Locked for the transaction on first read (kept: the memo forgets on a rolled
        back savepoint, which releases the lock); `lock=False` in a read-only one."""

        def load() -> Credentials | None:
            row = self._one(auth_credentials, lock=lock, user_id=user_id)
            return Credentials(**_row(row)) if row is not None else None

        if not lock:
            return load()
        return self.memo.get(("auth_credentials", user_id), load)

    def read_credentials_ahead(self, user_ids: Sequence[str]) -> None:
        """Several users' credentials, locked as `credentials` locks them, into the memo
        (None for a user without any)."""
        rows = rows_by(self.conn, auth_credentials, "user_id", user_ids, lock=True)
        found = {k: Credentials(**_row(r)) for k, r in rows.items()}
        self.memo.put_all("auth_credentials", user_ids, found)

    def save_credentials(self, creds: Credentials) -> None:
        self.memo.forget(("auth_credentials", creds.user_id))
        values = _db(creds.__dict__)
        changed = self.conn.execute(
            update(auth_credentials).where(auth_credentials.c.user_id == creds.user_id),
            values,
        ).rowcount
        if not changed:
            self.conn.execute(insert(auth_credentials), values)

    # -- failures (rate limits and lockout) ----------------------------------------------
    def add_failure(self, kind: str, key: str, at: datetime) -> None:
        self.conn.execute(insert(auth_failures), _db({"kind": kind, "key": key, "at": at}))

    def count_failures(self, kind: str, key: str, since: datetime) -> int:
        t = auth_failures.c
        query = select(func.count()).where(t.kind == kind, t.key == key, t.at > _utc(since))
        return int(self.conn.execute(query).scalar_one())

    def clear_failures(self, kind: str, key: str, before: datetime | None = None) -> None:
        """Forget failures of `key` (all, or those older than `before`: housekeeping)."""
        t = auth_failures.c
        query = delete(auth_failures).where(t.kind == kind, t.key == key)
        if before is not None:
            query = query.where(t.at <= _utc(before))
        self.conn.execute(query)

    # -- TOTP ----------------------------------------------------------------------------
    def totp(self, user_id: str, *, operator: bool = False, lock: bool = True) -> TotpState | None:
        """A user's (or, `operator`, an operator's) authenticator, locked for the step
        unless only read (`lock=False`)."""
        table, key = (auth_operator_totp, "operator_id") if operator else (auth_totp, "user_id")
        row = self._one(table, lock=lock, **{key: user_id})
        if row is None:
            return None
        values = _row(row)
        values["secret_token"] = values.pop("secret")
        values["user_id"] = values.pop(key)
        return TotpState(**values)

    def set_enrolment(
        self, operator_id: str, code_hash: str, issued_by: str, expires_at: datetime
    ) -> None:
        t = auth_operator_enrolments
        self.conn.execute(delete(t).where(t.c.operator_id == operator_id))
        row = {"operator_id": operator_id, "code_hash": code_hash, "issued_by": issued_by}
        self.conn.execute(insert(t).values(**row, expires_at=expires_at))

    def take_enrolment(self, operator_id: str, code_hash: str, now: datetime) -> bool:
        """Use up the operator's enrolment code if it is this one and still valid."""
        t = auth_operator_enrolments
        done = self.conn.execute(
            delete(t).where(
                t.c.operator_id == operator_id, t.c.code_hash == code_hash, t.c.expires_at > now
            )
        )
        return done.rowcount == 1

    def drop_operator_totp(self, operator_id: str) -> None:
        t = auth_operator_totp
        self.conn.execute(delete(t).where(t.c.operator_id == operator_id))

    def operators_with_totp(self) -> set[str]:
        """The operators whose authenticator is confirmed."""
        t = auth_operator_totp
        found = self.conn.execute(select(t.c.operator_id).where(t.c.confirmed_at.is_not(None)))
        return {str(r[0]) for r in found}

    def save_totp(self, state: TotpState, *, operator: bool = False) -> None:
        table, key = (auth_operator_totp, "operator_id") if operator else (auth_totp, "user_id")
        values = _db(state.__dict__)
        values["secret"] = values.pop("secret_token")
        values[key] = values.pop("user_id")
        self.conn.execute(delete(table).where(table.c[key] == state.user_id))
        self.conn.execute(insert(table), values)

    # -- sessions ------------------------------------------------------------------------
    def add_session(self, session: Session, token_hash: str) -> None:
        self.memo.forget_table("auth_sessions")
        self.conn.execute(
            insert(auth_sessions), {**_db(session.__dict__), "token_hash": token_hash}
        )

    def session_by_token_hash(self, token_hash: str) -> Session | None:
        def load() -> Session | None:
            query = select_by(auth_sessions, ("token_hash",))
            row = run(self.conn, query, {"token_hash": token_hash}).mappings().first()
            return _session(row) if row is not None else None

        return self.memo.get(("auth_sessions", token_hash), load)

    def read_sessions_ahead(self, token_hashes: Sequence[str]) -> dict[str, Session]:
        """The sessions of several bearer tokens, into the memo (None for an unknown
        token); those found, by token hash."""
        rows = rows_by(self.conn, auth_sessions, "token_hash", token_hashes)
        found = {k: _session(r) for k, r in rows.items()}
        self.memo.put_all("auth_sessions", token_hashes, found)
        return found

    def session(self, session_id: str) -> Session | None:
        row = self._one(auth_sessions, id=session_id)
        return _session(row) if row is not None else None

    def sessions_of(self, kind: str, subject_id: str, *, active_at: datetime) -> list[Session]:
        t = auth_sessions.c
        query = (
            select(auth_sessions)
            .where(t.subject_kind == kind, t.subject_id == subject_id, t.revoked_at.is_(None))
            .where(t.expires_at > _utc(active_at))
            .order_by(t.last_seen_at.desc(), t.id)
        )
        return [_session(r) for r in self.conn.execute(query).mappings()]

    def touch_session(self, session_id: str, at: datetime) -> None:
        # remembered by token hash, not by id: only that session's entry is dropped, not a
        # batch's every session (each payer's first payment in a minute touches its own)
        self.memo.forget_table(
            "auth_sessions", changed=lambda s: isinstance(s, Session) and s.id == session_id
        )
        run(self.conn, _TOUCH, {**_db({"last_seen_at": at}), "w_id": session_id})

    def revoke_sessions(
        self,
        kind: str,
        subject_id: str,
        at: datetime,
        reason: str,
        *,
        only: str | None = None,
        keep: str | None = None,
        device_id: str | None = None,
    ) -> list[str]:
        """Revoke the subject's live sessions (just `only`, all but `keep`, or those on
        `device_id`); returns their ids."""
        t = auth_sessions.c
        where = [t.subject_kind == kind, t.subject_id == subject_id, t.revoked_at.is_(None)]
        if only is not None:
            where.append(t.id == only)
        if keep is not None:
            where.append(t.id != keep)
        if device_id is not None:
            where.append(t.device_id == device_id)
        ids = [r[0] for r in self.conn.execute(select(t.id).where(*where).order_by(t.id))]
        if ids:
            self.memo.forget_table("auth_sessions")
            values = _db({"revoked_at": at, "revoked_reason": reason})
            self.conn.execute(update(auth_sessions).where(t.id.in_(ids)), values)
        return ids

    # -- devices -------------------------------------------------------------------------
    def add_device(self, device: Device) -> None:
        self.memo.forget(("auth_devices", device.id))
        self.conn.execute(insert(auth_devices), _db(device.__dict__))

    def device(self, device_id: str) -> Device | None:
        def load() -> Device | None:
            row = self._one(auth_devices, id=device_id)
            return Device(**_row(row)) if row is not None else None

        return self.memo.get(("auth_devices", device_id), load)

    def read_devices_ahead(self, device_ids: Sequence[str]) -> None:
        rows = rows_by(self.conn, auth_devices, "id", device_ids)
        self.memo.put_all(
            "auth_devices", device_ids, {k: Device(**_row(r)) for k, r in rows.items()}
        )

    def device_by_key(self, user_id: str, public_key: str) -> Device | None:
        row = self._one(auth_devices, lock=True, user_id=user_id, public_key=public_key)
        return Device(**_row(row)) if row is not None else None

    def devices_of(self, user_id: str) -> list[Device]:
        t = auth_devices.c
        query = select(auth_devices).where(t.user_id == user_id).order_by(t.created_at, t.id)
        return [Device(**_row(r)) for r in self.conn.execute(query).mappings()]

    def update_device(self, device_id: str, **values: Any) -> None:
        self.memo.forget(("auth_devices", device_id))
        query = update(auth_devices).where(auth_devices.c.id == device_id)
        self.conn.execute(query, _db(values))

    # -- step-up challenges --------------------------------------------------------------
    def add_challenge(self, challenge: Challenge) -> None:
        self.conn.execute(insert(auth_challenges), _challenge_values(challenge))

    def challenge(self, challenge_id: str) -> Challenge | None:
        row = self._one(auth_challenges, lock=True, id=challenge_id)
        return _challenge(row) if row is not None else None

    def save_challenge(self, challenge: Challenge) -> None:
        query = update(auth_challenges).where(auth_challenges.c.id == challenge.id)
        self.conn.execute(query, _challenge_values(challenge))

    def pending_challenges(self, user_id: str, now: datetime) -> list[Challenge]:
        t = auth_challenges.c
        query = (
            select(auth_challenges)
            .where(t.user_id == user_id, t.status == ChallengeStatus.PENDING.value)
            .where(t.expires_at > _utc(now))
            .order_by(t.created_at, t.id)
        )
        return [_challenge(r) for r in self.conn.execute(query).mappings()]

    # -- operators -----------------------------------------------------------------------
    def add_operator(self, operator: Operator) -> None:
        self.conn.execute(insert(auth_operators), _db(operator.__dict__))

    def operator(self, operator_id: str) -> Operator | None:
        row = self._one(auth_operators, id=operator_id)
        return Operator(**_row(row)) if row is not None else None

    def operator_by_name(self, name: str) -> Operator | None:
        row = self._one(auth_operators, name=name)
        return Operator(**_row(row)) if row is not None else None

    def operators(self) -> list[Operator]:
        """Every operator, oldest first (a console has tens, not thousands)."""
        t = auth_operators.c
        query = select(auth_operators).order_by(t.created_at, t.name)
        return [Operator(**_row(r)) for r in self.conn.execute(query).mappings()]

    def update_operator(self, operator_id: str, **values: Any) -> None:
        query = update(auth_operators).where(auth_operators.c.id == operator_id)
        self.conn.execute(query, _db(values))

    # -- approvals (four eyes) -----------------------------------------------------------
    def add_approval(self, approval: Approval) -> None:
        self.conn.execute(insert(auth_approvals), _approval_values(approval))

    def approval(self, approval_id: str) -> Approval | None:
        row = self._one(auth_approvals, lock=True, id=approval_id)
        return _approval(row) if row is not None else None

    def save_approval(self, approval: Approval) -> None:
        query = update(auth_approvals).where(auth_approvals.c.id == approval.id)
        self.conn.execute(query, _approval_values(approval))

    def approvals(
        self, status: str | None = None, limit: int = 100, after: Approval | None = None
    ) -> Sequence[Approval]:
        """Oldest first; `after`: the last one of the previous page (keyset paging)."""
        t = auth_approvals.c
        query = select(auth_approvals).order_by(t.requested_at, t.id).limit(limit)
        if status is not None:
            query = query.where(t.status == status)
        if after is not None:
            query = query.where(
                (t.requested_at > after.requested_at)
                | ((t.requested_at == after.requested_at) & (t.id > after.id))
            )
        return [_approval(r) for r in self.conn.execute(query).mappings()]


def _session(row: Mapping[Any, Any]) -> Session:
    values = _row(row)
    values.pop("token_hash")
    return Session(**values)


def _challenge_values(challenge: Challenge) -> dict[str, Any]:
    values = _db(challenge.__dict__)
    values["methods"] = ",".join(challenge.methods)
    values["status"] = challenge.status.value
    return values


def _approval_values(approval: Approval) -> dict[str, Any]:
    values = _db(approval.__dict__)
    values["payload"] = json.dumps(approval.payload, sort_keys=True, default=str)
    values["result"] = (
        json.dumps(approval.result, sort_keys=True, default=str)
        if approval.result is not None
        else None
    )
    return values
