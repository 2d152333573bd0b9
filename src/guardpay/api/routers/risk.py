"""Risk control for analysts and auditors, and its explanation for the payer.

- `GET /v1/risk/reviews`: held payments waiting for an analyst, oldest first (paged);
  `POST .../{decision_id}/approve|decline` releases or returns the money.
- `GET /v1/risk/decisions/{id}`: everything a decision saw and why: score, reasons, the
  rule set and model versions, the feature snapshot and the model's top contributions.
  `POST .../{id}/label` records a confirmed outcome (training labels).
- `/v1/risk/lists`: block and allow lists with expiry.
- `GET /v1/payments/{id}/decision`: the payer's own, in plain words, without the score,
  the thresholds or the features (those would teach a fraudster the rules).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from guardpay.api.deps import InOneUnit, OperatorCaller, UserCaller
from guardpay.api.routers.common import ListOut, Page, PathId, errors, page_of
from guardpay.domain.risk.explain import plain_words
from guardpay.errors import NotFound
from guardpay.services.payments import core as payments
from guardpay.services.payments import review as payments_review
from guardpay.services.risk import decisions as risk_decisions
from guardpay.services.risk import lists as risk_lists
from guardpay.services.risk import models as risk_models

if TYPE_CHECKING:  # types only: the rows come from the services
    from guardpay.storage.risk import DecisionRow, ListEntry

router = APIRouter(route_class=InOneUnit, tags=["risk"])


class DecisionOut(BaseModel):
    id: str
    request_kind: str
    channel: str
    subject_id: str | None
    user_id: str
    amount: int
    currency: str
    action: str
    score: int = Field(description="0-100")
    reasons: list[str]
    rule_set: str
    model_version: str | None
    review_status: str | None
    review_deadline: datetime | None
    reviewed_by: str | None
    label: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: DecisionRow) -> DecisionOut:
        return cls(**{name: getattr(row, name) for name in cls.model_fields})


class ExplainedOut(DecisionOut):
    features: dict[str, Any]
    contributions: list[list[Any]] = Field(description="[feature, SHAP log-odds], top first")
    shadow_hits: list[str] = Field(description="Shadow rules that matched (not acting)")

    @classmethod
    def of(cls, row: DecisionRow) -> ExplainedOut:
        return cls(**{name: getattr(row, name) for name in cls.model_fields})


class NoteIn(BaseModel):
    note: str | None = Field(None, max_length=500)


class ReviewedOut(BaseModel):
    decision: DecisionOut
    payment_id: str
    payment_status: str


@router.get("/risk/reviews", response_model=ListOut[DecisionOut], responses=errors(400, 401, 403))
def reviews(op: OperatorCaller, page: Page) -> ListOut[DecisionOut]:
    rows, after = payments_review.pending(op.ctx, page.limit, page.cursor)
    return ListOut[DecisionOut](
        data=[DecisionOut.of(r) for r in rows], has_more=after is not None, next_cursor=after
    )


def _reviewed(done: payments_review.Reviewed) -> ReviewedOut:
    return ReviewedOut(
        decision=DecisionOut.of(done.decision),
        payment_id=done.payment.id,
        payment_status=done.payment.status,
    )


@router.post(
    "/risk/reviews/{decision_id}/approve",
    response_model=ReviewedOut,
    responses=errors(401, 403, 404, 409),
)
def approve(op: OperatorCaller, decision_id: PathId, body: NoteIn) -> ReviewedOut:
    """Release the held money to the payee (the payment succeeds)."""
    return _reviewed(payments_review.approve(op.ctx, decision_id, body.note))


@router.post(
    "/risk/reviews/{decision_id}/decline",
    response_model=ReviewedOut,
    responses=errors(401, 403, 404, 409),
)
def decline(op: OperatorCaller, decision_id: PathId, body: NoteIn) -> ReviewedOut:
    """Return the held money to the payer (the payment fails)."""
    return _reviewed(payments_review.decline(op.ctx, decision_id, body.note))


@router.get(
    "/risk/decisions/{decision_id}", response_model=ExplainedOut, responses=errors(401, 403, 404)
)
def explain(op: OperatorCaller, decision_id: PathId) -> ExplainedOut:
    return ExplainedOut.of(risk_decisions.explain(op.ctx, decision_id))


class LabelIn(BaseModel):
    label: Literal["fraud", "legit"]


@router.post(
    "/risk/decisions/{decision_id}/label",
    response_model=DecisionOut,
    responses=errors(400, 401, 403, 404),
)
def label(op: OperatorCaller, decision_id: PathId, body: LabelIn) -> DecisionOut:
    return DecisionOut.of(risk_models.label_decision(op.ctx, decision_id, body.label))


class PayerDecisionOut(BaseModel):
    payment_id: str
    action: str
    explanation: list[str]


@router.get(
    "/payments/{payment_id}/decision",
    response_model=PayerDecisionOut,
    responses=errors(401, 403, 404),
)
def payer_decision(caller: UserCaller, payment_id: PathId) -> PayerDecisionOut:
    """Why my payment was stopped, held or questioned, in plain words."""
    row = payments.get_payment(caller.ctx, caller.id, payment_id)
    found = risk_decisions.decision_for(caller.ctx, row.id)
    if found is None or row.payer_id != caller.id:
        raise NotFound("no risk decision for this payment", code="decision_not_found")
    return PayerDecisionOut(
        payment_id=row.id, action=found.action, explanation=plain_words(found.action, found.reasons)
    )


class ListIn(BaseModel):
    list: Literal["block", "allow"]
    entity: Literal["user", "device", "ip", "card", "payee"]
    value: str = Field(min_length=1, max_length=128, description="A card by its id")
    reason: str = Field(min_length=1, max_length=200)
    expires_in_hours: int | None = Field(None, ge=1, le=24 * 3650)


class ListEntryOut(BaseModel):
    id: str
    list: str
    entity: str
    value: str
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, e: ListEntry) -> ListEntryOut:
        return cls(**e.__dict__)


@router.post(
    "/risk/lists",
    status_code=201,
    response_model=ListEntryOut,
    responses=errors(400, 401, 403, 404),
)
def add_list_entry(op: OperatorCaller, body: ListIn) -> ListEntryOut:
    hours = None if body.expires_in_hours is None else timedelta(hours=body.expires_in_hours)
    entry = risk_lists.add_entry(op.ctx, body.list, body.entity, body.value, body.reason, hours)
    return ListEntryOut.of(entry)


@router.get("/risk/lists", response_model=ListOut[ListEntryOut], responses=errors(400, 401, 403))
def list_entries(op: OperatorCaller, page: Page) -> ListOut[ListEntryOut]:
    found = risk_lists.live_entries(op.ctx)
    return page_of([ListEntryOut.of(e) for e in found], [e.id for e in found], page)


@router.post(
    "/risk/lists/{entry_id}/remove", response_model=ListEntryOut, responses=errors(401, 403, 404)
)
def remove_list_entry(op: OperatorCaller, entry_id: PathId) -> ListEntryOut:
    return ListEntryOut.of(risk_lists.remove_entry(op.ctx, entry_id))
