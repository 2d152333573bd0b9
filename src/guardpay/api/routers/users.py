"""People: registration, one's own profile, real-name verification, bank cards, and the
rights over one's data (export, erasure).

Everything shown is masked by the services (phone `138****5678`, card
`6222 **** **** 1234`); the export is the exception, because it is the person's own data
handed to the person. Card numbers, ID numbers and CVV2 arrive as `SecretStr` and go
straight to the service, which encrypts what it keeps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from guardpay.adapters.kyc import Kyc
from guardpay.api.deps import InOneUnit, RequestContext, UserCaller
from guardpay.api.routers.common import (
    Done,
    ListOut,
    Page,
    PathId,
    Phone,
    Secret,
    errors,
    page_of,
    reveal,
)
from guardpay.services.auth import facade as auth
from guardpay.services.identity import facade as identity
from guardpay.services.platform.context import Actor

router = APIRouter(route_class=InOneUnit, tags=["users"])


class UserOut(BaseModel):
    """A user as anyone but an auditing operator sees them: personal data masked."""

    id: str
    phone: str = Field(examples=["138****5678"])
    display_name: str | None
    status: str
    account_class: str
    can_pay: bool
    created_at: datetime
    verified_at: datetime | None

    @classmethod
    def of(cls, u: identity.User) -> UserOut:
        return cls(
            id=u.id,
            phone=u.phone,
            display_name=u.display_name,
            status=u.status,
            account_class=u.account_class.value,
            can_pay=u.can_pay,
            created_at=u.created_at,
            verified_at=u.verified_at,
        )


class RegisterIn(BaseModel):
    phone: Phone
    password: Secret = Field(description="The login password (8+ characters, not common)")
    display_name: str | None = Field(None, max_length=64)


@router.post("/users", status_code=201, response_model=UserOut, responses=errors(400, 409))
def register(ctx: RequestContext, body: RegisterIn) -> UserOut:
    """Open an account for a phone number with a login password. A refused password
    refuses the registration too: nothing is kept."""
    user = identity.register_user(ctx, body.phone, body.display_name)
    as_user = ctx.as_actor(Actor("user", user.id, ctx.actor.ip))
    auth.set_login_password(as_user, user.id, body.password.get_secret_value())
    return UserOut.of(user)


class MeOut(UserOut):
    payment_locked_until: datetime | None


@router.get("/me", response_model=MeOut, responses=errors(401, 403))
def me(caller: UserCaller) -> MeOut:
    user = identity.get_user(caller.ctx, caller.id)
    locked = auth.payment_locked_until(caller.ctx, caller.id)
    until = None if locked is None else datetime.fromisoformat(locked)
    return MeOut(**UserOut.of(user).model_dump(), payment_locked_until=until)


class CardEvidenceIn(BaseModel):
    card_number: Secret
    reserved_phone: Phone
    cvv2: Secret | None = None
    expiry: str | None = Field(None, max_length=7, examples=["12/29"])


class VerificationIn(BaseModel):
    """Name and document, and the evidence for each channel to try."""

    name: str = Field(min_length=1, max_length=100)
    document_type: str = Field(max_length=32, examples=["resident_id", "passport"])
    document_number: Secret
    country: str | None = Field(None, max_length=3)
    id_authority: bool = True
    card: CardEvidenceIn | None = None
    selfie_ref: str | None = Field(None, max_length=128)
    phone_carrier: bool = False
    transfer_reference: str | None = Field(None, max_length=64)

    def evidence(self) -> identity.Evidence:
        card = None
        if self.card is not None:
            c = self.card
            card = identity.CardEvidence(
                c.card_number.get_secret_value(), c.reserved_phone, reveal(c.cvv2), c.expiry
            )
        return identity.Evidence(
            self.id_authority, card, self.selfie_ref, self.phone_carrier, self.transfer_reference
        )


class VerificationOut(BaseModel):
    account_class: str
    passed: list[str]
    failed: list[str]
    unavailable: list[str]
    channels: list[str] = Field(description="Every channel ever passed")


def _kyc(request: Request) -> Kyc:
    kyc = request.app.state.kyc
    assert isinstance(kyc, Kyc)
    return kyc


@router.post(
    "/me/verification", response_model=VerificationOut, responses=errors(400, 401, 403, 409)
)
def verify(caller: UserCaller, request: Request, body: VerificationIn) -> VerificationOut:
    """Real-name verification; the number of channels passed sets the account class. A
    failed or unavailable channel is an outcome (200), bad input a rejection (400)."""
    result = identity.verify_identity(
        caller.ctx,
        _kyc(request),
        caller.id,
        name=body.name,
        document_type=body.document_type,
        document_number=body.document_number.get_secret_value(),
        evidence=body.evidence(),
        country=body.country,
    )
    return VerificationOut(
        account_class=result.account_class.value,
        passed=result.passed,
        failed=result.failed,
        unavailable=result.unavailable,
        channels=result.channels,
    )


class CardIn(BaseModel):
    card_number: Secret
    reserved_phone: Phone = Field(description="The phone number reserved at the bank")
    cvv2: Secret | None = Field(None, description="Credit cards only; never stored")
    expiry: str | None = Field(None, max_length=7, description="Credit cards only, MM/YY")


class CardOut(BaseModel):
    id: str
    token: str | None
    number: str = Field(examples=["6222 **** **** 1234"])
    bank_code: str
    bank: str
    card_type: str
    scheme: str
    status: str
    bound_at: datetime

    @classmethod
    def of(cls, c: identity.BankCard) -> CardOut:
        return cls(
            id=c.id,
            token=c.token,
            number=c.number,
            bank_code=c.bank_code,
            bank=c.bank,
            card_type=c.card_type,
            scheme=c.scheme,
            status=c.status,
            bound_at=c.bound_at,
        )


@router.post(
    "/me/cards",
    status_code=201,
    response_model=CardOut,
    responses=errors(400, 401, 403, 409, 503),
    tags=["cards"],
)
def bind_card(caller: UserCaller, request: Request, body: CardIn) -> CardOut:
    """Bind a card after the issuer's four-element check (needs a verified identity)."""
    card = identity.bind_card(
        caller.ctx,
        _kyc(request),
        caller.id,
        body.card_number.get_secret_value(),
        body.reserved_phone,
        cvv2=reveal(body.cvv2),
        expiry=body.expiry,
    )
    return CardOut.of(card)


