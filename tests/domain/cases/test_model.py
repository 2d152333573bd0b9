"""The case workflow, pure: every allowed move and no other, the SLA clock per status,
a disposition and a reason to close, and an event for every change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from guardpay.domain.cases import model
from guardpay.domain.cases.model import SLA, Case, Disposition, IllegalCaseTransition, Status
from guardpay.errors import InvalidRequest

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def a_case(status: Status = Status.OPEN, *, at: datetime = T0) -> Case:
    case, _ = model.open_case("case_1", "usr_1", at)
    if status in (Status.INVESTIGATING, Status.ESCALATED):
        case, _ = model.move(case, Status.INVESTIGATING, at, by="opr_ana")
    if status is Status.ESCALATED:
        case, _ = model.move(case, Status.ESCALATED, at, by="opr_ana")
    if status is Status.CLOSED:
        case, _ = model.close(case, Disposition.FALSE_POSITIVE, at, by="opr_ana", reason="ok")
    return case


def test_a_new_case_is_open_and_due_within_a_day() -> None:
    case, events = model.open_case("case_1", "usr_1", T0)
    assert (case.status, case.due_at, case.alerts) == (Status.OPEN, T0 + timedelta(hours=24), 0)
    assert [e.action for e in events] == ["opened"]


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.OPEN, Status.INVESTIGATING),
        (Status.INVESTIGATING, Status.ESCALATED),
        (Status.ESCALATED, Status.INVESTIGATING),
    ],
)
def test_allowed_moves_restart_the_sla_clock(start: Status, target: Status) -> None:
    later = T0 + timedelta(hours=3)
    case, events = model.move(a_case(start), target, later, by="opr_sam", note="note_1")
    assert (case.status, case.due_at, case.updated_at) == (target, later + SLA[target], later)
    assert events[0].action == "status_changed"
    assert events[0].details["from"] == start.value
    assert events[0].details["to"] == target.value


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.OPEN, Status.ESCALATED),
        (Status.INVESTIGATING, Status.INVESTIGATING),
        (Status.ESCALATED, Status.ESCALATED),
        (Status.CLOSED, Status.INVESTIGATING),
        (Status.CLOSED, Status.ESCALATED),
    ],
)
def test_every_other_move_is_refused(start: Status, target: Status) -> None:
    with pytest.raises(IllegalCaseTransition):
        model.move(a_case(start), target, T0, by="opr_sam")


def test_taking_up_an_unassigned_case_assigns_it() -> None:
    case, events = model.move(a_case(), Status.INVESTIGATING, T0, by="opr_ana")
    assert case.assignee == "opr_ana"
    assert [e.action for e in events] == ["status_changed", "assigned"]
    assigned, _ = model.assign(a_case(), "opr_bob", T0)
    kept, again = model.move(assigned, Status.INVESTIGATING, T0, by="opr_ana")
    assert (kept.assignee, [e.action for e in again]) == ("opr_bob", ["status_changed"])


@pytest.mark.parametrize("start", [Status.OPEN, Status.INVESTIGATING, Status.ESCALATED])
def test_closing_takes_a_disposition_and_a_reason(start: Status) -> None:
    later = T0 + timedelta(days=1)
    case, events = model.close(
        a_case(start),
        Disposition.CONFIRMED_LAUNDERING,
        later,
        by="opr_sam",
        reason=" mule ",
        note="note_1",
    )
    assert (case.status, case.disposition, case.due_at) == (
        Status.CLOSED,
        Disposition.CONFIRMED_LAUNDERING,
        None,
    )
    assert (case.closed_at, case.closed_by) == (later, "opr_sam")
    assert events[0].details | {} == {
        "from": start.value,
        "disposition": "confirmed_laundering",
        "by": "opr_sam",
        "note": "note_1",  # the reason is a note: free text stays out of the audit log
    }
    assert not case.breached(later + timedelta(days=365))


def test_a_close_without_a_reason_or_twice_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        model.close(a_case(), Disposition.FALSE_POSITIVE, T0, by="opr_ana", reason="  ")
    assert caught.value.code == "reason_required"
    with pytest.raises(IllegalCaseTransition):
        model.close(a_case(Status.CLOSED), Disposition.FALSE_POSITIVE, T0, by="a", reason="x")


def test_an_unknown_disposition_is_named_in_the_error() -> None:
    with pytest.raises(InvalidRequest) as caught:
        model.parse_disposition("guilty")
    assert caught.value.code == "invalid_disposition"
    assert "confirmed_fraud" in caught.value.message
    assert model.parse_disposition("false_positive") is Disposition.FALSE_POSITIVE


def test_an_alert_counts_and_raises_the_priority_never_lowers_it() -> None:
    case, _ = model.add_alert(a_case(), "alrt_1", 7_000, T0)
    case, events = model.add_alert(case, "alrt_2", 4_000, T0)
    assert (case.alerts, case.score_bp) == (2, 7_000)
    assert events[0].details == {"alert_id": "alrt_2", "score_bp": 4_000}
    with pytest.raises(IllegalCaseTransition):
        model.add_alert(a_case(Status.CLOSED), "alrt_3", 1, T0)


def test_a_case_is_in_breach_from_its_due_time_until_it_moves_on() -> None:
    case = a_case()
    assert not case.breached(T0 + timedelta(hours=23, minutes=59))
    assert case.breached(T0 + timedelta(hours=24))
    moved, _ = model.move(case, Status.INVESTIGATING, T0 + timedelta(hours=30), by="opr_ana")
    assert not moved.breached(T0 + timedelta(hours=31))
    assert moved.breached(T0 + timedelta(hours=30) + SLA[Status.INVESTIGATING])


def test_assigning_the_same_operator_again_changes_nothing() -> None:
    case, events = model.assign(a_case(), "opr_ana", T0)
    again, none = model.assign(case, "opr_ana", T0 + timedelta(hours=1))
    assert (events[0].details, none, again) == ({"from": None, "to": "opr_ana"}, [], case)
