"""The signed-in user's credentials: payment password, devices, authenticator app, and
the step-up challenges a trusted device may sign.

The payment password is checked here only to let a client (and the tests) see the
lockout: 5 wrong in 24 hours answer 403 `payment_locked` for 3 hours, even for the right
one. Each wrong answer is committed before the 401 (deps.py), or the lock could be
dodged by making the request fail.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from guardpay.api.deps import InOneUnit, UserCaller
from guardpay.api.routers.common import (
    Done,
    ListOut,
    Page,
    PathId,
    Secret,
    errors,
    page_of,
    reveal,
)
from guardpay.api.routers.sessions import CompleteIn
from guardpay.services.auth import facade as auth

router = APIRouter(route_class=InOneUnit, prefix="/me", tags=["credentials"])


class PaymentPasswordIn(BaseModel):
    payment_password: Secret = Field(description="Six digits")


@router.post("/payment-password", response_model=Done, responses=errors(400, 401, 403, 409))
def set_payment_password(caller: UserCaller, body: PaymentPasswordIn) -> Done:
    """Set the first payment password (`weak_password` for runs, repeats, birth dates)."""
    auth.set_payment_password(caller.ctx, caller.id, body.payment_password.get_secret_value())
    return Done()


@router.post("/payment-password/verify", response_model=Done, responses=errors(400, 401, 403))
def verify_payment_password(caller: UserCaller, body: PaymentPasswordIn) -> Done:
    """200 if right and paying is not locked; 401 `invalid_payment_password` (with the
    attempts left), or 403 `payment_locked`."""
    auth.verify_payment_password(caller.ctx, caller.id, body.payment_password.get_secret_value())
    return Done()


class DeviceIn(BaseModel):
    public_key: str = Field(min_length=1, max_length=128, description="Ed25519, base64url")
    name: str = Field("", max_length=200)


class DeviceOut(BaseModel):
    id: str
    name: str
    public_key: str
    trusted: bool
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, d: auth.Device) -> DeviceOut:
        return cls(
            id=d.id,
            name=d.name,
            public_key=d.public_key,
            trusted=d.trusted,
            created_at=d.created_at,
            last_used_at=d.last_used_at,
        )


@router.post(
    "/devices",
    status_code=201,
    response_model=DeviceOut,
    responses=errors(400, 401, 403),
    tags=["devices"],
)
def register_device(caller: UserCaller, body: DeviceIn) -> DeviceOut:
    """Register a device key (untrusted until a step-up passes for a login from it)."""
    return DeviceOut.of(auth.register_device(caller.ctx, caller.id, body.public_key, body.name))


@router.get(
    "/devices", response_model=ListOut[DeviceOut], responses=errors(401, 403), tags=["devices"]
)
def list_devices(caller: UserCaller, page: Page) -> ListOut[DeviceOut]:
    devices = auth.list_devices(caller.ctx, caller.id)
    return page_of([DeviceOut.of(d) for d in devices], [d.id for d in devices], page)


@router.post(
    "/devices/{device_id}/revoke",
    response_model=Done,
    responses=errors(401, 403, 404),
    tags=["devices"],
)
def revoke_device(caller: UserCaller, device_id: PathId) -> Done:
    """A lost phone: untrusted, and its sessions end."""
    auth.revoke_device(caller.ctx, caller.id, device_id)
    return Done()


class TotpOut(BaseModel):
    provisioning_uri: str = Field(
        repr=False, description="otpauth:// URI for the authenticator app; shown once"
    )


@router.post("/totp", response_model=TotpOut, responses=errors(401, 403, 409), tags=["totp"])
def enrol_totp(caller: UserCaller) -> TotpOut:
    """Start enrolling an authenticator app; it counts after `POST /v1/me/totp/confirm`."""
    enrolment = auth.enrol_totp(caller.ctx, caller.id)
    return TotpOut(provisioning_uri=enrolment.provisioning_uri)


class CodeIn(BaseModel):
    code: Secret


@router.post(
    "/totp/confirm", response_model=Done, responses=errors(400, 401, 403, 409), tags=["totp"]
)
def confirm_totp(caller: UserCaller, body: CodeIn) -> Done:
    auth.confirm_totp(caller.ctx, caller.id, body.code.get_secret_value())
    return Done()


class ChallengeOut(BaseModel):
    """An open challenge; a trusted device signs `guardpay-stepup:{id}:{nonce}`."""

    id: str
    purpose: str
    methods: list[str]
    nonce: str
    device_id: str | None
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, c: auth.Challenge) -> ChallengeOut:
        return cls(
            id=c.id,
            purpose=c.purpose,
            methods=list(c.methods),
            nonce=c.nonce,
            device_id=c.device_id,
            created_at=c.created_at,
            expires_at=c.expires_at,
        )


@router.get(
    "/step-ups", response_model=ListOut[ChallengeOut], responses=errors(401, 403), tags=["step-up"]
)
def pending_step_ups(caller: UserCaller, page: Page) -> ListOut[ChallengeOut]:
    """ "Is this you logging in on a new phone?": open challenges, for a trusted device."""
    found = auth.pending_challenges(caller.ctx, caller.id)
    return page_of([ChallengeOut.of(c) for c in found], [c.id for c in found], page)


@router.post(
    "/step-ups/{challenge_id}/pass",
    response_model=ChallengeOut,
    responses=errors(401, 403, 429),
    tags=["step-up"],
)
def pass_step_up(caller: UserCaller, challenge_id: PathId, body: CompleteIn) -> ChallengeOut:
    """Answer the challenge a request of mine was refused with (401 `step_up_required`:
    a red packet, an escrow payment, a top-up or withdrawal), then make that request
    again with `step_up_challenge_id`. Have an SMS code sent first with
    `POST /v1/step-ups/{challenge_id}/sms`."""
    passed = auth.pass_own_step_up(
        caller.ctx,
        caller.id,
        challenge_id,
        body.method,
        code=reveal(body.code),
        signature=body.signature,
        signer_device_id=body.signer_device_id,
    )
    return ChallengeOut.of(passed)
