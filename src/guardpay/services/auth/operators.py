"""Operators (console users), their roles, and the four-eyes rule.

Roles are ordered viewer < analyst < supervisor < admin; `require_role` admits an operator
whose role is at least the one named. A sensitive action (unfreezing an account, a manual
adjustment, a large refund, changing an operator's role) is not run by whoever asks: it is
registered once with `register_action`, requested with `request_approval`, and runs only
when a *different* operator holding the required role approves it. Requests, approvals,
refusals and rejections are all audited. Payloads are stored as JSON and must hold ids and
amounts, not personal data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from guardpay.domain.auth.passwords import login_password_problem
from guardpay.domain.auth.records import Approval, Operator
from guardpay.domain.auth.roles import Role, at_least, parse_role
from guardpay.domain.auth.sessions import OPERATOR
from guardpay.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    OperatorsExist,
    PermissionDenied,
)
from guardpay.security.passwords import hasher
from guardpay.security.tokens import new_id
from guardpay.services.auth import support
from guardpay.services.auth.sessions import revoke_all_sessions
from guardpay.services.platform.access import require_role
from guardpay.services.platform.context import Context
from guardpay.storage.uow import UnitOfWork

ActionHandler = Callable[[Context, Approval], Mapping[str, Any] | None]
_ACTIONS: dict[str, tuple[ActionHandler, Role]] = {}  # name -> handler, least approver role
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,79}")
APPROVAL_TTL = timedelta(days=7)
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


def register_action(
    name: str, handler: ActionHandler, *, min_role: Role | str = Role.VIEWER, replace: bool = False
) -> None:
    """Make `name` requestable; the handler runs, in the approver's unit of work, when a
    second operator approves. `min_role` is the least an approver may hold whatever the
    requester asks for, so nobody can request "make me admin, any viewer may approve".
    Registering a different handler twice is a programming error."""
    known = _ACTIONS.get(name)
    if known is not None and known[0] is not handler and not replace:
        raise ValueError(f"action {name!r} is already registered")
    _ACTIONS[name] = (handler, parse_role(min_role))


def registered_actions() -> list[str]:
    return sorted(_ACTIONS)


def create_operator(ctx: Context, name: str, role: Role | str, password: str) -> Operator:
    """A new operator; by an admin, or by the system (the first admin, from the CLI)."""
    if ctx.actor.kind != "system":
        require_role(ctx, Role.ADMIN)
    login = name.strip().lower()
    if not _NAME.fullmatch(login):
        raise InvalidRequest(
            "an operator name is 3-80 of a-z, 0-9, '.', '_', '-'",
            code="invalid_operator_name",
            param="name",
        )
    level = parse_role(role)
    problem = login_password_problem(password)
    if problem is not None:
        raise support.weak_password(problem, "password")
    if ctx.uow.auth.operator_by_name(login) is not None:
        raise Conflict("an operator with this name exists", code="operator_name_taken")
    operator = Operator(new_id("op"), login, level.value, hasher().hash(password), ctx.now())
    ctx.uow.auth.add_operator(operator)
    ctx.audit("operator.created", subject=operator.id, details={"name": login, "role": level})
    return operator


def create_first_admin(ctx: Context, name: str, password: str) -> Operator:
    """The platform's first operator, an admin, by the system (`guardpay operators
    create`): nobody exists yet who could approve or create it. Refused once any operator
    exists (`operators_exist`): from then on an admin creates operators through the console
    API, and role changes and disabling need a second operator's approval."""
    if ctx.actor.kind != "system":
        raise PermissionDenied("only the system makes the first admin", code="insufficient_role")
    if ctx.uow.auth.operators():
        raise OperatorsExist(
            "operators exist already: an admin creates more through the console API "
            "(POST /v1/operator/operators)"
        )
    return create_operator(ctx, name, Role.ADMIN, password)


def operators_exist(uow: UnitOfWork) -> bool:
    """Whether any operator exists: `create_first_admin` would refuse (the CLI asks
    before it prompts for a password)."""
    return bool(uow.auth.operators())


def operator_named(uow: UnitOfWork, name: str) -> Operator | None:
    """The enabled operator of this login name, if any (the CLI acts as one)."""
    found = uow.auth.operator_by_name(name.strip().lower())
    return None if found is None or found.disabled_at is not None else found


def list_operators(ctx: Context) -> list[Operator]:
    """Every operator, oldest first: for any operator, or the system (the CLI)."""
    if ctx.actor.kind != "system":
        require_role(ctx, Role.VIEWER)
    return ctx.uow.auth.operators()


# -- four eyes ----------------------------------------------------------------------------
def request_approval(
    ctx: Context, action: str, payload: Mapping[str, Any], required_role: Role | str
) -> Approval:
    requester = require_role(ctx, Role.VIEWER)
    if action not in _ACTIONS:
        raise InvalidRequest("no such action", code="unknown_action", param="action")
    need = max(parse_role(required_role), _ACTIONS[action][1], key=lambda r: r.rank)
    try:
        stored = json.loads(json.dumps(dict(payload)))
    except (TypeError, ValueError):
        raise InvalidRequest(
            "the payload must be JSON", code="invalid_payload", param="payload"
        ) from None
    approval = Approval(new_id("apr"), action, stored, need.value, PENDING, requester.id, ctx.now())
    ctx.uow.auth.add_approval(approval)
    ctx.audit(
        "approval.requested",
        subject=approval.id,
        details={"action": action, "required_role": need.value},
    )
    return approval


def _pending(ctx: Context, approval_id: str) -> Approval:
    approval = ctx.uow.auth.approval(approval_id)  # locked: one decision per approval
    if approval is None:
        raise NotFound("no such approval", param="approval_id")
    if approval.status != PENDING:
        raise Conflict(f"the approval is already {approval.status}", code="approval_not_pending")
    if ctx.now() >= approval.requested_at + APPROVAL_TTL:
        raise Conflict("the approval request expired", code="approval_expired")
    return approval


def approve(ctx: Context, approval_id: str) -> Approval:
    """A second operator with the required role approves: the action runs now."""
    approval = _pending(ctx, approval_id)
    details = {"action": approval.action, "requested_by": approval.requested_by}
    if ctx.actor.kind == "operator" and ctx.actor.id == approval.requested_by:
        ctx.audit(
            "approval.approved",
            subject=approval.id,
            outcome="denied",
            details={**details, "reason": "four_eyes_same_operator"},
        )
        ctx.uow.keep()
        raise PermissionDenied(
            "an action must be approved by another operator", code="four_eyes_same_operator"
        )
    try:
        approver = require_role(ctx, approval.required_role)
    except PermissionDenied:
        denied = {**details, "reason": "insufficient_role"}
        ctx.audit("approval.approved", subject=approval.id, outcome="denied", details=denied)
        ctx.uow.keep()
        raise
    registered = _ACTIONS.get(approval.action)
    if registered is None:
        raise Conflict("the action is no longer available", code="unknown_action")
    result = registered[0](ctx, approval)
    done = replace(
        approval,
        status=APPROVED,
        decided_by=approver.id,
        decided_at=ctx.now(),
        result=dict(result) if result is not None else None,
    )
    ctx.uow.auth.save_approval(done)
    ctx.audit("approval.approved", subject=approval.id, details=details)
    return done


def require_requester(ctx: Context, approval: Approval, role: Role | str) -> None:
    """In a handler: refuse a request whose requester did not hold `role` (anyone may ask
    through `POST /v1/operator/approvals`; an action that an analyst's endpoint asks for
    must not be asked for by a viewer that way)."""
    requester = ctx.uow.auth.operator(approval.requested_by)
    if requester is None or not at_least(requester.role, parse_role(role)):
        raise PermissionDenied(
            f"this action must be requested by an operator with the {parse_role(role)} role "
            "or above",
            code="insufficient_role",
        )


def reject(ctx: Context, approval_id: str, reason: str = "") -> Approval:
    """Refuse a request (an operator with the required role), or withdraw one's own."""
    approval = _pending(ctx, approval_id)
    own = ctx.actor.kind == "operator" and ctx.actor.id == approval.requested_by
    decider = require_role(ctx, Role.VIEWER if own else approval.required_role)
    done = replace(
        approval,
        status=REJECTED,
        decided_by=decider.id,
        decided_at=ctx.now(),
        reason=reason.strip()[:500] or None,
    )
    ctx.uow.auth.save_approval(done)
    ctx.audit(
        "approval.rejected",
        subject=approval.id,
        details={"action": approval.action, "withdrawn": own},
    )
    return done


def list_approvals(
    ctx: Context, status: str | None = PENDING, limit: int = 100, cursor: str | None = None
) -> tuple[list[Approval], str | None]:
    """A page of approvals, oldest first, and the cursor of the next page (or None)."""
    require_role(ctx, Role.VIEWER)
    after = None
    if cursor is not None:
        after = ctx.uow.auth.approval(cursor)
        if after is None:
            raise InvalidRequest("unknown cursor", code="invalid_cursor", param="cursor")
    found = list(ctx.uow.auth.approvals(status, limit + 1, after))
    more = len(found) > limit
    return found[:limit], found[limit - 1].id if more else None


# -- built-in sensitive actions -----------------------------------------------------------
def _target(ctx: Context, approval: Approval) -> Operator:
    operator = ctx.uow.auth.operator(str(approval.payload.get("operator_id", "")))
    if operator is None:
        raise NotFound("no such operator", param="operator_id")
    return operator


def _set_role(ctx: Context, approval: Approval) -> Mapping[str, Any]:
    operator, role = _target(ctx, approval), parse_role(str(approval.payload.get("role")))
    ctx.uow.auth.update_operator(operator.id, role=role.value)
    ctx.audit(
        "operator.role_changed",
        subject=operator.id,
        details={"from": operator.role, "to": role.value, "approval_id": approval.id},
    )
    return {"operator_id": operator.id, "role": role.value}


def _disable(ctx: Context, approval: Approval) -> Mapping[str, Any]:
    operator = _target(ctx, approval)
    ctx.uow.auth.update_operator(operator.id, disabled_at=ctx.now())
    revoke_all_sessions(ctx, operator.id, "operator_disabled", kind=OPERATOR)
    ctx.audit("operator.disabled", subject=operator.id, details={"approval_id": approval.id})
    return {"operator_id": operator.id, "disabled": True}


register_action("operator.set_role", _set_role, min_role=Role.ADMIN)
register_action("operator.disable", _disable, min_role=Role.ADMIN)
