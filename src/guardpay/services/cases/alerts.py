"""Raising alerts: AML monitoring's flagged accounts and risk control's reviews become
alerts in their customer's case (domain/cases), in the unit of work that found them.

`raise_alert` is the one way in: it takes the customer's lock, finds the customer's case
that is not closed (or opens one), and either counts the alert seen again (same source,
customer and kind in that case) or adds it. Each change to the case is audited under the
case's id, so the case's audit trail is its timeline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from guardpay.domain.cases import alerts as domain
from guardpay.domain.cases import model
from guardpay.domain.cases.alerts import AML, RISK_REVIEW, Alert, Movement, Path
from guardpay.domain.cases.model import Case, Event
from guardpay.services.platform import audit
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import timed_id
from guardpay.storage.aml import AmlFinding

#: how far back a review alert's path shows the payer's other movements
REVIEW_LOOKBACK = timedelta(hours=24)
#: the model's findings order the queue but raise no alert alone (services/aml/model.py)
MODEL_TYPOLOGY = "model"


@dataclass(frozen=True)
class Draft:
    """An alert as its source sees it, before it meets the customer's case."""

    source: str
    subject: str
    kind: str
    score_bp: int
    first_seen: datetime
    last_seen: datetime
    evidence: str
    path: Path
    decision_id: str | None = None  # the risk decision under review, if any


def raise_alert(ctx: Context, draft: Draft) -> Alert:
    """The alert, in the customer's open case (opened if there is none)."""
    now, cases = ctx.now(), ctx.uow.cases
    audit.hold_head(ctx.uow)  # the lock order: the audit head before the case's rows
    cases.lock_subject(draft.subject)
    case = cases.open_case_of(draft.subject)
    if case is None:
        case, opened = model.open_case(timed_id("case", now), draft.subject, now)
        cases.add_case(case)
        audit_case(ctx, case, opened)
    alert = _alert(draft, case.id, now)
    known = cases.alert_in_case(alert.dedup_key, case.id)
    if known is not None:
        alert = domain.seen_again(known, alert)
        cases.save_alert(alert)
        case = replace(case, score_bp=max(case.score_bp, alert.score_bp), updated_at=now)
        seen = Event("alert_seen_again", {"alert_id": alert.id, "times": alert.occurrences})
        changes = [seen]
    else:
        cases.add_alert(alert)
        case, changes = model.add_alert(case, alert.id, alert.score_bp, now)
    cases.save_case(case)
    audit_case(ctx, case, changes)
    return alert


def audit_case(ctx: Context, case: Case, events: Iterable[Event]) -> None:
    """Every change to a case, in the audit log under the case's id."""
    for event in events:
        ctx.audit(f"case.{event.action}", subject=case.id, details=event.details)


def _alert(draft: Draft, case_id: str, now: datetime) -> Alert:
    return Alert(
        id=timed_id("alrt", now),
        source=draft.source,
        subject=draft.subject,
        kind=draft.kind,
        score_bp=draft.score_bp,
        first_seen=draft.first_seen,
        last_seen=draft.last_seen,
        evidence=draft.evidence,
        path=draft.path.as_dict(),
        case_id=case_id,
        created_at=now,
        decisions=() if draft.decision_id is None else (draft.decision_id,),
    )


def from_review(
    ctx: Context,
    *,
    decision_id: str,
    payer: str,
    held: Movement,
    currency: str,
    score: float,
    reasons: Sequence[str],
) -> Alert:
    """A payment held for review: an alert about its payer, with the payment and what
    the payer paid in the day before on its path."""
    at = held[4]
    recent = ctx.uow.aml.paid_by(payer, at - REVIEW_LOOKBACK, at, currency)
    kind = reasons[0] if reasons else "review"
    draft = Draft(
        source=RISK_REVIEW,
        subject=payer,
        kind=kind[:40],
        score_bp=min(10_000, max(0, round(score * 100))),
        first_seen=at,
        last_seen=at,
        evidence=f"held for review: {', '.join(reasons) or 'score'} (score {score:g})",
        path=domain.review_path(payer, currency, held, recent),
        decision_id=decision_id,
    )
    return raise_alert(ctx, draft)


def aml_drafts(
    currency: str, findings: Iterable[AmlFinding], movements: Sequence[Movement]
) -> list[Draft]:
    """A draft alert per finding (the model's alone raise none), each with the money's
    path around the account. Pure and outside any transaction: a monitoring run builds
    them before it opens its short write unit. The movements are indexed by account, so
    a path reads only those of the account and its counterparties."""
    touching: dict[str, list[Movement]] = defaultdict(list)
    for m in movements:
        touching[m[1]].append(m)
        if m[2] != m[1]:
            touching[m[2]].append(m)
    drafts = []
    for f in findings:
        if f.typology == MODEL_TYPOLOGY:
            continue
        near = touching.get(f.account, [])
        around = {m[0]: m for m in near}
        for other in {x for m in near for x in (m[1], m[2])} - {f.account}:
            around.update((m[0], m) for m in touching.get(other, []))
        path = domain.money_path(f.account, currency, around.values(), f.first_seen, f.last_seen)
        drafts.append(
            Draft(
                AML, f.account, f.typology, f.score_bp, f.first_seen, f.last_seen, f.evidence, path
            )
        )
    return drafts
