"""Suspicious-transaction reports (STRs) drafted from a case, filed under four eyes.

An analyst drafts the report from a case: its subject, the accounts and transactions on
its alerts' money paths (those that raised the alerts marked), the typologies and the
analyst's narrative. It must be filed within five working days of the draft (PBOC Order
2016 No. 3: at the latest five working days after the institution found the transaction
suspicious), the deadline the report keeps. Filing is a four-eyes action: the analyst
asks, a supervisor or above who is not the requester approves, and only then is it
recorded as filed, its files' SHA-256 in the audit log (services/reports/files.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from guardpay.domain.auth.records import Approval
from guardpay.domain.auth.roles import Role
from guardpay.domain.cases.alerts import Alert
from guardpay.domain.cases.model import Case, Event
from guardpay.domain.money import Money
from guardpay.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from guardpay.services.auth import operators
from guardpay.services.cases.alerts import audit_case
from guardpay.services.platform.access import require_role
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import timed_id
from guardpay.services.reports import files, identities
from guardpay.storage.reports import ReportRecord

KIND = "str"
FILE = "report.str_file"
DRAFT, FILED = "draft", "filed"
WORKING_DAYS = 5
#: the working week the deadline counts in (Beijing time; public holidays not counted)
_TZ = ZoneInfo("Asia/Shanghai")
NARRATIVE_MIN = 20
COLUMNS = [
    "transaction_id",
    "source",
    "target",
    "amount",
    "amount_major",
    "currency",
    "at",
    "fired",
]


def deadline(drafted: datetime, working_days: int = WORKING_DAYS) -> datetime:
    """The end of the `working_days`-th working day after `drafted` (Monday to Friday)."""
    day = drafted.astimezone(_TZ).date()
    left = working_days
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), _TZ)


def draft(ctx: Context, case_id: str, narrative: str) -> ReportRecord:
    me = require_role(ctx, Role.ANALYST)
    case = _case(ctx, case_id)
    told = narrative.strip()
    if len(told) < NARRATIVE_MIN:
        raise InvalidRequest(
            f"tell what is suspicious and why, in {NARRATIVE_MIN} characters or more",
            code="narrative_required",
            param="narrative",
        )
    alerts = ctx.uow.cases.alerts_of(case.id)
    now = ctx.now()
    content = _content(case, alerts, told[:10_000], me.id, now)
    report_id = timed_id("rpt", now)
    identities.keep(ctx, report_id, content["accounts"])
    record = ReportRecord(
        id=report_id,
        kind=KIND,
        subject=case.id,
        status=DRAFT,
        rows=len(content["rows"]),
        content=files.canonical(content),
        sha256_csv=None,
        sha256_json=None,
        created_by=ctx.actor.label,
        created_at=now,
        deadline_at=deadline(now),
    )
    ctx.uow.reports.add(record)
    ctx.audit("report.str_drafted", subject=record.id, details={"case_id": case.id})
    audit_case(ctx, case, [Event("str_drafted", {"report": record.id})])
    return record


def request_filing(ctx: Context, report_id: str) -> Approval:
    """Ask for the draft to be filed; it is once another operator approves."""
    require_role(ctx, Role.ANALYST)
    record = _draft(ctx, report_id)
    payload = {"report_id": record.id, "case_id": record.subject}
    approval = operators.request_approval(ctx, FILE, payload, Role.SUPERVISOR)
    case = _case(ctx, record.subject)
    audit_case(ctx, case, [Event("action_requested", {"action": FILE, "approval": approval.id})])
    return approval


def overdue(ctx: Context) -> list[ReportRecord]:
    """Drafts past their deadline, oldest first."""
    require_role(ctx, Role.VIEWER)
    now = ctx.now()
    found = [
        r
        for r in ctx.uow.reports.latest(KIND, limit=10_000)
        if r.status == DRAFT and r.deadline_at is not None and r.deadline_at <= now
    ]
    return sorted(found, key=lambda r: (r.deadline_at or now, r.id))


def _file(ctx: Context, approval: Approval) -> Mapping[str, Any]:
    """The approved filing: recorded with its files' hashes, audited. Four eyes on the
    report itself: whoever drafted it does not approve its filing either."""
    operators.require_requester(ctx, approval, Role.ANALYST)
    record = _draft(ctx, str(approval.payload.get("report_id", "")), lock=True)
    if record.created_by == ctx.actor.label:
        raise PermissionDenied(
            "the report must be approved by someone other than who drafted it",
            code="four_eyes_same_operator",
        )
    now = ctx.now()
    made = identities.files(ctx, record.id, record.content)
    filed = ReportRecord(
        **{
            **record.__dict__,
            "status": FILED,
            "sha256_csv": files.sha256(made.csv),
            "sha256_json": files.sha256(made.json),
            "filed_by": ctx.actor.label,
            "filed_at": now,
        }
    )
    ctx.uow.reports.save(filed)
    details = {
        "case_id": record.subject,
        "approval": approval.id,
        "late": record.deadline_at is not None and now > record.deadline_at,
        "sha256_csv": filed.sha256_csv,
        "sha256_json": filed.sha256_json,
    }
    ctx.audit("report.str_filed", subject=record.id, details=details)
    audit_case(ctx, _case(ctx, record.subject), [Event("str_filed", {"report": record.id})])
    return {"report_id": record.id, "sha256_json": filed.sha256_json}


def _content(
    case: Case, alerts: list[Alert], narrative: str, by: str, now: datetime
) -> dict[str, Any]:
    edges: dict[str, dict[str, Any]] = {}
    accounts: set[str] = {case.subject}
    for alert in alerts:
        path = alert.path
        accounts.update(path.get("nodes", []))
        for e in path.get("edges", []):
            known = edges.get(e["id"])
            fired = bool(e["fired"]) or bool(known and known["fired"])
            money = Money(int(e["amount"]), str(path["currency"]))
            edges[e["id"]] = {
                "transaction_id": e["id"],
                "source": e["source"],
                "target": e["target"],
                "amount": money.amount,
                "amount_major": money.to_decimal_string(),
                "currency": money.currency,
                "at": e["at"],
                "fired": fired,
            }
    return {
        "kind": KIND,
        "case_id": case.id,
        "subject": case.subject,
        "subject_kind": "non_individual" if case.subject.startswith("mer_") else "individual",
        "disposition": None if case.disposition is None else case.disposition.value,
        "typologies": sorted({a.kind for a in alerts}),
        "alerts": [
            {
                "id": a.id,
                "source": a.source,
                "kind": a.kind,
                "score_bp": a.score_bp,
                "first_seen": a.first_seen.isoformat(),
                "last_seen": a.last_seen.isoformat(),
                "evidence": a.evidence,
            }
            for a in alerts
        ],
        "accounts": sorted(accounts),
        "narrative": narrative,
        "drafted_by": by,
        "drafted_at": now.isoformat(),
        "columns": COLUMNS,
        "identity_columns": {"source": "source", "target": "target"},
        "rows": sorted(edges.values(), key=lambda r: (r["at"], r["transaction_id"])),
    }


def _draft(ctx: Context, report_id: str, *, lock: bool = False) -> ReportRecord:
    record = ctx.uow.reports.get(report_id, lock=lock)
    if record is None or record.kind != KIND:
        raise NotFound("no such suspicious-transaction report", code="report_not_found")
    if record.status != DRAFT:
        raise Conflict("the report is filed already", code="report_filed")
    return record


def _case(ctx: Context, case_id: str) -> Case:
    case = ctx.uow.cases.case(case_id)
    if case is None:
        raise NotFound("no such case", code="case_not_found", param="case_id")
    return case


operators.register_action(FILE, _file, min_role=Role.SUPERVISOR)