@router.get(
    "/me/cards", response_model=ListOut[CardOut], responses=errors(401, 403), tags=["cards"]
)
def list_cards(caller: UserCaller, page: Page) -> ListOut[CardOut]:
    cards = identity.list_cards(caller.ctx, caller.id)
    return page_of([CardOut.of(c) for c in cards], [c.id for c in cards], page)


@router.post(
    "/me/cards/{card_id}/unbind",
    response_model=Done,
    responses=errors(401, 403, 404),
    tags=["cards"],
)
def unbind_card(caller: UserCaller, card_id: PathId) -> Done:
    identity.unbind_card(caller.ctx, caller.id, card_id)
    return Done()


@router.get(
    "/me/export", response_model=dict[str, Any], responses=errors(401, 403), tags=["privacy"]
)
def export(caller: UserCaller) -> dict[str, Any]:
    """Everything held about the caller, in the clear (it is theirs), as JSON. Audited."""
    return identity.export_person(caller.ctx, caller.id)


class ErasedOut(BaseModel):
    pseudonym: str = Field(description="What the ledger and the audit log now call you")


@router.post(
    "/me/erase", response_model=ErasedOut, responses=errors(401, 403, 409), tags=["privacy"]
)
def erase(caller: UserCaller) -> ErasedOut:
    """Crypto-shred the caller's personal data; every session ends, this one too."""
    return ErasedOut(pseudonym=identity.erase_person(caller.ctx, caller.id))
