"""Merchant QR payments: the static code on the counter and single-use order codes.

Both are platform-signed (domain/payments/qr.py) under the platform's QR key, a data key
kept wrapped by the master keyring like every other key (`ctx.vault`, subject
"platform:qr"). A code that fails verification — forged, altered, expired or replayed —
is written to the audit log as the security event `security.qr_rejected` and refused
with its specific code. `_reject` keeps that event (`UnitOfWork.keep`: the edge commits
it with the refusal); it is raised before anything of a payment is written, so the commit
carries nothing else.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

from guardpay.domain.money import Money
from guardpay.domain.payments import qr
from guardpay.domain.payments.limits import DEFAULT, QR_ORDER, QR_STATIC, PaymentSettings
from guardpay.errors import CryptoError, InvalidRequest, NotFound
from guardpay.services.identity import facade as identity
from guardpay.services.payments.core import pay
from guardpay.services.payments.pipeline import Authorization, Payment, new_row
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import new_id
from guardpay.storage.payments import OrderRow

KEY_SUBJECT = "platform:qr"
MAX_ORDER_TTL = timedelta(hours=2)


@dataclass(frozen=True)
class Order:
    row: OrderRow

    @property
    def payload(self) -> str:
        return self.row.payload


def _claims(ctx: Context, claims: qr.QrClaims) -> tuple[bytes, qr.QrClaims]:
    """The active QR key, and the claims naming its version."""
    version, key = ctx.vault.active_key(KEY_SUBJECT)
    return key, replace(claims, key_version=version)


def _key_of_version(ctx: Context, version: int) -> bytes | None:
    try:
        return ctx.vault.key(KEY_SUBJECT, version)
    except CryptoError:  # no such version, or destroyed: the code is not (any more) ours
        return None


def rotate_key(ctx: Context) -> int:
    """Sign new codes under a new version of the QR key; codes signed under the earlier
    ones stay valid. Returns the new version."""
    ctx.vault.active_key(KEY_SUBJECT)  # version 1 exists before there is a version 2
    current = max(k.version for k in ctx.uow.keys.keys_of(KEY_SUBJECT))
    version, _ = ctx.vault.new_key(KEY_SUBJECT, current + 1)
    ctx.audit("security.qr_key_rotated", subject=KEY_SUBJECT, details={"version": version})
    return version


def active_merchant(ctx: Context, merchant_id: str) -> identity.Merchant:
    merchant = identity.get_merchant(ctx, merchant_id)
    if merchant.status != "active":
        raise InvalidRequest("this merchant cannot take payments", code="merchant_inactive")
    return merchant


def static_payload(ctx: Context, merchant_id: str) -> str:
    """The merchant's printed code: the same text every time, so a reprint matches."""
    active_merchant(ctx, merchant_id)
    return qr.sign(*_claims(ctx, qr.QrClaims(qr.STATIC, merchant_id, nonce="static")))


def create_order_qr(
    ctx: Context,
    merchant_id: str,
    amount: Money,
    expires_in: timedelta | None = None,
    settings: PaymentSettings = DEFAULT,
) -> Order:
    """A single-use code for one order of a fixed amount, valid for `expires_in`."""
    active_merchant(ctx, merchant_id)
    ttl = settings.order_ttl if expires_in is None else expires_in
    if amount.amount <= 0 or not timedelta(seconds=10) <= ttl <= MAX_ORDER_TTL:
        raise InvalidRequest("an order needs a positive amount and a TTL of 10 s to 2 h")
    order_id, nonce, now = new_id("ord"), secrets.token_hex(12), ctx.now()
    expires = now + ttl
    claims = qr.QrClaims(
        qr.ORDER,
        merchant_id,
        nonce,
        order_id,
        amount.amount,
        amount.currency,
        int(expires.timestamp()),
    )
    row = OrderRow(
        order_id,
        merchant_id,
        amount.amount,
        amount.currency,
        nonce,
        qr.sign(*_claims(ctx, claims)),
        "open",
        None,
        expires,
        now,
    )
    ctx.uow.payments.insert_order(row)
    ctx.audit(
        "payment.order_created",
        subject=order_id,
        details={"merchant": merchant_id, "amount": amount.amount, "currency": amount.currency},
    )
    return Order(row)


def get_order(ctx: Context, order_id: str) -> Order:
    row = ctx.uow.payments.order(order_id)
    if row is None:
        raise NotFound("no such order", param="order_id")
    return Order(row)


def _reject(ctx: Context, payer_id: str, code: str, claims: qr.QrClaims | None) -> qr.QrRejected:
    ctx.audit(
        "security.qr_rejected",
        subject=payer_id,
        outcome=code,
        details={
            "merchant": claims.merchant_id if claims else None,
            "order": claims.order_id if claims else None,
        },
    )
    ctx.uow.keep()  # the security event survives the refusal the caller raises
    return qr.QrRejected(code)


def _verified(ctx: Context, payer_id: str, payload: str) -> qr.QrClaims:
    try:
        return qr.verify(lambda version: _key_of_version(ctx, version), payload, ctx.now())
    except qr.QrRejected as exc:
        raise _reject(ctx, payer_id, exc.code, None) from None


def _order_for(ctx: Context, payer_id: str, claims: qr.QrClaims) -> OrderRow:
    """The order a genuine code names: open, unexpired, and matching the code."""
    row = ctx.uow.payments.order(claims.order_id, lock=True)
    matches = row is not None and (row.merchant_id, row.amount, row.currency, row.nonce) == (
        claims.merchant_id,
        claims.amount,
        claims.currency,
        claims.nonce,
    )
    if row is None or not matches:
        raise _reject(ctx, payer_id, "qr_signature_invalid", claims)
    if row.status != "open":
        raise _reject(ctx, payer_id, "qr_already_used", claims)
    return row


def pay_qr(
    ctx: Context, payer_id: str, payload: str, given: Authorization, amount: Money | None = None
) -> Payment:
    """Pay a scanned code: a static one with the amount the payer typed, an order code
    for the order's amount (a typed amount, if any, must match it)."""
    claims = _verified(ctx, payer_id, payload)
    merchant = active_merchant(ctx, claims.merchant_id)
    payee = ("merchant", merchant.id)
    if claims.kind == qr.STATIC:
        if amount is None:
            raise InvalidRequest("enter the amount to pay", code="amount_required", param="amount")
        return pay(
            ctx, new_row(ctx, QR_STATIC, payer_id, payee, amount, merchant.descriptor), given
        )
    order = _order_for(ctx, payer_id, claims)
    due = Money(order.amount, order.currency)
    if amount is not None and amount != due:
        raise InvalidRequest(
            "the amount differs from the order's", code="amount_mismatch", param="amount"
        )
    row = new_row(ctx, QR_ORDER, payer_id, payee, due, merchant.descriptor, order.id)
    return pay(ctx, row, given)
