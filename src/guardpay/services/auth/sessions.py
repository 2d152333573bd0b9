"""Sessions: issue one, authenticate a request by its token, list and revoke them.

The token is returned once, inside `IssuedSession`; only its SHA-256 is stored. Errors
name what is wrong with a presented token (`session_invalid`, `session_expired`,
`session_revoked`) but never echo it.
"""

from __future__ import annotations

from dataclasses import replace

from guardpay.domain.auth.sessions import (
    USER,
    IssuedSession,
    Session,
    absolute_expiry,
    needs_touch,
    session_problem,
)
from guardpay.domain.auth.settings import DEFAULT_SETTINGS, AuthSettings
from guardpay.errors import AuthenticationFailed, NotFound, PermissionDenied
from guardpay.security.tokens import new_id, new_token, token_hash
from guardpay.services.platform.context import Context

_MESSAGES = {
    "session_invalid": "the session token is not valid",
    "session_expired": "the session has expired; log in again",
    "session_revoked": "the session was ended; log in again",
}


def issue_session(
    ctx: Context,
    subject_kind: str,
    subject_id: str,
    *,
    device_id: str | None = None,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> IssuedSession:
    now = ctx.now()
    session = Session(
        id=new_id("ses"),
        subject_kind=subject_kind,
        subject_id=subject_id,
        device_id=device_id,
        ip=ctx.actor.ip,
        created_at=now,
        last_seen_at=now,
        expires_at=absolute_expiry(now, settings.sessions),
    )
    token = new_token()
    ctx.uow.auth.add_session(session, token_hash(token))
    return IssuedSession(session, token)


def authenticate(ctx: Context, token: str, *, settings: AuthSettings = DEFAULT_SETTINGS) -> Session:
    """The live session a bearer token stands for; `last_seen` moves at most once a minute."""
    session = ctx.uow.auth.session_by_token_hash(token_hash(token.strip()))
    if session is None:
        raise AuthenticationFailed(_MESSAGES["session_invalid"], code="session_invalid")
    now = ctx.now()
    problem = session_problem(session, now, settings.sessions)
    if problem is not None:
        raise AuthenticationFailed(_MESSAGES[problem], code=problem)
    if needs_touch(session, now, settings.sessions):
        ctx.uow.auth.touch_session(session.id, now)
        session = replace(session, last_seen_at=now)
    return session


def list_sessions(
    ctx: Context, user_id: str, *, kind: str = USER, settings: AuthSettings = DEFAULT_SETTINGS
) -> list[Session]:
    """The subject's live sessions (device, address, created, last seen), newest first."""
    _may_manage(ctx, kind, user_id)
    now = ctx.now()
    found = ctx.uow.auth.sessions_of(kind, user_id, active_at=now)
    return [s for s in found if session_problem(s, now, settings.sessions) is None]


def revoke_session(ctx: Context, user_id: str, session_id: str, *, kind: str = USER) -> None:
    """End one session of the subject (`resource_missing` if it is not theirs)."""
    _may_manage(ctx, kind, user_id)
    ended = ctx.uow.auth.revoke_sessions(kind, user_id, ctx.now(), "revoked", only=session_id)
    if not ended:
        existing = ctx.uow.auth.session(session_id)
        if existing is None or existing.subject_id != user_id:
            raise NotFound("no such session", param="session_id")
        return  # already ended: revoking again changes nothing
    _audited(ctx, user_id, ended, "revoked")


def revoke_other_sessions(
    ctx: Context, user_id: str, current_session_id: str, *, kind: str = USER
) -> list[str]:
    """Sign out everywhere else ("that wasn't me"); the ids of the sessions ended."""
    _may_manage(ctx, kind, user_id)
    ended = ctx.uow.auth.revoke_sessions(
        kind, user_id, ctx.now(), "signed_out_elsewhere", keep=current_session_id
    )
    _audited(ctx, user_id, ended, "signed_out_elsewhere")
    return ended


def revoke_all_sessions(
    ctx: Context, user_id: str, reason: str, *, kind: str = USER, keep: str | None = None
) -> list[str]:
    """End every session (after a password change, or an operator's fraud response)."""
    ended = ctx.uow.auth.revoke_sessions(kind, user_id, ctx.now(), reason[:32], keep=keep)
    _audited(ctx, user_id, ended, reason[:32])
    return ended


def _audited(ctx: Context, subject: str, ended: list[str], reason: str) -> None:
    if ended:
        ctx.audit(
            "auth.session_revoked",
            subject=subject,
            details={"sessions": ended, "reason": reason},
        )


def _may_manage(ctx: Context, kind: str, subject_id: str) -> None:
    """The subject themself, the system, or (for users' sessions) a supervisor."""
    actor = ctx.actor
    if actor.kind == "system" or (actor.kind == kind and actor.id == subject_id):
        return
    if actor.kind == "operator" and kind == USER:
        from guardpay.services.platform.access import require_role

        require_role(ctx, "supervisor")
        return
    raise PermissionDenied("only the account holder may do this", code="not_your_account")
