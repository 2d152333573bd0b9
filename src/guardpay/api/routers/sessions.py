"""User login and sessions: phone and password (plus the app's device proof), the step-up
a new device needs, and the list of one's own sessions.

A login from a device the user has not trusted yet answers 401 `step_up_required` with a
challenge id and the methods that would do. The client then has the code texted
(`POST /v1/step-ups/{id}/sms`) or signs the challenge on a trusted device, and answers
with `POST /v1/step-ups/{id}/complete`, which issues the session and trusts the device.
Wrong answers and failed logins are counted and committed (deps.py) before the error.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from guardpay.api.deps import InOneUnit, RequestContext, UserCaller
from guardpay.api.routers.common import (
    Done,
    IssuedOut,
    ListOut,
    Page,
    PathId,
    Phone,
    Secret,
    SessionOut,
    errors,
    page_of,
    reveal,
)
from guardpay.services.auth import facade as auth

router = APIRouter(route_class=InOneUnit, tags=["sessions"])


class DeviceProofIn(BaseModel):
    """The app's Ed25519 key and its signature of `guardpay-login:{public_key}:{signed_at}`
    (unix seconds, within two minutes of the server clock, newer than its last proof)."""

    public_key: str = Field(min_length=1, max_length=128)
    signed_at: int = Field(ge=0, le=2**40)
    signature: str = Field(min_length=1, max_length=256)
    name: str = Field("", max_length=200)


class LoginIn(BaseModel):
    phone: Phone
    password: Secret
    device: DeviceProofIn | None = None


@router.post("/sessions", status_code=201, response_model=IssuedOut, responses=errors(401, 429))
def login(ctx: RequestContext, body: LoginIn) -> IssuedOut:
    """Log in. From a trusted device with a fresh proof: 201 and a session. Otherwise 401
    `step_up_required`; `error.step_up` holds the challenge id and the methods."""
    device = None
    if body.device is not None:
        d = body.device
        device = auth.DeviceProof(d.public_key, d.signed_at, d.signature, d.name)
    issued = auth.login(ctx, body.phone, body.password.get_secret_value(), device=device)
    return IssuedOut.of(issued)


class SmsSentOut(BaseModel):
    sent_to: str = Field(description="The masked number the code went to")


@router.post(
    "/step-ups/{challenge_id}/sms",
    response_model=SmsSentOut,
    responses=errors(401, 429, 503),
    tags=["step-up"],
)
def send_sms(ctx: RequestContext, request: Request, challenge_id: PathId) -> SmsSentOut:
    """Text a fresh one-time code (valid 5 minutes) to the account's phone."""
    sent_to = auth.send_sms_code(ctx, challenge_id, request.app.state.sms)
    return SmsSentOut(sent_to=sent_to)


class CompleteIn(BaseModel):
    """`sms` or `totp` with the `code`; `device_signature` with the `signature` (base64url)
    of `guardpay-stepup:{challenge_id}:{nonce}` by the trusted `signer_device_id`."""

    method: Literal["sms", "totp", "device_signature"]
    code: Secret | None = None
    signature: str | None = Field(None, max_length=256)
    signer_device_id: str | None = Field(None, max_length=64)


@router.post(
    "/step-ups/{challenge_id}/complete",
    status_code=201,
    response_model=IssuedOut,
    responses=errors(400, 401, 429),
    tags=["step-up"],
)
def complete(ctx: RequestContext, challenge_id: PathId, body: CompleteIn) -> IssuedOut:
    """Answer a login's step-up: the session is issued and the device trusted."""
    issued = auth.complete_login(
        ctx,
        challenge_id,
        body.method,
        code=reveal(body.code),
        signature=body.signature,
        signer_device_id=body.signer_device_id,
    )
    return IssuedOut.of(issued)


class CurrentSessionOut(SessionOut):
    current: bool


@router.get("/sessions", response_model=ListOut[CurrentSessionOut], responses=errors(401, 403))
def list_sessions(me: UserCaller, page: Page) -> ListOut[CurrentSessionOut]:
    """The caller's live sessions, newest first; `current` marks this one."""
    found = auth.list_sessions(me.ctx, me.id)
    data = [
        CurrentSessionOut(**SessionOut.of(s).model_dump(), current=s.id == me.session.id)
        for s in found
    ]
    return page_of(data, [s.id for s in found], page)


@router.post("/sessions/{session_id}/revoke", response_model=Done, responses=errors(401, 403, 404))
def revoke_session(me: UserCaller, session_id: PathId) -> Done:
    """End one of the caller's sessions (this one included: that is logging out)."""
    auth.revoke_session(me.ctx, me.id, session_id)
    return Done()


class RevokedOut(BaseModel):
    revoked: list[str]


@router.post("/sessions/revoke-others", response_model=RevokedOut, responses=errors(401, 403))
def revoke_others(me: UserCaller) -> RevokedOut:
    """ "That wasn't me": end every session but this one."""
    return RevokedOut(revoked=auth.revoke_other_sessions(me.ctx, me.id, me.session.id))
