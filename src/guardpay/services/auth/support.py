"""What the authentication use cases share: who the user is, who may act, failure keys.

Identity is read through `ctx.uow.identity` only here, so authentication depends on the
identity tables in one place. Nothing here commits, logs or audits.
"""

from __future__ import annotations

from datetime import date, timedelta

from guardpay.domain.auth import limits
from guardpay.domain.auth.settings import LoginLimits
from guardpay.domain.identity.documents import parse_document
from guardpay.domain.identity.masking import mask_phone
from guardpay.domain.identity.phone import normalize_phone
from guardpay.errors import (
    GuardpayError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from guardpay.services.platform.context import Context

# Kinds of rows in auth_failures
LOGIN_ACCOUNT = "login_account"
LOGIN_IP = "login_ip"
PAYMENT = "payment"
STEP_UP = "step_up"  # wrong step-up answers, per user
SMS_SENT = "sms_sent"  # (not a failure, but counted the same way)
PHONE_INDEX = "phone"  # the blind-index kind identity uses for phone numbers


def weak_password(reason: str, param: str) -> InvalidRequest:
    return InvalidRequest(reason, code="weak_password", param=param)


def require_self(ctx: Context, user_id: str) -> None:
    """The user themself, or the system (registration flows, jobs) may act on an account's
    credentials; nobody else, operators included (they revoke sessions, nothing more)."""
    if ctx.actor.kind == "system" or (ctx.actor.kind == "user" and ctx.actor.id == user_id):
        return
    raise PermissionDenied("only the account holder may do this", code="not_your_account")


def require_user(ctx: Context, user_id: str) -> None:
    """`resource_missing` unless the account exists and was not erased."""
    user = ctx.uow.identity.user(user_id)
    if user is None or user.status != "active":
        raise NotFound("no such user", param="user_id")


def phone_index(ctx: Context, phone: str) -> str:
    """The blind index of a phone number as typed (`invalid_phone_number` if it is none)."""
    return ctx.vault.blind_index(PHONE_INDEX, normalize_phone(phone))


def user_for_phone_index(ctx: Context, index: str) -> str | None:
    user = ctx.uow.identity.user_by_phone_index(index)
    if user is None or user.status != "active":
        return None
    return user.id


def phone_of(ctx: Context, user_id: str) -> str | None:
    """The user's phone number in E.164, decrypted; None for an unknown or erased user."""
    user = ctx.uow.identity.user(user_id)
    if user is None or user.status != "active":
        return None
    return ctx.vault.decrypt(user.id, "phone", user.phone_enc)


def masked_phone(ctx: Context, user_id: str) -> str | None:
    phone = phone_of(ctx, user_id)
    return mask_phone(phone) if phone else None


def account_key(ctx: Context, user_id: str) -> str:
    """The per-account rate-limit key: the phone's blind index, as login uses."""
    user = ctx.uow.identity.user(user_id)
    if user is not None and user.phone_index:
        return user.phone_index
    return f"user:{user_id}"


def birth_date_of(ctx: Context, user_id: str) -> date | None:
    """From the verified identity document, if there is one with a birth date in it."""
    doc = ctx.uow.identity.document_of(user_id)
    if doc is None:
        return None
    try:
        number = ctx.vault.decrypt(user_id, "document_number", doc.number_enc)
        parsed = parse_document(doc.doc_type, number, ctx.now().date(), doc.country)
    except GuardpayError:
        return None
    return parsed.birth_date


def check_login_limits(ctx: Context, account: str, policy: LoginLimits) -> None:
    """`too_many_attempts` once the account or the client address used up its failures.
    Checked before any password, so a guesser learns nothing while limited."""
    since = ctx.now() - policy.window
    repo = ctx.uow.auth
    by_account = repo.count_failures(LOGIN_ACCOUNT, account, since)
    by_ip = repo.count_failures(LOGIN_IP, ctx.actor.ip, since) if ctx.actor.ip else 0
    if limits.login_blocked(by_account, by_ip, policy):
        minutes = int(policy.window.total_seconds() // 60)
        raise RateLimited(
            f"too many failed attempts; try again in {minutes} minutes",
            code="too_many_attempts",
            retry_after=int(policy.window.total_seconds()),
        )


def record_login_failure(ctx: Context, account: str, policy: LoginLimits) -> None:
    note(ctx, LOGIN_ACCOUNT, account, policy.window)
    if ctx.actor.ip:
        note(ctx, LOGIN_IP, ctx.actor.ip, policy.window)


def note(ctx: Context, kind: str, key: str, window: timedelta) -> None:
    """Log one event for a rate limit, dropping this key's events older than the window."""
    now = ctx.now()
    ctx.uow.auth.clear_failures(kind, key, before=now - window)
    ctx.uow.auth.add_failure(kind, key, now)


def within_limit(
    ctx: Context, kind: str, key: str, limit: int, window: timedelta, code: str
) -> None:
    """`RateLimited(code)` once `limit` events of `kind` for `key` fall in the window."""
    if ctx.uow.auth.count_failures(kind, key, ctx.now() - window) >= limit:
        minutes = int(window.total_seconds() // 60)
        raise RateLimited(
            f"too many attempts; try again within {minutes} minutes",
            code=code,
            retry_after=int(window.total_seconds()),
        )
