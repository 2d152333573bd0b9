"""Payments over HTTP: P2P transfers, merchant QR codes (static and per order, also as
PNG/SVG images), payment codes, the payer's payments and limits.

Amounts are integers of minor units beside a currency, in and out; never floats.
A payment made without any factor answers `status: requires_action` with `next_action`
naming the step-up challenge to pass; `POST /v1/payments/{id}/confirm` then completes
it. Merchant-side calls (issuing codes, the terminal's collect) are signed with the
merchant's RSA2 key (api/deps.py `MerchantCaller`), or made by an analyst operator on the
merchant's behalf. QR images are
public: a static code is printed on a counter, an order code is shown to whoever pays.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal

import segno
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, StrictInt

from guardpay.api.deps import (
    Caller,
    InOneUnit,
    MerchantCaller,
    PayerCaller,
    RequestContext,
    UserCaller,
    UserRequestDep,
)
from guardpay.api.routers.common import PathId, Secret, errors, reveal
from guardpay.domain.money import Money
from guardpay.services.auth.facade import PaymentSignature
from guardpay.services.identity import merchant_api
from guardpay.services.payments import codes as payments_codes
from guardpay.services.payments import core as payments
from guardpay.services.payments import limits as payments_limits
from guardpay.services.payments import qr as payments_qr
from guardpay.services.payments.pipeline import Authorization, Payment, StepUpAnswer

if TYPE_CHECKING:  # a type only: the rows come from the services
    from guardpay.storage.payments import PaymentRow

router = APIRouter(route_class=InOneUnit, tags=["payments"])
Amount = Annotated[StrictInt, Field(gt=0, le=2**53, description="Minor units (fen)")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["CNY"])]
IMAGE = {"png": "image/png", "svg": "image/svg+xml"}


class AuthIn(BaseModel):
    payment_password: Secret | None = None
    step_up_challenge_id: str | None = Field(None, max_length=64)

    def authorization(self, proof: PaymentSignature | None = None) -> Authorization:
        """With `proof`, the request's `Payment-Signature` (api/deps.py), checked by the
        service as one more factor."""
        return Authorization(
            reveal(self.payment_password), self.step_up_challenge_id, device_signature=proof
        )


class PaymentOut(BaseModel):
    id: str
    kind: str
    status: str
    amount: int
    currency: str
    fee: int
    payer_id: str
    payee_kind: str
    payee_id: str
    descriptor: str | None
    order_id: str | None
    failure_code: str | None
    created_at: datetime
    updated_at: datetime
    next_action: dict[str, object] | None = None

    @classmethod
    def of(cls, row: PaymentRow, next_action: dict[str, object] | None = None) -> PaymentOut:
        fields = {k: v for k, v in row.__dict__.items() if k in cls.model_fields}
        return cls(**fields, next_action=next_action)


def _out(payment: Payment) -> PaymentOut:
    return PaymentOut.of(payment.row, payment.next_action)


class TransferIn(AuthIn):
    payee: str = Field(min_length=1, max_length=40, description="Phone number or user id")
    amount: Amount
    currency: Currency = "CNY"


@router.post(
    "/transfers",
    status_code=201,
    response_model=PaymentOut,
    responses=errors(400, 401, 403, 404, 409),
)
async def transfer(user: UserRequestDep, body: TransferIn) -> Response:
    """Send money to a user by phone number or user id. Authorise it with
    `payment_password`, or with the `Payment-Signature` header: the session's trusted
    device's Ed25519 signature of `guardpay-pay:{t}:{Idempotency-Key}:POST
    /v1/transfers:{sha256 hex of the body}`, sent as `t=<unix seconds>, sig=<base64url>`."""
    money = Money(body.amount, body.currency)

    def pay(caller: Caller) -> Response:
        given = body.authorization(caller.proof)
        paid = payments.p2p_transfer(caller.ctx, caller.id, body.payee, money, given)
        return user.answer(caller, _out(paid), 201)

    return await user.in_batch(pay, payee=body.payee, currency=money.currency)


class StepUpAnswerIn(BaseModel):
    method: Literal["sms", "totp", "device_signature"]
    code: Secret | None = None
    signature: str | None = Field(None, max_length=200)


class ConfirmIn(AuthIn):
    step_up: StepUpAnswerIn | None = Field(
        None, description="Answer the payment's challenge here (else pass it before)"
    )


@router.post(
    "/payments/{payment_id}/confirm",
    response_model=PaymentOut,
    responses=errors(400, 401, 403, 404, 409),
)
def confirm(caller: PayerCaller, payment_id: PathId, body: ConfirmIn) -> PaymentOut:
    """Complete a `requires_action` payment: answer its step-up (`step_up`; for SMS, ask
    for the code with `POST /v1/step-ups/{challenge_id}/sms` first)."""
    given = body.authorization(caller.proof)
    if body.step_up is not None:
        a = body.step_up
        answer = StepUpAnswer(a.method, reveal(a.code), a.signature)
        given = replace(given, answer=answer)
    return _out(payments.confirm_payment(caller.ctx, caller.id, payment_id, given))


class QrPayIn(AuthIn):
    payload: str = Field(min_length=1, max_length=2000)
    amount: Amount | None = Field(None, description="Required for a static merchant code")
    currency: Currency = "CNY"


@router.post(
    "/payments/qr",
    status_code=201,
    response_model=PaymentOut,
    responses=errors(400, 401, 403, 404, 409),
)
async def pay_qr(user: UserRequestDep, body: QrPayIn) -> Response:
    """Pay a scanned merchant code; 403 `qr_signature_invalid`, `qr_expired` or
    `qr_already_used` for a forged, altered, expired or replayed one. Authorised like a
    transfer: `payment_password`, or a `Payment-Signature` header."""
    amount = None if body.amount is None else Money(body.amount, body.currency)

    def pay(caller: Caller) -> Response:
        given = body.authorization(caller.proof)
        paid = payments_qr.pay_qr(caller.ctx, caller.id, body.payload, given, amount)
        return user.answer(caller, _out(paid), 201)

    return await user.in_batch(pay)


@router.get("/payments/{payment_id}", response_model=PaymentOut, responses=errors(401, 403, 404))
def get_payment(caller: UserCaller, payment_id: PathId) -> PaymentOut:
    return PaymentOut.of(payments.get_payment(caller.ctx, caller.id, payment_id))


class PaymentPage(BaseModel):
    data: list[PaymentOut]
    has_more: bool
    next_cursor: str | None


@router.get("/me/payments", response_model=PaymentPage, responses=errors(400, 401, 403))
def my_payments(
    caller: UserCaller,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PaymentPage:
    """The payments I made, newest first; pass `next_cursor` back as `cursor`."""
    rows, after = payments.list_payments(caller.ctx, caller.id, cursor, limit)
    return PaymentPage(
        data=[PaymentOut.of(r) for r in rows], has_more=after is not None, next_cursor=after
    )


class LimitsOut(BaseModel):
    currency: str
    account_class: str
    can_pay: bool
    balance_payments: int
    static_qr: int
    dynamic_qr_one_factor: int
    dynamic_qr_two_factors: int


@router.get("/me/limits", response_model=LimitsOut, responses=errors(401, 403))
def my_limits(caller: UserCaller) -> LimitsOut:
    """What I may still pay: by account class, and today by QR authentication strength."""
    left = payments_limits.allowance(caller.ctx, caller.id)
    return LimitsOut(**{**left.__dict__, "account_class": left.account_class.value})


class CodeOut(BaseModel):
    code: str = Field(description="18 digits; show it as a barcode/QR, valid 60 s, once")
    expires_at: datetime


@router.post(
    "/me/payment-codes",
    status_code=201,
    response_model=CodeOut,
    responses=errors(400, 401, 403, 409),
)
def payment_code(caller: PayerCaller, body: AuthIn) -> CodeOut:
    device = payments_codes.device_of(caller.session.device_id)
    issued = payments_codes.generate_payment_code(
        caller.ctx, caller.id, device, body.authorization(caller.proof)
    )
    return CodeOut(code=issued.code, expires_at=issued.expires_at)


class PayloadOut(BaseModel):
    merchant_id: str
    payload: str


@router.post(
    "/merchants/{merchant_id}/qr", response_model=PayloadOut, responses=errors(401, 403, 404)
)
def merchant_qr(m: MerchantCaller, merchant_id: PathId) -> PayloadOut:
    """The merchant's static code (the payer types the amount)."""
    merchant_api.require_merchant(m.ctx, merchant_id)
    return PayloadOut(
        merchant_id=merchant_id, payload=payments_qr.static_payload(m.ctx, merchant_id)
    )


def _image(payload: str, kind: str) -> Response:
    buffer = io.BytesIO()
    segno.make(payload, error="m").save(buffer, kind=kind, scale=4, border=4)
    return Response(buffer.getvalue(), media_type=IMAGE[kind])


@router.get(
    "/merchants/{merchant_id}/qr.{kind}",
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}, **errors(400, 404)},
)
def merchant_qr_image(
    ctx: RequestContext, merchant_id: PathId, kind: Literal["png", "svg"]
) -> Response:
    return _image(payments_qr.static_payload(ctx, merchant_id), kind)


class OrderIn(BaseModel):
    amount: Amount
    currency: Currency = "CNY"
    expires_in: int | None = Field(None, ge=10, le=7200, description="Seconds")


class OrderOut(BaseModel):
    id: str
    merchant_id: str
    amount: int
    currency: str
    status: str
    expires_at: datetime
    payload: str


@router.post(
    "/merchants/{merchant_id}/orders",
    status_code=201,
    response_model=OrderOut,
    responses=errors(400, 401, 403, 404),
)
def create_order(m: MerchantCaller, merchant_id: PathId, body: OrderIn) -> OrderOut:
    """A single-use, signed order code for a fixed amount."""
    merchant_api.require_merchant(m.ctx, merchant_id)
    ttl = None if body.expires_in is None else timedelta(seconds=body.expires_in)
    order = payments_qr.create_order_qr(m.ctx, merchant_id, Money(body.amount, body.currency), ttl)
    r = order.row
    return OrderOut(
        id=r.id,
        merchant_id=r.merchant_id,
        amount=r.amount,
        currency=r.currency,
        status=r.status,
        expires_at=r.expires_at,
        payload=r.payload,
    )


@router.get(
    "/orders/{order_id}/qr.{kind}",
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}, **errors(404)},
)
def order_qr_image(ctx: RequestContext, order_id: PathId, kind: Literal["png", "svg"]) -> Response:
    return _image(payments_qr.get_order(ctx, order_id).payload, kind)


class CollectIn(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    amount: Amount
    currency: Currency = "CNY"


@router.post(
    "/merchants/{merchant_id}/collect",
    status_code=201,
    response_model=PaymentOut,
    responses=errors(400, 401, 403, 404, 409),
)
def collect(m: MerchantCaller, merchant_id: PathId, body: CollectIn) -> PaymentOut:
    """The merchant's terminal takes a payment with the payer's scanned code."""
    merchant_api.require_merchant(m.ctx, merchant_id)
    money = Money(body.amount, body.currency)
    return _out(payments_codes.collect(m.ctx, merchant_id, body.code, money))
