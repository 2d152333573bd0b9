"""Who may act: an operator's role, checked on every action (viewer < analyst <
supervisor < admin). Here, below every domain, because every domain's operator actions
ask it; the operators themselves (creation, four-eyes approvals) live in
services/auth/operators.py."""

from __future__ import annotations

from guardpay.domain.auth.records import Operator
from guardpay.domain.auth.roles import Role, at_least, parse_role
from guardpay.errors import PermissionDenied
from guardpay.services.platform.context import Context


def require_role(ctx: Context, role: Role | str) -> Operator:
    """The acting operator, if active and holding `role` or above (`insufficient_role`)."""
    need = parse_role(role)
    operator = ctx.uow.auth.operator(ctx.actor.id) if ctx.actor.kind == "operator" else None
    if operator is None or operator.disabled_at is not None or not at_least(operator.role, need):
        raise PermissionDenied(
            f"this needs an operator with the {need} role or above", code="insufficient_role"
        )
    return operator
