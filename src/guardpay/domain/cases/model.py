"""The case workflow (DESIGN.md "Risk control": alerts become cases; cases end in a
disposition that feeds the models' labels).

    open -> investigating -> escalated -> closed (with a disposition)
    open | investigating -> closed
    escalated -> investigating                 (sent back by a supervisor)

One case per customer: an alert about a customer joins the customer's case that is not
closed, and opens a new one otherwise. An alert seen again (the same source, customer
and kind while its case is not closed) is the same alert seen once more, not a new one.

Every step is `(case, command, now) -> (case, events)`: the service writes the case and
turns each event into an audit entry, so no change to a case goes unrecorded. Each
status has an SLA: the time by which the case must leave it (`due_at`); a case past it
is in breach until it moves on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from guardpay.errors import Conflict, InvalidRequest


class Status(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    ESCALATED = "escalated"
    CLOSED = "closed"


class Disposition(StrEnum):
    CONFIRMED_FRAUD = "confirmed_fraud"
    CONFIRMED_LAUNDERING = "confirmed_laundering"
    FALSE_POSITIVE = "false_positive"


ALLOWED: dict[Status, frozenset[Status]] = {
    Status.OPEN: frozenset({Status.INVESTIGATING, Status.CLOSED}),
    Status.INVESTIGATING: frozenset({Status.ESCALATED, Status.CLOSED}),
    Status.ESCALATED: frozenset({Status.INVESTIGATING, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

#: how long a case may stay in each status before it is in breach: picked up within a
#: day, investigated within five, an escalation decided within two
SLA: dict[Status, timedelta] = {
    Status.OPEN: timedelta(hours=24),
    Status.INVESTIGATING: timedelta(days=5),
    Status.ESCALATED: timedelta(days=2),
}


class IllegalCaseTransition(Conflict):
    """A status change the workflow does not allow (409 `case_transition_invalid`)."""

    code = "case_transition_invalid"


@dataclass(frozen=True)
class Event:
    """What changed, for the audit log (`case.<action>`, details without personal data)."""

    action: str
    details: dict[str, Any]


@dataclass(frozen=True)
class Case:
    id: str
    subject: str  # the customer: a user or merchant id (an AML account)
    status: Status
    opened_at: datetime
    updated_at: datetime
    due_at: datetime | None  # when the current status's SLA runs out (None once closed)
    score_bp: int = 0  # the strongest alert's score, 0..10,000: orders the queue
    alerts: int = 0
    assignee: str | None = None  # an operator id
    disposition: Disposition | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None

    def breached(self, now: datetime) -> bool:
        return self.due_at is not None and now >= self.due_at


def open_case(case_id: str, subject: str, now: datetime) -> tuple[Case, list[Event]]:
    case = Case(case_id, subject, Status.OPEN, now, now, now + SLA[Status.OPEN])
    return case, [Event("opened", {"subject": subject, "due_at": _iso(case.due_at)})]


def add_alert(case: Case, alert_id: str, score_bp: int, now: datetime) -> tuple[Case, list[Event]]:
    """An alert joins the case: it counts, and may raise the case's priority."""
    _require_open(case)
    done = replace(case, alerts=case.alerts + 1, score_bp=max(case.score_bp, score_bp))
    done = replace(done, updated_at=now)
    return done, [Event("alert_added", {"alert_id": alert_id, "score_bp": score_bp})]


def assign(case: Case, operator_id: str, now: datetime) -> tuple[Case, list[Event]]:
    _require_open(case)
    if case.assignee == operator_id:
        return case, []
    done = replace(case, assignee=operator_id, updated_at=now)
    return done, [Event("assigned", {"from": case.assignee, "to": operator_id})]


def move(
    case: Case, target: Status, now: datetime, *, by: str, note: str | None = None
) -> tuple[Case, list[Event]]:
    """Investigate, escalate or send back; the SLA clock restarts for the new status.
    Taking up an unassigned case assigns it to whoever took it up. `note`: the id of the
    note that says why, if the caller has one (free text stays out of the audit log,
    which nothing erases)."""
    if target is Status.CLOSED:
        raise ValueError("close a case with `close`: it needs a disposition")
    _require_move(case, target)
    assignee = case.assignee or (by if target is Status.INVESTIGATING else None)
    done = replace(case, status=target, assignee=assignee, updated_at=now, due_at=now + SLA[target])
    details = {"from": case.status.value, "to": target.value, "by": by, "note": note}
    events = [Event("status_changed", details | {"due_at": _iso(done.due_at)})]
    if assignee != case.assignee:
        events.append(Event("assigned", {"from": case.assignee, "to": assignee}))
    return done, events


def close(
    case: Case,
    disposition: Disposition,
    now: datetime,
    *,
    by: str,
    reason: str,
    note: str | None = None,
) -> tuple[Case, list[Event]]:
    """The end of a case, with what it was (the disposition labels its alerts) and why
    (`reason`, required; kept as the note `note`, not in the audit log)."""
    _require_move(case, Status.CLOSED)
    if not reason.strip():
        raise InvalidRequest(
            "say why the case is closed (it is kept with the disposition)",
            code="reason_required",
            param="reason",
        )
    done = replace(
        case,
        status=Status.CLOSED,
        disposition=disposition,
        updated_at=now,
        due_at=None,
        closed_at=now,
        closed_by=by,
    )
    details = {"from": case.status.value, "disposition": disposition.value, "by": by}
    return done, [Event("closed", details | {"note": note})]


def parse_disposition(value: str) -> Disposition:
    try:
        return Disposition(value)
    except ValueError:
        names = ", ".join(d.value for d in Disposition)
        raise InvalidRequest(
            f"unknown disposition; use one of {names}",
            code="invalid_disposition",
            param="disposition",
        ) from None


def _require_open(case: Case) -> None:
    if case.status is Status.CLOSED:
        raise IllegalCaseTransition("the case is closed")


def _require_move(case: Case, target: Status) -> None:
    if target not in ALLOWED[case.status]:
        raise IllegalCaseTransition(
            f"a case that is {case.status.value} cannot become {target.value}"
        )


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()
