"""A merchant's webhook endpoint: where the outbox delivers its events.

A merchant sets it with a signed call, or an analyst does it from the console for them;
any operator may look. The response carries the
signing secret, once: it is stored only sealed, and this path is excluded from
idempotent replay (api/idempotency.py) so no copy of it is kept in the clear.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from guardpay.api.deps import InOneUnit, MerchantCaller, OperatorCaller
from guardpay.api.routers.common import PathId, errors
from guardpay.services.identity import merchant_api
from guardpay.services.platform import access
from guardpay.services.webhooks import events as webhooks

router = APIRouter(route_class=InOneUnit, prefix="/merchants", tags=["webhooks"])

VIEW_ROLE = "viewer"


class EndpointIn(BaseModel):
    url: str = Field(min_length=1, max_length=2000, examples=["https://shop.example/hooks"])


class EndpointOut(BaseModel):
    merchant_id: str
    url: str


class RegisteredOut(EndpointOut):
    secret: str = Field(description="The signing secret. Shown once; store it now.")
    created_at: datetime


@router.post(
    "/{merchant_id}/webhook-endpoint",
    status_code=201,
    response_model=RegisteredOut,
    responses=errors(400, 401, 403, 404),
)
def register(m: MerchantCaller, merchant_id: PathId, body: EndpointIn) -> RegisteredOut:
    """Set or replace the endpoint; a new signing secret each time (rotation). 400
    `webhook_url_not_public` if its host is, or resolves to, an internal address
    (services/webhooks/targets.py)."""
    merchant_api.require_merchant(m.ctx, merchant_id)
    done = webhooks.register_endpoint(m.ctx, merchant_id, body.url)
    return RegisteredOut(
        merchant_id=done.merchant_id, url=done.url, secret=done.secret, created_at=done.created_at
    )


@router.get(
    "/{merchant_id}/webhook-endpoint", response_model=EndpointOut, responses=errors(401, 403, 404)
)
def get_endpoint(op: OperatorCaller, merchant_id: PathId) -> EndpointOut:
    access.require_role(op.ctx, VIEW_ROLE)
    return EndpointOut(merchant_id=merchant_id, url=webhooks.endpoint_url(op.ctx, merchant_id))
