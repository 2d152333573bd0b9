"""Sessions: what one is, and when it stops being valid.

The bearer token itself is never part of a session record: storage keeps only its SHA-256
hash (security/tokens.py), so a leaked table cannot be replayed. A session ends when it is
revoked, when it has been idle too long, or at its absolute expiry, whichever comes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from guardpay.domain.auth.settings import SessionPolicy

USER = "user"
OPERATOR = "operator"


@dataclass(frozen=True)
class Session:
    id: str
    subject_kind: str  # "user" or "operator"
    subject_id: str
    device_id: str | None
    ip: str | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # the absolute end
    revoked_at: datetime | None = None
    revoked_reason: str | None = None


@dataclass(frozen=True)
class IssuedSession:
    """A new session and its token: the only time the token exists outside the client."""

    session: Session
    token: str

    def __repr__(self) -> str:  # keep the token out of tracebacks and debug logs
        return f"IssuedSession(session={self.session!r}, token='[redacted]')"


def session_problem(session: Session, now: datetime, policy: SessionPolicy) -> str | None:
    """The error code that refuses this session now, or None if it is valid."""
    if session.revoked_at is not None:
        return "session_revoked"
    if now >= session.expires_at or now >= session.last_seen_at + policy.idle_timeout:
        return "session_expired"
    return None


def absolute_expiry(created_at: datetime, policy: SessionPolicy) -> datetime:
    return created_at + policy.absolute_timeout


def needs_touch(session: Session, now: datetime, policy: SessionPolicy) -> bool:
    return now - session.last_seen_at >= policy.touch_every
