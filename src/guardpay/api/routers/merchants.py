"""Merchants and their second-level sub-merchants, onboarded from the console.

Merchants are businesses, so their names are shown plainly; the registration number
(which may identify a sole proprietor) is kept encrypted and never returned. Onboarding
is an analyst's job; any operator may look. An analyst also registers the public half of
a merchant's RSA2 key pair (DESIGN.md); the merchant signs its API calls with the private
half, which the platform never sees (domain/merchants/signing.py says how to sign).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from guardpay.api.deps import InOneUnit, OperatorCaller
from guardpay.api.routers.common import ListOut, Page, PathId, errors, page_of
from guardpay.services.identity import facade as identity
from guardpay.services.identity import merchant_api
from guardpay.services.platform import access

if TYPE_CHECKING:  # a type only: the rows come from the services
    from guardpay.storage.merchant_api import ApiKeyRow

router = APIRouter(route_class=InOneUnit, prefix="/merchants", tags=["merchants"])

ONBOARD_ROLE = "analyst"
VIEW_ROLE = "viewer"
#: Ledger account ids are 64-bit, so strings in JSON like every id of this API.
AccountIdText = Annotated[str, Field(pattern=r"^[0-9]{1,19}$", examples=["4611686018427387911"])]


class MerchantOut(BaseModel):
    id: str
    parent_id: str | None
    legal_name: str
    display_name: str
    descriptor: str = Field(description="The name that travels with every payment")
    mcc: str
    status: str
    settlement_account_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, m: identity.Merchant) -> MerchantOut:
        account = None if m.settlement_account_id is None else str(m.settlement_account_id)
        return cls(
            id=m.id,
            parent_id=m.parent_id,
            legal_name=m.legal_name,
            display_name=m.display_name,
            descriptor=m.descriptor,
            mcc=m.mcc,
            status=m.status,
            settlement_account_id=account,
            created_at=m.created_at,
        )


class MerchantIn(BaseModel):
    legal_name: str = Field(min_length=1, max_length=200)
    display_name: str = Field(min_length=1, max_length=100)
    registration_number: str = Field(
        min_length=1, max_length=32, description="Unified social credit code"
    )
    mcc: str = Field(min_length=1, max_length=8, examples=["5812"])
    settlement_account_id: AccountIdText | None = None


def _account(text: str | None) -> int | None:
    return None if text is None else int(text)


@router.post("", status_code=201, response_model=MerchantOut, responses=errors(400, 401, 403, 409))
def register(op: OperatorCaller, body: MerchantIn) -> MerchantOut:
    access.require_role(op.ctx, ONBOARD_ROLE)
    merchant = identity.register_merchant(
        op.ctx,
        legal_name=body.legal_name,
        display_name=body.display_name,
        registration_number=body.registration_number,
        mcc=body.mcc,
        settlement_account_id=_account(body.settlement_account_id),
    )
    return MerchantOut.of(merchant)


class SubMerchantIn(BaseModel):
    legal_name: str = Field(min_length=1, max_length=200)
    display_name: str = Field(min_length=1, max_length=100)
    mcc: str = Field(min_length=1, max_length=8)
    registration_number: str | None = Field(None, max_length=32)
    settlement_account_id: AccountIdText | None = None


@router.post(
    "/{merchant_id}/sub-merchants",
    status_code=201,
    response_model=MerchantOut,
    responses=errors(400, 401, 403, 404, 409),
)
def add_sub_merchant(op: OperatorCaller, merchant_id: PathId, body: SubMerchantIn) -> MerchantOut:
    """A shop under a top-level merchant; its payments carry both names."""
    access.require_role(op.ctx, ONBOARD_ROLE)
    merchant = identity.add_sub_merchant(
        op.ctx,
        merchant_id,
        legal_name=body.legal_name,
        display_name=body.display_name,
        mcc=body.mcc,
        registration_number=body.registration_number,
        settlement_account_id=_account(body.settlement_account_id),
    )
    return MerchantOut.of(merchant)


class StaffIn(BaseModel):
    user_id: str = Field(min_length=1, max_length=40)


class StaffOut(BaseModel):
    merchant_id: str
    user_id: str


@router.post(
    "/{merchant_id}/staff",
    status_code=201,
    response_model=StaffOut,
    responses=errors(400, 401, 403, 404),
)
def add_staff(op: OperatorCaller, merchant_id: PathId, body: StaffIn) -> StaffOut:
    """Let a user act for the merchant in the wallet's shop view (a code for an amount,
    what it received, refunds): a supervisor's decision. Adding them again changes
    nothing."""
    identity.add_staff(op.ctx, merchant_id, body.user_id)
    return StaffOut(merchant_id=merchant_id, user_id=body.user_id)


@router.post(
    "/{merchant_id}/staff/{user_id}/remove",
    response_model=StaffOut,
    responses=errors(401, 403, 404),
)
def remove_staff(op: OperatorCaller, merchant_id: PathId, user_id: PathId) -> StaffOut:
    """Take a user off the merchant's staff (a supervisor's); removing one who is not
    there changes nothing."""
    identity.remove_staff(op.ctx, merchant_id, user_id)
    return StaffOut(merchant_id=merchant_id, user_id=user_id)


@router.get("/{merchant_id}", response_model=MerchantOut, responses=errors(401, 403, 404))
def get_merchant(op: OperatorCaller, merchant_id: PathId) -> MerchantOut:
    access.require_role(op.ctx, VIEW_ROLE)
    return MerchantOut.of(identity.get_merchant(op.ctx, merchant_id))


@router.get(
    "/{merchant_id}/sub-merchants",
    response_model=ListOut[MerchantOut],
    responses=errors(401, 403, 404),
)
def list_sub_merchants(op: OperatorCaller, merchant_id: PathId, page: Page) -> ListOut[MerchantOut]:
    access.require_role(op.ctx, VIEW_ROLE)
    found = identity.list_sub_merchants(op.ctx, merchant_id)
    return page_of([MerchantOut.of(m) for m in found], [m.id for m in found], page)


class ApiKeyIn(BaseModel):
    public_key: str = Field(
        min_length=1, max_length=4000, description="PEM 'PUBLIC KEY', RSA of at least 2048 bits"
    )


class ApiKeyOut(BaseModel):
    id: str = Field(description="The key_id to put in the GP-RSA2 Authorization header")
    merchant_id: str
    fingerprint: str = Field(description="SHA-256 of the DER public key")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKeyRow) -> ApiKeyOut:
        return cls(
            id=row.id,
            merchant_id=row.merchant_id,
            fingerprint=row.fingerprint,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )


@router.post(
    "/{merchant_id}/api-keys",
    status_code=201,
    response_model=ApiKeyOut,
    responses=errors(400, 401, 403, 404),
)
def add_api_key(op: OperatorCaller, merchant_id: PathId, body: ApiKeyIn) -> ApiKeyOut:
    return ApiKeyOut.of(merchant_api.add_key(op.ctx, merchant_id, body.public_key))


@router.get(
    "/{merchant_id}/api-keys", response_model=ListOut[ApiKeyOut], responses=errors(401, 403, 404)
)
def list_api_keys(op: OperatorCaller, merchant_id: PathId, page: Page) -> ListOut[ApiKeyOut]:
    access.require_role(op.ctx, VIEW_ROLE)
    rows = merchant_api.list_keys(op.ctx, merchant_id)
    return page_of([ApiKeyOut.of(r) for r in rows], [r.id for r in rows], page)


@router.post(
    "/{merchant_id}/api-keys/{key_id}/revoke",
    response_model=ApiKeyOut,
    responses=errors(401, 403, 404),
)
def revoke_api_key(op: OperatorCaller, merchant_id: PathId, key_id: PathId) -> ApiKeyOut:
    return ApiKeyOut.of(merchant_api.revoke_key(op.ctx, merchant_id, key_id))
