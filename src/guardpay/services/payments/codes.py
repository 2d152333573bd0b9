"""Customer payment codes: the payer's phone shows a code, the merchant's terminal
collects with it.

Each device of a user gets its own random 32-byte secret, stored encrypted under the
user's data key (so erasing the person destroys it). `generate_payment_code` needs the
payer to authenticate (payment password and/or step-up; with neither it demands a
step-up), derives the code from the secret and the time step (domain/payments/codes.py)
and stores it hashed with the factors shown, because the terminal's payment is made
later without the payer's input. `collect` refuses an unknown, expired or used code as a
security event (committed, nothing else written), then pays like any other payment.

A screen showing a code (the wallet) asks `code_on_screen` every few seconds: it learns
when a till has paid with it, and in the code's last seconds gets a fresh one with the
same factors, the old one retired, for `SHOW_WINDOW` after the payer showed them; then
the payer must authenticate again. A session without a device key (a browser) gets its
codes under `UNBOUND`.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from guardpay.domain.money import Money
from guardpay.domain.payments import codes
from guardpay.domain.payments.limits import PAYMENT_CODE
from guardpay.errors import Conflict, NotFound, PermissionDenied
from guardpay.services.auth import facade as auth
from guardpay.services.payments import pipeline
from guardpay.services.payments.limits import lock_payer
from guardpay.services.payments.pipeline import PURPOSE, Authorization, Payment
from guardpay.services.payments.qr import active_merchant
from guardpay.services.platform.context import Context
from guardpay.storage.payments import CodeRow

SECRET_FIELD = "payment_code_secret"
UNBOUND = "unbound"  # the device of a session that holds no device key


def device_of(session_device_id: str | None) -> str:
    """The device a session's codes are bound to."""
    return session_device_id or UNBOUND


_MESSAGES = {
    "payment_code_invalid": "this is not a valid payment code",
    "payment_code_expired": "this payment code has expired; show a new one",
    "payment_code_used": "this payment code was already used",
}


class PaymentCodeRejected(PermissionDenied):
    """Refused at the terminal; its security event is kept (`UnitOfWork.keep`)."""

    def __init__(self, code: str) -> None:
        super().__init__(_MESSAGES[code], code=code, param="code")


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime


class Shown(StrEnum):
    LIVE = "live"  # show `code` (the same, or a fresh one)
    TAKEN = "taken"  # a till used it: `payment_id` (succeeded, or failed, or waiting)
    AGAIN = "again"  # its time is up: the payer authenticates for a new one


@dataclass(frozen=True)
class OnScreen:
    shown: Shown
    code: IssuedCode | None = None
    payment_id: str | None = None


def _secret(ctx: Context, user_id: str, device_id: str) -> bytes:
    """The device's secret, made on first use."""
    stored = ctx.uow.payments.code_secret(user_id, device_id)
    if stored is not None:
        return base64.b64decode(ctx.vault.decrypt(user_id, SECRET_FIELD, stored))
    secret = secrets.token_bytes(32)
    sealed = ctx.vault.encrypt(user_id, SECRET_FIELD, base64.b64encode(secret).decode())
    ctx.uow.payments.insert_code_secret(user_id, device_id, sealed, ctx.now())
    return secret


def generate_payment_code(
    ctx: Context, user_id: str, device_id: str, given: Authorization
) -> IssuedCode:
    """A fresh code for this device. Several codes in one 30-second step get successive
    counters (step * 16 + k), so a regenerated code never repeats a used one."""
    lock_payer(ctx, user_id)
    factors = pipeline.factors(ctx, user_id, given)
    if factors == 0:
        auth.step_up(ctx, user_id, PURPOSE)
    return _issue(ctx, user_id, device_id, factors, ctx.now())


