"""Alerts and cases for the analysts (operators, by role: services/cases/workflow.py).

- `GET /v1/alerts`, `GET /v1/alerts/{id}`: what monitoring raised (AML findings of
  flagged accounts, payments held for review), newest first, each with the money's path
  around the account (nodes, edges with amounts and times, `fired` on the subgraph that
  raised it) for the console to draw.
- `GET /v1/cases` (`?status=`, `?assignee=`, `?subject=`, `?breached=true`): the queue;
  `GET /v1/cases/{id}`: the case, its alerts, notes and audit trail.
- `POST /v1/cases/{id}/assign|investigate|escalate|send-back|close|notes`: the workflow;
  `POST /v1/cases/{id}/holds` holds an amount of the customer's wallet, and
  `POST /v1/cases/{id}/holds/{hold_id}/release` gives it back;
  `POST /v1/cases/{id}/freeze|unfreeze`: four-eyes requests, run when a second operator
  approves them (`POST /v1/operator/approvals/{id}/approve`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from guardpay.api.deps import InOneUnit, OperatorCaller
from guardpay.api.routers.common import ListOut, Page, PathId, errors
from guardpay.api.routers.operators import ApprovalOut
from guardpay.api.routers.payments import Amount, Currency
from guardpay.domain.money import Money
from guardpay.services.cases import actions, workflow

if TYPE_CHECKING:  # types only: the rows come from the services
    from guardpay.domain.cases.alerts import Alert
    from guardpay.domain.cases.model import Case
    from guardpay.storage.audit import AuditEntry
    from guardpay.storage.cases import Hold, Note

router = APIRouter(route_class=InOneUnit, tags=["cases"])

CaseStatus = Literal["open", "investigating", "escalated", "closed"]
Disposition = Literal["confirmed_fraud", "confirmed_laundering", "false_positive"]


class AlertOut(BaseModel):
    id: str
    source: str = Field(description="aml | risk_review")
    subject: str = Field(description="The customer: a user or merchant id")
    kind: str = Field(description="The typology, or the review's first reason")
    score_bp: int = Field(description="0..10,000")
    first_seen: datetime
    last_seen: datetime
    occurrences: int = Field(description="Seen again while its case was open")
    evidence: str
    path: dict[str, Any] = Field(
        description="account, currency, nodes, edges [{id, source, target, amount, at, "
        "fired}] and truncated"
    )
    decisions: list[str] = Field(description="Risk decisions held for review behind it")
    case_id: str
    created_at: datetime

    @classmethod
    def of(cls, a: Alert) -> AlertOut:
        return cls(
            **{name: getattr(a, name) for name in cls.model_fields if name != "decisions"},
            decisions=list(a.decisions),
        )


class CaseOut(BaseModel):
    id: str
    subject: str
    status: CaseStatus
    score_bp: int
    alerts: int
    assignee: str | None
    opened_at: datetime
    updated_at: datetime
    due_at: datetime | None = Field(description="When the current status's SLA runs out")
    breached: bool
    disposition: Disposition | None
    closed_at: datetime | None
    closed_by: str | None

    @classmethod
    def of(cls, c: Case, now: datetime) -> CaseOut:
        fields = {name: getattr(c, name) for name in cls.model_fields if name != "breached"}
        return cls(**fields, breached=c.breached(now))


class NoteOut(BaseModel):
    id: str
    author: str
    body: str
    created_at: datetime

    @classmethod
    def of(cls, n: Note) -> NoteOut:
        return cls(id=n.id, author=n.author, body=n.body, created_at=n.created_at)


class TrailOut(BaseModel):
    at: datetime
    actor: str
    action: str
    outcome: str
    details: dict[str, Any]

    @classmethod
    def of(cls, e: AuditEntry) -> TrailOut:
        details = json.loads(e.details)
        return cls(at=e.at, actor=e.actor, action=e.action, outcome=e.outcome, details=details)


class HoldOut(BaseModel):
    id: str
    amount: int = Field(description="Minor units")
    currency: str
    status: Literal["held", "released"]
    reason: str
    held_by: str
    held_at: datetime
    released_by: str | None
    released_at: datetime | None

    @classmethod
    def of(cls, h: Hold) -> HoldOut:
        return cls(**{name: getattr(h, name) for name in cls.model_fields})


class CaseViewOut(CaseOut):
    alert_list: list[AlertOut]
    notes: list[NoteOut]
    holds: list[HoldOut]
    timeline: list[TrailOut] = Field(description="Every change, oldest first (the audit log)")


@router.get("/alerts", response_model=ListOut[AlertOut], responses=errors(400, 401, 403))
def list_alerts(
    op: OperatorCaller,
    page: Page,
    source: Literal["aml", "risk_review"] | None = None,
) -> ListOut[AlertOut]:
    found, after = workflow.list_alerts(op.ctx, source=source, limit=page.limit, cursor=page.cursor)
    return ListOut[AlertOut](
        data=[AlertOut.of(a) for a in found], has_more=after is not None, next_cursor=after
    )


@router.get("/alerts/{alert_id}", response_model=AlertOut, responses=errors(401, 403, 404))
def get_alert(op: OperatorCaller, alert_id: PathId) -> AlertOut:
    return AlertOut.of(workflow.get_alert(op.ctx, alert_id))


@router.get("/cases", response_model=ListOut[CaseOut], responses=errors(400, 401, 403))
def list_cases(
    op: OperatorCaller,
    page: Page,
    status: Annotated[list[CaseStatus] | None, Query()] = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=80)] = None,
    breached: bool = False,
) -> ListOut[CaseOut]:
    """Newest first; `breached=true`: the cases past their SLA now."""
    found, after = workflow.list_cases(
        op.ctx,
        status=list(status or []),
        assignee=assignee,
        subject=subject,
        breached=breached,
        limit=page.limit,
        cursor=page.cursor,
    )
    now = op.ctx.now()
    return ListOut[CaseOut](
        data=[CaseOut.of(c, now) for c in found], has_more=after is not None, next_cursor=after
    )


@router.get("/cases/{case_id}", response_model=CaseViewOut, responses=errors(401, 403, 404))
def get_case(op: OperatorCaller, case_id: PathId) -> CaseViewOut:
    seen = workflow.view(op.ctx, case_id)
    base = CaseOut.of(seen.case, op.ctx.now())
    return CaseViewOut(
        **base.model_dump(),
        alert_list=[AlertOut.of(a) for a in seen.alerts],
        notes=[NoteOut.of(n) for n in seen.notes],
        holds=[HoldOut.of(h) for h in seen.holds],
        timeline=[TrailOut.of(e) for e in seen.timeline],
    )


class AssignIn(BaseModel):
    operator_id: str | None = Field(None, max_length=64, description="Omitted: oneself")


class CaseReasonIn(BaseModel):
    reason: str = Field("", max_length=500)


class CloseIn(BaseModel):
    disposition: Disposition
    reason: str = Field(min_length=1, max_length=500)


class CaseNoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=workflow.NOTE_MAX)


_WORK = errors(400, 401, 403, 404, 409)


@router.post("/cases/{case_id}/assign", response_model=CaseOut, responses=_WORK)
def assign(op: OperatorCaller, case_id: PathId, body: AssignIn) -> CaseOut:
    return CaseOut.of(workflow.assign(op.ctx, case_id, body.operator_id), op.ctx.now())


@router.post("/cases/{case_id}/investigate", response_model=CaseOut, responses=_WORK)
def investigate(op: OperatorCaller, case_id: PathId) -> CaseOut:
    """Take up an open case (assigned to oneself if nobody has it)."""
    return CaseOut.of(workflow.investigate(op.ctx, case_id), op.ctx.now())


@router.post("/cases/{case_id}/escalate", response_model=CaseOut, responses=_WORK)
def escalate(op: OperatorCaller, case_id: PathId, body: CaseReasonIn) -> CaseOut:
    return CaseOut.of(workflow.escalate(op.ctx, case_id, body.reason), op.ctx.now())


@router.post("/cases/{case_id}/send-back", response_model=CaseOut, responses=_WORK)
def send_back(op: OperatorCaller, case_id: PathId, body: CaseReasonIn) -> CaseOut:
    """An escalated case back to investigation (a supervisor)."""
    return CaseOut.of(workflow.send_back(op.ctx, case_id, body.reason), op.ctx.now())


@router.post("/cases/{case_id}/close", response_model=CaseOut, responses=_WORK)
def close(op: OperatorCaller, case_id: PathId, body: CloseIn) -> CaseOut:
    """With a disposition, which labels the decisions behind its alerts; an escalated
    case only by a supervisor."""
    done = workflow.close(op.ctx, case_id, body.disposition, body.reason)
    return CaseOut.of(done, op.ctx.now())


@router.post("/cases/{case_id}/notes", status_code=201, response_model=NoteOut, responses=_WORK)
def add_note(op: OperatorCaller, case_id: PathId, body: CaseNoteIn) -> NoteOut:
    return NoteOut.of(workflow.add_note(op.ctx, case_id, body.body))


@router.post(
    "/cases/{case_id}/freeze", status_code=201, response_model=ApprovalOut, responses=_WORK
)
def freeze(op: OperatorCaller, case_id: PathId, body: CaseReasonIn) -> ApprovalOut:
    """Ask for the customer's accounts to be frozen for debits: runs when a supervisor
    other than the requester approves it."""
    return ApprovalOut.of(actions.request_freeze(op.ctx, case_id, body.reason))


@router.post(
    "/cases/{case_id}/unfreeze", status_code=201, response_model=ApprovalOut, responses=_WORK
)
def unfreeze(op: OperatorCaller, case_id: PathId, body: CaseReasonIn) -> ApprovalOut:
    return ApprovalOut.of(actions.request_unfreeze(op.ctx, case_id, body.reason))


class HoldIn(BaseModel):
    amount: Amount
    currency: Currency = "CNY"
    reason: str = Field(min_length=1, max_length=500)


@router.post("/cases/{case_id}/holds", status_code=201, response_model=HoldOut, responses=_WORK)
def hold_funds(op: OperatorCaller, case_id: PathId, body: HoldIn) -> HoldOut:
    """Hold an amount of the customer's wallet (a pending ledger transfer): spendable no
    more until released, still the customer's."""
    money = Money(body.amount, body.currency)
    return HoldOut.of(actions.hold_funds(op.ctx, case_id, money, body.reason))


@router.post("/cases/{case_id}/holds/{hold_id}/release", response_model=HoldOut, responses=_WORK)
def release_hold(op: OperatorCaller, case_id: PathId, hold_id: PathId) -> HoldOut:
    return HoldOut.of(actions.release_hold(op.ctx, case_id, hold_id))
