"""Escrow (guarantee trade) over HTTP: the buyer pays into escrow, confirms receipt or
opens a dispute; the merchant side marks it shipped or refunds it; a supervisor resolves
a dispute.

Merchant-side calls take an operator session with the analyst role until the merchants'
signed API exists, as in routers/payments.py; resolving a dispute needs a supervisor.
Paying without a factor answers 401 `step_up_required`. A transition the trade's status
does not allow answers 409 `escrow_illegal_transition`, and any action but a resolution
on a disputed trade 409 `escrow_disputed`. Amounts are integers of minor units.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from guardpay.api.deps import InOneUnit, MerchantCaller, OperatorCaller, PayerCaller, UserCaller
from guardpay.api.routers.common import PathId, errors
from guardpay.api.routers.payments import Amount, AuthIn, Currency
from guardpay.domain.money import Money
from guardpay.services.identity import merchant_api
from guardpay.services.payments import escrow

if TYPE_CHECKING:  # a type only: the rows come from the services
    from guardpay.storage.escrow import TradeRow

router = APIRouter(route_class=InOneUnit, tags=["escrow"])
Reason = Field(min_length=1, max_length=200)


class EscrowIn(AuthIn):
    merchant_id: str = Field(min_length=1, max_length=40)
    amount: Amount
    currency: Currency = "CNY"
    description: str | None = Field(None, max_length=200)


class ReasonIn(BaseModel):
    reason: str = Reason


class RefundIn(BaseModel):
    reason: str | None = Field(None, max_length=200)


class ResolveIn(BaseModel):
    outcome: Literal["release", "refund"]
    reason: str = Reason


class EscrowOut(BaseModel):
    id: str
    buyer_id: str
    merchant_id: str
    payment_id: str
    amount: int
    currency: str
    fee: int
    description: str | None
    status: str
    dispute_reason: str | None
    resolution_reason: str | None
    resolved_by: str | None
    shipped_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: TradeRow) -> EscrowOut:
        return cls(**row.__dict__)


@router.post(
    "/escrow", status_code=201, response_model=EscrowOut, responses=errors(400, 401, 403, 404, 409)
)
def create(caller: PayerCaller, body: EscrowIn) -> EscrowOut:
    """Pay a merchant into escrow: the money is held until I confirm receipt."""
    new = escrow.NewTrade(body.merchant_id, Money(body.amount, body.currency), body.description)
    return EscrowOut.of(
        escrow.pay_into_escrow(caller.ctx, caller.id, new, body.authorization(caller.proof))
    )


@router.post(
    "/escrow/{escrow_id}/ship", response_model=EscrowOut, responses=errors(401, 403, 404, 409)
)
def ship(m: MerchantCaller, escrow_id: PathId) -> EscrowOut:
    """The merchant has shipped; the auto-confirm countdown starts."""
    merchant_api.require_merchant(m.ctx, escrow.get_trade(m.ctx, escrow_id).merchant_id)
    return EscrowOut.of(escrow.mark_shipped(m.ctx, escrow_id))


@router.post(
    "/escrow/{escrow_id}/confirm", response_model=EscrowOut, responses=errors(401, 404, 409)
)
def confirm(caller: UserCaller, escrow_id: PathId) -> EscrowOut:
    """I received the goods: release the money to the merchant (less the fee)."""
    return EscrowOut.of(escrow.confirm_receipt(caller.ctx, caller.id, escrow_id))


@router.post(
    "/escrow/{escrow_id}/dispute", response_model=EscrowOut, responses=errors(400, 401, 404, 409)
)
def dispute(caller: UserCaller, escrow_id: PathId, body: ReasonIn) -> EscrowOut:
    """Freeze the trade until an operator decides it."""
    return EscrowOut.of(escrow.open_dispute(caller.ctx, caller.id, escrow_id, body.reason))


@router.post(
    "/escrow/{escrow_id}/refund", response_model=EscrowOut, responses=errors(401, 403, 404, 409)
)
def refund(m: MerchantCaller, escrow_id: PathId, body: RefundIn) -> EscrowOut:
    """The merchant gives the whole amount back before release."""
    merchant_api.require_merchant(m.ctx, escrow.get_trade(m.ctx, escrow_id).merchant_id)
    return EscrowOut.of(escrow.refund(m.ctx, escrow_id, body.reason))


@router.post(
    "/escrow/{escrow_id}/resolve",
    response_model=EscrowOut,
    responses=errors(400, 401, 403, 404, 409),
)
def resolve(op: OperatorCaller, escrow_id: PathId, body: ResolveIn) -> EscrowOut:
    """A supervisor decides a dispute: release to the merchant or refund the buyer."""
    return EscrowOut.of(escrow.resolve_dispute(op.ctx, escrow_id, body.outcome, body.reason))


@router.get("/escrow/{escrow_id}", response_model=EscrowOut, responses=errors(401, 404))
def get(caller: UserCaller, escrow_id: PathId) -> EscrowOut:
    """My trade (a buyer sees only their own)."""
    return EscrowOut.of(escrow.get_trade(caller.ctx, escrow_id, caller.id))
