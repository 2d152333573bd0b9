"""The operator console's API: console login, looking at a user (masked), revealing one
field with a reason (audited), creating operators, and four-eyes approvals.

Operator sessions are separate from users' (deps.py `OperatorCaller`); roles are checked
by the services (`insufficient_role`), and an approval must come from someone other than
the requester (`four_eyes_same_operator`). Refusals are audited and that entry commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from guardpay.api.deps import InOneUnit, OperatorCaller, RequestContext
from guardpay.api.routers.common import IssuedOut, ListOut, PathId, Secret, errors
from guardpay.api.routers.users import UserOut
from guardpay.domain.auth.records import Approval, Operator
from guardpay.services.auth import operator_login, operators
from guardpay.services.identity import facade as identity
from guardpay.services.platform import access

router = APIRouter(route_class=InOneUnit, prefix="/operator", tags=["operators"])

Role = Literal["viewer", "analyst", "supervisor", "admin"]


class OperatorLoginIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    password: Secret
    totp_code: str | None = Field(
        None,
        min_length=6,
        max_length=8,
        description="The authenticator app's code, once the operator has set one up",
    )


@router.post(
    "/sessions", status_code=201, response_model=IssuedOut, responses=errors(400, 401, 429)
)
def login(ctx: RequestContext, body: OperatorLoginIn) -> IssuedOut:
    """A console session (same failure limits as user login); an operator with an
    authenticator app gives its code too (`totp_required`)."""
    password = body.password.get_secret_value()
    return IssuedOut.of(operator_login.operator_login(ctx, body.name, password, body.totp_code))


class EnrolmentOut(BaseModel):
    enrolment_code: str = Field(description="Shown once: give it to the operator in person")
    valid_for_seconds: int

    @classmethod
    def of(cls, code: str) -> EnrolmentOut:
        seconds = int(operator_login.ENROLMENT_FOR.total_seconds())
        return cls(enrolment_code=code, valid_for_seconds=seconds)


@router.post(
    "/operators/{operator_id}/enrolment",
    status_code=201,
    response_model=EnrolmentOut,
    responses=errors(401, 403, 404, 409),
)
def issue_enrolment(op: OperatorCaller, operator_id: PathId) -> EnrolmentOut:
    """A one-time code with which the operator sets up their authenticator app at their
    first console sign-in (an admin's; valid a day; 409 once one is set up)."""
    return EnrolmentOut.of(operator_login.issue_enrolment(op.ctx, operator_id))


class ResetIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500, examples=["phone lost, reported in person"])


@router.post(
    "/operators/{operator_id}/authenticator/reset",
    status_code=201,
    response_model=EnrolmentOut,
    responses=errors(400, 401, 403, 404),
)
def reset_authenticator(op: OperatorCaller, operator_id: PathId, body: ResetIn) -> EnrolmentOut:
    """An operator lost their authenticator: it is removed, their sessions end, and this
    one-time code lets them set up the new one (an admin's, never for themselves;
    audited with the reason)."""
    return EnrolmentOut.of(operator_login.reset_authenticator(op.ctx, operator_id, body.reason))


class OperatorIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    role: Role
    password: Secret


class OperatorOut(BaseModel):
    id: str
    name: str
    role: str
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, o: Operator) -> OperatorOut:
        return cls(
            id=o.id, name=o.name, role=o.role, created_at=o.created_at, disabled_at=o.disabled_at
        )


@router.post(
    "/operators", status_code=201, response_model=OperatorOut, responses=errors(400, 401, 403, 409)
)
def create_operator(op: OperatorCaller, body: OperatorIn) -> OperatorOut:
    """A new operator, by an admin. Role changes and disabling go through approvals."""
    created = operators.create_operator(
        op.ctx, body.name, body.role, body.password.get_secret_value()
    )
    return OperatorOut.of(created)


@router.get("/users/{user_id}", response_model=UserOut, responses=errors(401, 403, 404))
def get_user(op: OperatorCaller, user_id: PathId) -> UserOut:
    """A user as the console shows them: masked (any operator)."""
    access.require_role(op.ctx, "viewer")
    return UserOut.of(identity.get_user(op.ctx, user_id))


class RevealIn(BaseModel):
    field: Literal["phone", "display_name", "document_number", "legal_name", "card_number"]
    reason: str = Field(min_length=1, max_length=500, description="Audited; 10+ characters")
    card_id: str | None = Field(None, max_length=64, description="For card_number")


class RevealOut(BaseModel):
    field: str
    value: str = Field(repr=False)


@router.post(
    "/users/{user_id}/reveal", response_model=RevealOut, responses=errors(400, 401, 403, 404, 409)
)
def reveal_field(op: OperatorCaller, user_id: PathId, body: RevealIn) -> RevealOut:
    """One field in full, for an analyst or above, with a reason; audited `pii.revealed`."""
    value = identity.reveal_field(op.ctx, user_id, body.field, body.reason, card_id=body.card_id)
    return RevealOut(field=body.field, value=value)


class ApprovalIn(BaseModel):
    action: str = Field(min_length=1, max_length=80, examples=["operator.set_role"])
    payload: dict[str, Any] = Field(description="Ids and amounts, never personal data")
    required_role: Role = "supervisor"


class ApprovalOut(BaseModel):
    id: str
    action: str
    payload: dict[str, Any]
    required_role: str
    status: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    result: dict[str, Any] | None

    @classmethod
    def of(cls, a: Approval) -> ApprovalOut:
        return cls(
            id=a.id,
            action=a.action,
            payload=dict(a.payload),
            required_role=a.required_role,
            status=a.status,
            requested_by=a.requested_by,
            requested_at=a.requested_at,
            decided_by=a.decided_by,
            decided_at=a.decided_at,
            reason=a.reason,
            result=dict(a.result) if a.result is not None else None,
        )


@router.post(
    "/approvals", status_code=201, response_model=ApprovalOut, responses=errors(400, 401, 403)
)
def request_approval(op: OperatorCaller, body: ApprovalIn) -> ApprovalOut:
    """Ask for a sensitive action; it runs when another operator approves."""
    approval = operators.request_approval(op.ctx, body.action, body.payload, body.required_role)
    return ApprovalOut.of(approval)


@router.get("/approvals", response_model=ListOut[ApprovalOut], responses=errors(401, 403))
def list_approvals(
    op: OperatorCaller,
    status: Literal["pending", "approved", "rejected", "all"] = "pending",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> ListOut[ApprovalOut]:
    """Oldest request first; `status=all` lists decided ones too."""
    found, after = operators.list_approvals(
        op.ctx, None if status == "all" else status, limit, cursor
    )
    return ListOut[ApprovalOut](
        data=[ApprovalOut.of(a) for a in found], has_more=after is not None, next_cursor=after
    )


@router.post(
    "/approvals/{approval_id}/approve",
    response_model=ApprovalOut,
    responses=errors(401, 403, 404, 409),
)
def approve(op: OperatorCaller, approval_id: PathId) -> ApprovalOut:
    """Approve (and so run) another operator's request."""
    return ApprovalOut.of(operators.approve(op.ctx, approval_id))


class RejectIn(BaseModel):
    reason: str = Field("", max_length=500)


@router.post(
    "/approvals/{approval_id}/reject",
    response_model=ApprovalOut,
    responses=errors(401, 403, 404, 409),
)
def reject(op: OperatorCaller, approval_id: PathId, body: RejectIn) -> ApprovalOut:
    """Refuse a request, or withdraw one's own."""
    return ApprovalOut.of(operators.reject(op.ctx, approval_id, body.reason))
