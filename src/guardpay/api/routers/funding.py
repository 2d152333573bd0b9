"""Top-up from and withdrawal to a bound card, and the bank's callbacks, over HTTP.

A request answers at once with the funding in status `processing`: the money is held and
the instruction is with the bank. The bank's answer arrives later at
`POST /v1/bank/callbacks`, signed like our own webhooks (HMAC-SHA256 over
`{timestamp}.{body}` under a secret shared with the bank, the timestamp within five
minutes); duplicates, early, late and contradicting answers are the service's business
(`services/payments/funding.py`). Both requests need the payment password; a step-up that risk
control asks for is passed and the request made again with its challenge id. A request
with an Idempotency-Key names its funding after the key (`funding.funding_id_for`): a
retry after a 503 (the bank's reply was lost) meets the instruction the bank may have
taken, so the card is charged or paid once.

A funding says where it stands in `status`, as a payment does. It used to say `state`:
that field still carries the same value for one release, marked deprecated in the
OpenAPI document, and then goes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, Field, ValidationError

from guardpay.adapters.bank import BankCallback
from guardpay.api import idempotency
from guardpay.api.deps import InOneUnit, RequestContext, UserCaller
from guardpay.api.routers.common import ListOut, Page, PathId, Secret, errors, reveal
from guardpay.api.routers.payments import Amount, Currency
from guardpay.domain.money import Money
from guardpay.errors import AuthenticationFailed, InvalidRequest, ServiceUnavailable
from guardpay.services.payments import funding
from guardpay.services.webhooks import events as webhooks

if TYPE_CHECKING:  # a type only: the rows come from the services
    from guardpay.storage.funding import FundingRow

router = APIRouter(route_class=InOneUnit, tags=["funding"])


class FundingIn(BaseModel):
    card_id: str = Field(min_length=1, max_length=64, description="A bound card's id")
    amount: Amount
    currency: Currency = "CNY"
    payment_password: Secret
    step_up_challenge_id: str | None = Field(None, max_length=64)


class FundingOut(BaseModel):
    id: str
    kind: str
    status: str = Field(description="processing, succeeded or failed")
    state: str = Field(
        deprecated=True,
        description="The same as `status`, under its old name: read `status`. Deprecated; "
        "removed in the next release.",
    )
    amount: int
    currency: str
    card_id: str
    card_last4: str | None
    bank_reference: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: FundingRow) -> FundingOut:
        fields = {k: v for k, v in row.__dict__.items() if k in cls.model_fields}
        return cls(**fields, status=row.state)


def _request(caller: UserCaller, request: Request, body: FundingIn, kind: str) -> FundingOut:
    """With an Idempotency-Key, the funding id derives from it, so a retry after a 503
    sends the bank the instruction it may already have taken, not a second one."""
    ask = funding.request_top_up if kind == "top_up" else funding.request_withdrawal
    key = request.headers.get(idempotency.HEADER)
    row = ask(
        caller.ctx,
        request.app.state.bank,
        caller.id,
        body.card_id,
        Money(body.amount, body.currency),
        funding_id=funding.funding_id_for(caller.id, key) if key else None,
        step_up_challenge_id=body.step_up_challenge_id,
        payment_password=reveal(body.payment_password),
    )
    return FundingOut.of(row)


@router.post(
    "/me/top-ups",
    status_code=201,
    response_model=FundingOut,
    responses=errors(400, 401, 403, 404, 409, 503),
)
def top_up(caller: UserCaller, request: Request, body: FundingIn) -> FundingOut:
    """Pull money from my bound card into my wallet (status `processing` until the bank
    answers)."""
    return _request(caller, request, body, "top_up")


@router.post(
    "/me/withdrawals",
    status_code=201,
    response_model=FundingOut,
    responses=errors(400, 401, 403, 404, 409, 503),
)
def withdraw(caller: UserCaller, request: Request, body: FundingIn) -> FundingOut:
    """Hold money in my wallet and have the bank pay it to my bound card."""
    return _request(caller, request, body, "withdrawal")


@router.get("/me/fundings", response_model=ListOut[FundingOut], responses=errors(400, 401, 403))
def my_fundings(caller: UserCaller, page: Page) -> ListOut[FundingOut]:
    """My top-ups and withdrawals, newest first."""
    rows, after = funding.list_fundings(caller.ctx, caller.id, page.cursor, page.limit)
    return ListOut[FundingOut](
        data=[FundingOut.of(r) for r in rows], has_more=after is not None, next_cursor=after
    )


@router.get("/me/fundings/{funding_id}", response_model=FundingOut, responses=errors(401, 403, 404))
def my_funding(caller: UserCaller, funding_id: PathId) -> FundingOut:
    return FundingOut.of(funding.get_funding(caller.ctx, funding_id, user_id=caller.id))


class CallbackIn(BaseModel):
    bank_reference: str = Field(min_length=1, max_length=64)
    instruction_id: str = Field(min_length=1, max_length=64)
    status: Literal["succeeded", "failed"]
    amount: int = Field(ge=0, le=2**63 - 1)
    currency: Currency


class CallbackOut(BaseModel):
    outcome: str = Field(
        description="succeeded, failed, duplicate, ignored, conflict, mismatch or unknown (status)"
    )


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.post("/bank/callbacks", response_model=CallbackOut, responses=errors(400, 401, 503))
def bank_callback(
    request: Request,
    ctx: RequestContext,
    raw: Annotated[bytes, Depends(_raw_body)],
    bank_timestamp: Annotated[int, Header(description="Unix seconds the bank signed at")],
    bank_signature: Annotated[str, Header(max_length=512, description="v1=<hex HMAC>")],
) -> CallbackOut:
    """The bank's answer to an instruction, checked against the signed bytes. An answer
    is acknowledged (200) once recorded, anomalies included, so the bank stops retrying;
    a bad signature is 401 and changes nothing. An answer for a reference we do not have
    is 503 `bank_reference_unknown` and changes nothing: it may have overtaken the
    commit of the request that submitted the instruction, and the bank's retry after
    that commit settles the funding (services/payments/funding.py)."""
    secret = request.app.state.bank_secret
    if not secret:
        raise ServiceUnavailable(
            "bank callbacks are not configured on this server", code="bank_callbacks_unconfigured"
        )
    now = int(request.app.state.clock().timestamp())
    if not webhooks.verify_signature(secret, bank_timestamp, raw, bank_signature, now=now):
        raise AuthenticationFailed(
            "the bank's signature or timestamp is not valid", code="bank_signature_invalid"
        )
    try:
        body = CallbackIn.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise InvalidRequest(
            "the callback body is not a bank callback", code="invalid_callback"
        ) from exc
    callback = BankCallback(
        body.bank_reference, body.instruction_id, body.status, body.amount, body.currency
    )
    return CallbackOut(outcome=funding.handle_callback(ctx, callback).value)
