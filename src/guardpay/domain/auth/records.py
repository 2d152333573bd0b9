"""What authentication keeps about people, devices and operators, as plain values.

Secrets appear here only as hashes (argon2id) or vault tokens, and each record's repr
leaves them out, so printing one in a log or a failing test shows nothing usable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Credentials:
    user_id: str
    login_hash: str | None = field(default=None, repr=False)
    login_changed_at: datetime | None = None
    pay_hash: str | None = field(default=None, repr=False)
    pay_changed_at: datetime | None = None
    pay_locked_until: datetime | None = None


@dataclass(frozen=True)
class TotpState:
    user_id: str
    secret_token: str = field(repr=False)  # the vault token of the base32 secret
    created_at: datetime
    confirmed_at: datetime | None = None
    last_step: int | None = None  # the newest time step accepted: older codes are refused

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


@dataclass(frozen=True)
class Device:
    id: str
    user_id: str
    public_key: str  # raw Ed25519 key, unpadded base64url
    name: str
    created_at: datetime
    trusted_at: datetime | None = None
    revoked_at: datetime | None = None
    last_proof_at: int | None = None  # unix seconds of the newest accepted login proof
    last_used_at: datetime | None = None

    @property
    def trusted(self) -> bool:
        return self.trusted_at is not None and self.revoked_at is None


@dataclass(frozen=True)
class Operator:
    id: str
    name: str
    role: str
    password_hash: str = field(repr=False)
    created_at: datetime
    disabled_at: datetime | None = None


@dataclass(frozen=True)
class Approval:
    id: str
    action: str
    payload: Mapping[str, Any]
    required_role: str
    status: str  # pending, approved, rejected
    requested_by: str
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    result: Mapping[str, Any] | None = None
