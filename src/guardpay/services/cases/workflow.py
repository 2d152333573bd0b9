"""Working a case: look at it, assign it, investigate, escalate, send back, close with a
disposition, and write notes. Every change is audited under the case's id
(alerts.audit_case), so the audit trail is the case's timeline.

Roles (services/platform/access.py): a viewer reads; an analyst works cases; closing an
escalated case, or sending it back, is a supervisor's. A closed case's disposition
labels what raised it (`labels.apply`), for the fraud model and the AML model.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardpay.domain.auth.roles import Role, at_least
from guardpay.domain.cases import model
from guardpay.domain.cases.alerts import Alert
from guardpay.domain.cases.model import Case, IllegalCaseTransition, Status
from guardpay.errors import InvalidRequest, NotFound
from guardpay.services.cases import labels
from guardpay.services.cases.alerts import audit_case
from guardpay.services.platform import audit
from guardpay.services.platform.access import require_role
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import timed_id
from guardpay.storage.audit import AuditEntry
from guardpay.storage.cases import Hold, Note

NOTE_MAX = 4_000


@dataclass(frozen=True)
class CaseView:
    """A case as the console shows it: its alerts (with their paths), notes, the money
    held from it and the audit trail of every change, oldest first."""

    case: Case
    alerts: list[Alert]
    notes: list[Note]
    holds: list[Hold]
    timeline: list[AuditEntry]


def view(ctx: Context, case_id: str) -> CaseView:
    require_role(ctx, Role.VIEWER)
    case = _case(ctx, case_id)
    cases = ctx.uow.cases
    trail = ctx.uow.audit.for_subject(case.id)
    return CaseView(
        case, cases.alerts_of(case.id), cases.notes(case.id), cases.holds_of(case.id), trail
    )


def list_cases(
    ctx: Context,
    *,
    status: list[str] | None = None,
    assignee: str | None = None,
    subject: str | None = None,
    breached: bool = False,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[Case], str | None]:
    """Newest first; `breached`: only the cases past their SLA now (not closed)."""
    require_role(ctx, Role.VIEWER)
    statuses = [_status(s) for s in status or []]
    after = None if cursor is None else _cursor_case(ctx, cursor)
    found = ctx.uow.cases.cases(
        status=statuses,
        assignee=assignee,
        subject=subject,
        due_before=ctx.now() if breached else None,
        limit=limit + 1,
        after=after,
    )
    more = len(found) > limit
    return found[:limit], found[limit - 1].id if more else None


def list_alerts(
    ctx: Context, *, source: str | None = None, limit: int = 100, cursor: str | None = None
) -> tuple[list[Alert], str | None]:
    require_role(ctx, Role.VIEWER)
    after = None
    if cursor is not None:
        after = ctx.uow.cases.alert(cursor)
        if after is None:
            raise InvalidRequest("unknown cursor", code="invalid_cursor", param="cursor")
    found = ctx.uow.cases.alerts(source=source, limit=limit + 1, after=after)
    more = len(found) > limit
    return found[:limit], found[limit - 1].id if more else None


def get_alert(ctx: Context, alert_id: str) -> Alert:
    require_role(ctx, Role.VIEWER)
    alert = ctx.uow.cases.alert(alert_id)
    if alert is None:
        raise NotFound("no such alert", code="alert_not_found", param="alert_id")
    return alert


def assign(ctx: Context, case_id: str, operator_id: str | None = None) -> Case:
    """To `operator_id` (an analyst or above), or to oneself."""
    me = require_role(ctx, Role.ANALYST)
    target = me.id if operator_id is None else operator_id
    assignee = ctx.uow.auth.operator(target)
    if assignee is None or assignee.disabled_at is not None:
        raise NotFound("no such operator", code="operator_not_found", param="operator_id")
    if not at_least(assignee.role, Role.ANALYST):
        raise InvalidRequest(
            "a case is assigned to an analyst or above", code="assignee_role", param="operator_id"
        )
    case = _locked(ctx, case_id)
    return _save(ctx, *model.assign(case, assignee.id, ctx.now()))


def investigate(ctx: Context, case_id: str) -> Case:
    """Take up an open case (an escalated one goes back only by `send_back`)."""
    me = require_role(ctx, Role.ANALYST)
    case = _locked(ctx, case_id)
    if case.status is Status.ESCALATED:
        raise IllegalCaseTransition("an escalated case is sent back by a supervisor")
    return _save(ctx, *model.move(case, Status.INVESTIGATING, ctx.now(), by=me.id))


def escalate(ctx: Context, case_id: str, reason: str) -> Case:
    me = require_role(ctx, Role.ANALYST)
    case = _locked(ctx, case_id)
    if case.status is Status.OPEN:  # taken up and escalated at once
        case = _save(ctx, *model.move(case, Status.INVESTIGATING, ctx.now(), by=me.id))
    return _save(
        ctx,
        *_noted(ctx, case, me.id, reason, model.move(case, Status.ESCALATED, ctx.now(), by=me.id)),
    )


def send_back(ctx: Context, case_id: str, reason: str) -> Case:
    """An escalated case back to its investigation (a supervisor's call)."""
    me = require_role(ctx, Role.SUPERVISOR)
    case = _locked(ctx, case_id)
    moved = model.move(case, Status.INVESTIGATING, ctx.now(), by=me.id)
    return _save(ctx, *_noted(ctx, case, me.id, reason, moved))


def close(ctx: Context, case_id: str, disposition: str, reason: str) -> Case:
    """Closed with what it was; an escalated case only by a supervisor. The decisions
    behind its alerts are labelled first (labels.apply): a review's decision row is
    locked before the ledger and the audit head when an analyst decides it, so it is
    here too, before the audit head and the case row."""
    me = require_role(ctx, Role.ANALYST)
    verdict = model.parse_disposition(disposition)
    labelled = labels.apply(ctx, case_id, verdict)
    case = _locked(ctx, case_id)
    if case.status is Status.ESCALATED:
        me = require_role(ctx, Role.SUPERVISOR)
    closed = model.close(case, verdict, ctx.now(), by=me.id, reason=reason)
    done, events = _noted(ctx, case, me.id, reason, closed)
    events[0].details["labelled"] = labelled
    return _save(ctx, done, events)


def add_note(ctx: Context, case_id: str, body: str) -> Note:
    me = require_role(ctx, Role.ANALYST)
    case = _locked(ctx, case_id)
    note = _note(ctx, case, me.id, body)
    audit_case(ctx, case, [model.Event("note_added", {"note_id": note.id})])
    return note


def breaches(ctx: Context, limit: int = 1000) -> list[Case]:
    """Every case past its SLA now, oldest due first."""
    found, _ = list_cases(ctx, breached=True, limit=limit)
    return sorted(found, key=lambda c: (c.due_at or ctx.now(), c.id))


def _save(ctx: Context, case: Case, events: list[model.Event]) -> Case:
    if events:
        ctx.uow.cases.save_case(case)
        audit_case(ctx, case, events)
    return case


def _note(ctx: Context, case: Case, author: str, body: str) -> Note:
    text = body.strip()
    if not text or len(text) > NOTE_MAX:
        raise InvalidRequest(
            f"a note holds 1 to {NOTE_MAX} characters", code="invalid_note", param="body"
        )
    note = Note(timed_id("note", ctx.now()), case.id, author, text, ctx.now())
    ctx.uow.cases.add_note(note)
    return note


def _noted(
    ctx: Context,
    case: Case,
    author: str,
    reason: str,
    step: tuple[Case, list[model.Event]],
) -> tuple[Case, list[model.Event]]:
    """A step, once the workflow allowed it, with its reason kept as a note: the step's
    event names the note, and the audit log never holds the free text."""
    done, events = step
    events[0].details["note"] = _note(ctx, case, author, reason).id if reason.strip() else None
    return done, events


def _locked(ctx: Context, case_id: str) -> Case:
    """The case, its row locked after the audit head (the lock order, audit.hold_head)."""
    audit.hold_head(ctx.uow)
    return _case(ctx, case_id, lock=True)


def _case(ctx: Context, case_id: str, *, lock: bool = False) -> Case:
    case = ctx.uow.cases.case(case_id, lock=lock)
    if case is None:
        raise NotFound("no such case", code="case_not_found", param="case_id")
    return case


def _cursor_case(ctx: Context, cursor: str) -> Case:
    found = ctx.uow.cases.case(cursor)
    if found is None:
        raise InvalidRequest("unknown cursor", code="invalid_cursor", param="cursor")
    return found


def _status(value: str) -> str:
    try:
        return Status(value).value
    except ValueError:
        names = ", ".join(s.value for s in Status)
        raise InvalidRequest(
            f"unknown case status; use one of {names}", code="invalid_status", param="status"
        ) from None