def _issue(
    ctx: Context, user_id: str, device_id: str, factors: int, shown_at: datetime
) -> IssuedCode:
    secret, now = _secret(ctx, user_id, device_id), ctx.now()
    step = codes.time_step(now)
    for k in range(16):
        code = codes.derive_code(secret, step * 16 + k)
        if ctx.uow.payments.code(codes.code_hash(code)) is None:
            break
    else:
        raise Conflict("too many codes this half minute; wait", code="payment_code_busy")
    row = CodeRow(codes.code_hash(code), user_id, device_id, factors, now, None, None, shown_at)
    ctx.uow.payments.insert_code(row)
    ctx.audit(
        "payment.code_issued", subject=user_id, details={"device": device_id, "factors": factors}
    )
    return IssuedCode(code, now + codes.TTL)


def code_on_screen(ctx: Context, user_id: str, device_id: str, shown: str) -> OnScreen:
    """What a screen showing `shown` (one of this payer's codes for this device) shows
    now. Read without a lock (a screen asks every few seconds); a code due for a fresh
    one is locked and read again first: a till paying with it meanwhile holds that lock,
    so the code ends taken or retired, never both."""
    now = ctx.now()
    found = _on_screen(ctx, user_id, device_id, shown, lock=False)
    settled = _settled(found, shown, now)
    if settled is None:
        found = _on_screen(ctx, user_id, device_id, shown, lock=True)
        settled = _settled(found, shown, now)
    if settled is not None:
        return settled
    lock_payer(ctx, user_id)
    ctx.uow.payments.retire_code(found.code_hash, now)
    fresh = _issue(ctx, user_id, device_id, found.factors, found.authorised_at)
    return OnScreen(Shown.LIVE, fresh)


def _on_screen(ctx: Context, user_id: str, device_id: str, shown: str, *, lock: bool) -> CodeRow:
    found = ctx.uow.payments.code(codes.code_hash(shown), lock=lock)
    if found is None or (found.user_id, found.device_id) != (user_id, device_id):
        raise NotFound("no such payment code", code="payment_code_unknown", param="code")
    return found


def _settled(found: CodeRow, shown: str, now: datetime) -> OnScreen | None:
    """What the screen shows without a fresh code; None when it needs one."""
    if found.used_at is not None:
        return OnScreen(Shown.TAKEN, payment_id=found.payment_id)
    if found.retired_at is None and not codes.due_for_refresh(found.issued_at, now):
        return OnScreen(Shown.LIVE, IssuedCode(shown, found.issued_at + codes.TTL))
    if found.retired_at is not None or not codes.may_refresh(found.authorised_at, now):
        return OnScreen(Shown.AGAIN)
    return None


def _usable(ctx: Context, merchant_id: str, code: str) -> CodeRow:
    row = (
        ctx.uow.payments.code(codes.code_hash(code), lock=True) if codes.well_formed(code) else None
    )
    problem = "payment_code_invalid" if row is None else None
    if row is not None:
        used, retired = row.used_at is not None, row.retired_at is not None
        problem = codes.code_problem(row.issued_at, used, ctx.now(), retired=retired)
    if problem is None and row is not None:
        return row
    ctx.audit(
        "security.payment_code_rejected",
        subject=merchant_id,
        outcome=str(problem),
        details={"user": row.user_id if row else None},
    )
    ctx.uow.keep()
    raise PaymentCodeRejected(str(problem))


def collect(ctx: Context, merchant_id: str, code: str, amount: Money) -> Payment:
    """The merchant's terminal takes `amount` with the payer's scanned code."""
    merchant = active_merchant(ctx, merchant_id)
    found = _usable(ctx, merchant_id, code)
    row = pipeline.new_row(
        ctx, PAYMENT_CODE, found.user_id, ("merchant", merchant.id), amount, merchant.descriptor
    )
    standing = lock_payer(ctx, found.user_id)
    if not ctx.uow.payments.mark_code_used(found.code_hash, row.id, ctx.now()):
        raise Conflict(_MESSAGES["payment_code_used"], code="payment_code_used")
    return pipeline.process(ctx, row, found.factors, standing, new=True)
