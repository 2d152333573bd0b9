"""Merchants and their second-level sub-merchants, onboarded from the console.

Merchants are businesses, so their names are shown plainly; the registration number
(which may identify a sole proprietor) is kept encrypted and never returned. Onboarding
is an analyst's job; any operator may look. Merchants' own signed API (RSA2, DESIGN.md)
comes with the payments issue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from guardpay.api.deps import OperatorCaller
from guardpay.api.routers.common import ListOut, PathId, errors
from guardpay.services import identity, operators

router = APIRouter(prefix="/merchants", tags=["merchants"])

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
        return cls(id=m.id, parent_id=m.parent_id, legal_name=m.legal_name,
                   display_name=m.display_name, descriptor=m.descriptor, mcc=m.mcc,
                   status=m.status, settlement_account_id=account,
                   created_at=m.created_at)  # fmt: skip


class MerchantIn(BaseModel):
    legal_name: str = Field(min_length=1, max_length=200)
    display_name: str = Field(min_length=1, max_length=100)
    registration_number: str = Field(min_length=1, max_length=32,
                                     description="Unified social credit code")  # fmt: skip
    mcc: str = Field(min_length=1, max_length=8, examples=["5812"])
    settlement_account_id: AccountIdText | None = None


def _account(text: str | None) -> int | None:
    return None if text is None else int(text)


@router.post("", status_code=201, response_model=MerchantOut,
             responses=errors(400, 401, 403, 409))  # fmt: skip
def register(op: OperatorCaller, body: MerchantIn) -> MerchantOut:
    operators.require_role(op.ctx, ONBOARD_ROLE)
    merchant = identity.register_merchant(
        op.ctx, legal_name=body.legal_name, display_name=body.display_name,
        registration_number=body.registration_number, mcc=body.mcc,
        settlement_account_id=_account(body.settlement_account_id),
    )  # fmt: skip
    return MerchantOut.of(merchant)


class SubMerchantIn(BaseModel):
    legal_name: str = Field(min_length=1, max_length=200)
    display_name: str = Field(min_length=1, max_length=100)
    mcc: str = Field(min_length=1, max_length=8)
    registration_number: str | None = Field(None, max_length=32)
    settlement_account_id: AccountIdText | None = None


@router.post("/{merchant_id}/sub-merchants", status_code=201, response_model=MerchantOut,
             responses=errors(400, 401, 403, 404, 409))  # fmt: skip
def add_sub_merchant(op: OperatorCaller, merchant_id: PathId, body: SubMerchantIn) -> MerchantOut:
    """A shop under a top-level merchant; its payments carry both names."""
    operators.require_role(op.ctx, ONBOARD_ROLE)
    merchant = identity.add_sub_merchant(
        op.ctx, merchant_id, legal_name=body.legal_name, display_name=body.display_name,
        mcc=body.mcc, registration_number=body.registration_number,
        settlement_account_id=_account(body.settlement_account_id),
    )  # fmt: skip
    return MerchantOut.of(merchant)


@router.get("/{merchant_id}", response_model=MerchantOut, responses=errors(401, 403, 404))
def get_merchant(op: OperatorCaller, merchant_id: PathId) -> MerchantOut:
    operators.require_role(op.ctx, VIEW_ROLE)
    return MerchantOut.of(identity.get_merchant(op.ctx, merchant_id))


@router.get("/{merchant_id}/sub-merchants", response_model=ListOut[MerchantOut],
            responses=errors(401, 403, 404))  # fmt: skip
def list_sub_merchants(op: OperatorCaller, merchant_id: PathId) -> ListOut[MerchantOut]:
    operators.require_role(op.ctx, VIEW_ROLE)
    found = identity.list_sub_merchants(op.ctx, merchant_id)
    return ListOut[MerchantOut](data=[MerchantOut.of(m) for m in found])
