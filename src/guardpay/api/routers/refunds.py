"""Refunds over HTTP: refund (part of) a succeeded merchant payment, and list its refunds.

Merchant-side calls, so like the other ones in routers/payments.py they are signed by the
merchant's key or made by an analyst operator; a payment of another merchant is 404.
`refund_id` names the refund request: sending it again with the same fields answers the first refund
(`replayed: true`), with other fields 400 `refund_id_reused`. The payment keeps its
`succeeded` status; `refunded_amount` and `refund_status` say how much went back.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, StrictInt

from guardpay.api.deps import InOneUnit, MerchantCaller
from guardpay.api.routers.common import Page, PathId, errors, page_of
from guardpay.domain.money import Money
from guardpay.services.identity import merchant_api
from guardpay.services.payments import refunds

if TYPE_CHECKING:  # a type only: the rows come from the services
    from guardpay.storage.refunds import RefundRow

router = APIRouter(route_class=InOneUnit, tags=["refunds"])
Amount = Annotated[StrictInt, Field(gt=0, le=2**53, description="Minor units (fen)")]


class RefundIn(BaseModel):
    refund_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Your name for this refund (idempotent)",
    )
    amount: Amount
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$")
    reason: str | None = Field(None, max_length=200)


class RefundOut(BaseModel):
    id: str
    refund_id: str
    payment_id: str
    amount: int
    currency: str
    fee_refunded: int
    reason: str | None
    status: str
    created_at: datetime

    @classmethod
    def of(cls, row: RefundRow) -> RefundOut:
        return cls(
            id=row.id,
            refund_id=row.request_id,
            payment_id=row.payment_id,
            amount=row.amount,
            currency=row.currency,
            fee_refunded=row.fee_refunded,
            reason=row.reason,
            status=row.status,
            created_at=row.created_at,
        )


class RefundResult(RefundOut):
    payment_amount: int
    refunded_amount: int
    refund_status: str
    replayed: bool


class RefundList(BaseModel):
    payment_id: str
    payment_amount: int
    currency: str
    refunded_amount: int
    refund_status: str
    data: list[RefundOut]
    has_more: bool
    next_cursor: str | None


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=201,
    response_model=RefundResult,
    responses=errors(400, 401, 403, 404, 409),
)
def create_refund(
    m: MerchantCaller, payment_id: PathId, body: RefundIn, response: Response
) -> RefundResult:
    """Refund (part of) a payment to the payer's wallet; 400 `refund_exceeds_payment`
    past what was paid, 409 `merchant_balance_insufficient` if settlement cannot cover it."""
    merchant_api.require_payment_merchant(m.ctx, payment_id)
    request = refunds.RefundRequest(body.refund_id, Money(body.amount, body.currency), body.reason)
    done = refunds.refund_payment(m.ctx, payment_id, request)
    if done.replayed:
        response.status_code = 200
    return RefundResult(
        **RefundOut.of(done.row).model_dump(),
        payment_amount=done.payment.amount,
        refunded_amount=done.refunded_amount,
        refund_status=done.refund_status.value,
        replayed=done.replayed,
    )


@router.get(
    "/payments/{payment_id}/refunds",
    response_model=RefundList,
    responses=errors(401, 403, 404, 409),
)
def payment_refunds(m: MerchantCaller, payment_id: PathId, page: Page) -> RefundList:
    """A payment's refunds, oldest first (a payment has few), and their total."""
    merchant_api.require_payment_merchant(m.ctx, payment_id)
    found = refunds.list_refunds(m.ctx, payment_id)
    return RefundList(
        payment_id=found.payment.id,
        payment_amount=found.payment.amount,
        currency=found.payment.currency,
        refunded_amount=found.refunded_amount,
        refund_status=found.refund_status.value,
        **page_of(
            [RefundOut.of(r) for r in found.refunds], [r.id for r in found.refunds], page
        ).model_dump(),
    )
