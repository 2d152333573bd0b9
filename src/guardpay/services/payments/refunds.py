"""Refunds of succeeded merchant payments: full or partial, back to the payer's wallet.

One refund is one unit of work: the payment row is locked first (`SELECT ... FOR UPDATE`
on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serializes writers), then the refunds
so far are summed, the new refund checked against what was paid, its row inserted, its
linked ledger transfers applied and the audit entry written. Two concurrent refunds of
one payment therefore run one after the other and cannot both pass the cumulative check.

Idempotency: the client names each refund request (`refund_id`, unique per payment).
Asking again with the same id and the same amount, currency and reason returns the first
refund, unchanged; with other fields it is refused (`refund_id_reused`).

Money: the payer gets the refund amount back in the wallet that paid (the original
source) from the merchant's settlement account; the platform returns the pro-rata fee
share (domain/payments/refunds.py) from fee revenue to the merchant. The legs are linked,
so all apply or none; a settlement balance too small for the merchant's net share is
refused (`merchant_balance_insufficient`) and nothing changes.

The payment's own status stays `succeeded` (the state machine keeps it final and the
limits count it as spent); its refund progress is exposed beside it as `refunded_amount`
and `refund_status` (none | partially_refunded | refunded).
"""

from __future__ import annotations

from dataclasses import dataclass

from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.ids import new_transfer_id
from guardpay.domain.ledger.model import Transfer
from guardpay.domain.money import Money, currency
from guardpay.domain.payments.postings import refunds as postings
from guardpay.domain.payments.refunds import RefundState, refund_state, split_refund
from guardpay.domain.payments.states import Status
from guardpay.errors import Conflict, InvalidRequest, NotFound, RefundExceedsPayment
from guardpay.services.ledger import wallets
from guardpay.services.payments import pipeline
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import timed_id
from guardpay.storage.payments import PaymentRow
from guardpay.storage.refunds import RefundRow

SUCCEEDED = "succeeded"


@dataclass(frozen=True)
class RefundRequest:
    """What the merchant asks for; `refund_id` is the client's idempotency name."""

    refund_id: str
    amount: Money
    reason: str | None = None


@dataclass(frozen=True)
class Refund:
    row: RefundRow
    payment: PaymentRow
    refunded_amount: int  # the payment's cumulative refunds, this one included
    refund_status: RefundState
    replayed: bool = False


@dataclass(frozen=True)
class RefundSummary:
    payment: PaymentRow
    refunds: list[RefundRow]
    refunded_amount: int
    refund_status: RefundState


def _refundable(ctx: Context, payment_id: str, *, lock: bool) -> PaymentRow:
    """The merchant payment, locked when refunding; anything else cannot be refunded."""
    row = ctx.uow.payments.payment(payment_id, lock=lock)
    if row is None:
        raise NotFound("no such payment", param="payment_id")
    if row.payee_kind != "merchant" or row.status != Status.SUCCEEDED.value:
        raise Conflict(
            "only a succeeded merchant payment can be refunded",
            code="payment_not_refundable",
            param="payment_id",
        )
    return row


def refund_payment(ctx: Context, payment_id: str, request: RefundRequest) -> Refund:
    """Refund (part of) a payment, or return the refund this request id already made."""
    payment = _refundable(ctx, payment_id, lock=True)
    first = ctx.uow.refunds.by_request(payment_id, request.refund_id)
    if first is not None:
        return _replay(ctx, payment, first, request)
    if request.amount.currency != payment.currency:
        raise InvalidRequest(
            f"the payment was in {payment.currency}", code="currency_mismatch", param="currency"
        )
    before = ctx.uow.refunds.total(payment_id)
    try:
        split = split_refund(payment.amount, payment.fee, before, request.amount.amount)
    except RefundExceedsPayment:  # say it in money, which the pure rule cannot
        left, paid = (Money(v, payment.currency) for v in (payment.amount - before, payment.amount))
        raise RefundExceedsPayment(
            f"only {left} of {paid} is left to refund", param="amount"
        ) from None
    row = RefundRow(
        timed_id("rfd", ctx.now()),
        payment_id,
        request.refund_id,
        split.amount,
        payment.currency,
        split.fee,
        before + split.amount,
        request.reason,
        SUCCEEDED,
        ctx.now(),
    )
    ctx.uow.refunds.insert(row)
    pipeline.move(ctx, pipeline.REFUND, _transfers(ctx, payment, row))
    _audit(ctx, payment, row)
    return Refund(
        row, payment, row.refunded_total, refund_state(payment.amount, row.refunded_total)
    )


def _replay(ctx: Context, payment: PaymentRow, first: RefundRow, request: RefundRequest) -> Refund:
    """Same request id: the first result if the fields agree, else `refund_id_reused`."""
    asked = (request.amount.amount, request.amount.currency, request.reason)
    if asked != (first.amount, first.currency, first.reason):
        raise InvalidRequest(
            "this refund_id was used for another refund", code="refund_id_reused", param="refund_id"
        )
    total = first.refunded_total
    return Refund(first, payment, total, refund_state(payment.amount, total), replayed=True)


def _transfers(ctx: Context, payment: PaymentRow, row: RefundRow) -> list[Transfer]:
    """Fee share: fee revenue -> merchant; refund: merchant -> payer. Linked, so both
    apply or neither; the fee leg comes first so the merchant needs only its net share
    (postings.refunds)."""
    settlement = AccountCode.MERCHANT_SETTLEMENT
    payer = wallets.wallet(ctx, "user", payment.payer_id, row.currency)
    merchant = wallets.wallet(ctx, "merchant", payment.payee_id, row.currency, settlement)
    fees = 0  # no fee share: fee revenue is not touched (nor opened)
    if row.fee_refunded != 0:
        fees = wallets.open_platform_accounts(ctx, row.currency)[AccountCode.FEE_REVENUE]
    return postings.refund(
        payer=payer,
        settlement=merchant,
        fee_revenue=fees,
        amount=row.amount,
        fee_returned=row.fee_refunded,
        ledger=currency(row.currency).numeric,
        refund_id=new_transfer_id(),
        fee_id=new_transfer_id(),
    )


def _audit(ctx: Context, payment: PaymentRow, row: RefundRow) -> None:
    ctx.audit(
        "payment.refunded",
        subject=row.id,
        details={
            "payment": payment.id,
            "refund_id": row.request_id,
            "amount": row.amount,
            "currency": row.currency,
            "fee_refunded": row.fee_refunded,
            "payer": payment.payer_id,
            "merchant": payment.payee_id,
            "refunded_total": row.refunded_total,
            "paid": payment.amount,
        },
    )
    payload = {
        "refund_id": row.id,
        "request_id": row.request_id,
        "payment_id": payment.id,
        "amount": row.amount,
        "currency": row.currency,
        "fee_refunded": row.fee_refunded,
        "refunded_total": row.refunded_total,
    }
    pipeline.notify(ctx, payment.payee_id, "refund.succeeded", payload)


def list_refunds(ctx: Context, payment_id: str) -> RefundSummary:
    """A payment's refunds, oldest first, with what they add up to."""
    payment = _refundable(ctx, payment_id, lock=False)
    rows = ctx.uow.refunds.of_payment(payment_id)
    refunded = sum(r.amount for r in rows)
    return RefundSummary(payment, rows, refunded, refund_state(payment.amount, refunded))
