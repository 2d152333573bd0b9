"""What the identity use cases share: ids, loading a live user, who may act, decryption.

Kept apart so each use-case module stays small; nothing here commits, logs or audits.
"""

from __future__ import annotations

from datetime import date, datetime

from guardpay.errors import Conflict, DataErased, NotFound, PermissionDenied
from guardpay.services.platform.access import require_role
from guardpay.services.platform.context import Context
from guardpay.storage.identity import UserRow

#: what an export shows in place of a field whose key was destroyed
ERASED = "[erased]"


def today(ctx: Context) -> date:
    return ctx.now().date()


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def load_user(ctx: Context, user_id: str, *, for_update: bool = False) -> UserRow:
    user = ctx.uow.identity.user(user_id, for_update=for_update)
    if user is None:
        raise NotFound("no such user", param="user_id")
    return user


def live_user(ctx: Context, user_id: str, *, for_update: bool = False) -> UserRow:
    """The user, refusing one whose personal data was erased (`user_erased`)."""
    user = load_user(ctx, user_id, for_update=for_update)
    if user.status == "erased":
        raise Conflict(
            "this account's personal data was erased", code="user_erased", param="user_id"
        )
    return user


def require_operator(ctx: Context, role: str) -> None:
    """Operators only (`operator_required`), active and holding at least `role`
    (`insufficient_role`, from services/auth/operators.py)."""
    if ctx.actor.kind != "operator":
        raise PermissionDenied(
            f"only an operator ({role} or above) may do this", code="operator_required"
        )
    require_role(ctx, role)


def require_self_or_operator(ctx: Context, user_id: str, role: str) -> None:
    """The person themself, the system (a scheduled job), or an operator with `role`."""
    if ctx.actor.kind == "system" or (ctx.actor.kind == "user" and ctx.actor.id == user_id):
        return
    if ctx.actor.kind == "user":
        raise PermissionDenied("a user may act only on their own data", code="not_your_account")
    require_operator(ctx, role)


def open_field(ctx: Context, subject: str, field: str, token: str | None) -> str | None:
    """Decrypt for an export: a destroyed key shows as `ERASED` instead of failing."""
    if token is None:
        return None
    try:
        return ctx.vault.decrypt(subject, field, token)
    except DataErased:
        return ERASED
