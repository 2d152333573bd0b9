"""Reading recorded risk decisions: an operator's full view of one, the latest about a
payment, and how many took each action. (Recording them is the engine's,
services/risk/engine.py; reviewing held ones is services/payments/review.py; labelling
is services/risk/models.py.)"""

from __future__ import annotations

from guardpay.errors import NotFound
from guardpay.services.platform import access
from guardpay.services.platform.context import Context
from guardpay.storage.risk import DecisionRow
from guardpay.storage.uow import UnitOfWork

VIEW_ROLE = "viewer"


def explain(ctx: Context, decision_id: str) -> DecisionRow:
    """Everything a decision saw and why, for an operator (the viewing is audited)."""
    access.require_role(ctx, VIEW_ROLE)
    row = ctx.uow.risk.decision(decision_id)
    if row is None:
        raise NotFound("no such decision", code="decision_not_found", param="decision_id")
    ctx.audit("risk.decision_viewed", subject=decision_id)
    return row


def decision_for(ctx: Context, subject_id: str) -> DecisionRow | None:
    """The latest decision about a payment (or another subject), or None. No access
    check: the caller has shown the subject is theirs to see (the payer's own payment)."""
    return ctx.uow.risk.decision_for(subject_id)


def action_counts(uow: UnitOfWork) -> dict[str, int]:
    """How many decisions took each action."""
    return uow.risk.action_counts()
