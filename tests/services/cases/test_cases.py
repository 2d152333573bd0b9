"""Alerts and cases in the services, on both backends: a payment held for review raises
an alert in its payer's case (one case per customer, an alert seen again counted, not
queued twice); the workflow by role, with an audit entry for every change; SLA breaches;
a disposition labels the decisions; freezing the customer takes a second operator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from guardpay.domain.auth.records import Operator
from guardpay.domain.ledger.model import AccountFlags
from guardpay.errors import GuardpayError
from guardpay.security import passwords
from guardpay.services.auth import operators as ops
from guardpay.services.auth.operators import create_operator
from guardpay.services.cases import actions, workflow
from guardpay.services.cases.labels import aml_labels
from guardpay.services.ledger import books
from guardpay.services.payments import core as payments
from guardpay.services.platform.context import SYSTEM, Actor
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only
from tests.services.payments.test_core import ALICE, BOB, PASSWORD, World, cny

NIGHT = datetime(2026, 11, 21, 18, 30, tzinfo=UTC)  # 02:30 in Shanghai: large sums held
SECRET = "Kept-in-a-vault-42"


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    with passwords.using(passwords.CHEAP):
        yield World(db)


@pytest.fixture
def staff(world: World) -> dict[str, Operator]:
    roles = {"vera": "viewer", "ana": "analyst", "alan": "analyst", "sam": "supervisor"}
    return {name: world.run(create_operator, name, role, SECRET) for name, role in roles.items()}


def held(world: World, payer: str, payee: str, yuan: int = 6_000, at: datetime = NIGHT) -> str:
    """A large payment at night: risk control holds it for review. Its decision id."""
    world.clock.at = at
    paid = world.run(payments.p2p_transfer, payer, payee, cny(yuan), PASSWORD)
    assert paid.row.status == "processing"
    return str(paid.next_action["decision_id"])


def alice_held(world: World) -> tuple[str, str]:
    """Alice (¥20,000) and Bob, after a ¥6,000 transfer of hers was held: her case."""
    alice, bob = world.user(ALICE), world.user(BOB)
    world.fund(alice, cny(20_000))
    held(world, alice, bob)
    return alice, bob


def as_(world: World, op: Operator) -> World:
    world.actor = Actor("operator", op.id, ip="10.8.0.1")
    return world


def refused(world: World, code: str, fn: object, *args: object) -> None:
    with pytest.raises(GuardpayError) as caught:
        world.run(fn, *args)  # type: ignore[arg-type]
    assert caught.value.code == code, caught.value.message


def trail(world: World, case_id: str) -> list[str]:
    with world.db.read() as conn:
        rows = conn.execute(
            text("SELECT action FROM audit_log WHERE subject = :s ORDER BY seq"), {"s": case_id}
        )
        return [str(r[0]) for r in rows]


def test_held_payments_raise_one_alert_in_one_case_per_payer(
    world: World, staff: dict[str, Operator]
) -> None:
    alice, bob = world.user(ALICE), world.user(BOB)
    world.fund(alice, cny(20_000))
    first = held(world, alice, bob)
    world.clock.advance(minutes=10)
    second = held(world, alice, bob, 5_000)

    as_(world, staff["vera"])
    [case], more = world.run(workflow.list_cases)
    assert more is None
    assert (case.subject, case.status.value, case.alerts) == (alice, "open", 1)
    view = world.run(workflow.view, case.id)
    [alert] = view.alerts
    assert (alert.source, alert.occurrences, alert.decisions) == ("risk_review", 2, (first, second))
    edges = alert.path["edges"]
    assert [(e["source"], e["target"], e["amount"], e["fired"]) for e in edges] == [
        (alice, bob, 5_000_00, True)  # the newest held payment; held ones never succeeded
    ]
    assert [e.action for e in view.timeline] == [
        "case.opened",
        "case.alert_added",
        "case.alert_seen_again",
    ]


def test_the_workflow_by_role_with_every_change_audited(
    world: World, staff: dict[str, Operator]
) -> None:
    alice, bob = world.user(ALICE), world.user(BOB)
    world.fund(alice, cny(20_000))
    decision = held(world, alice, bob)
    as_(world, staff["vera"])
    [case], _ = world.run(workflow.list_cases)
    refused(world, "insufficient_role", workflow.investigate, case.id)

    as_(world, staff["ana"])
    taken = world.run(workflow.investigate, case.id)
    assert (taken.status.value, taken.assignee) == ("investigating", staff["ana"].id)
    note = world.run(workflow.add_note, case.id, "  called the customer: no answer ")
    assert note.body == "called the customer: no answer"
    refused(world, "invalid_note", workflow.add_note, case.id, "   ")
    escalated = world.run(workflow.escalate, case.id, "mule pattern")
    assert escalated.status.value == "escalated"
    refused(world, "insufficient_role", workflow.close, case.id, "confirmed_fraud", "sure")
    refused(world, "case_transition_invalid", workflow.investigate, case.id)

    as_(world, staff["sam"])
    refused(world, "invalid_disposition", workflow.close, case.id, "guilty", "sure")
    refused(world, "reason_required", workflow.close, case.id, "confirmed_fraud", " ")
    closed = world.run(workflow.close, case.id, "confirmed_fraud", "the payee is a known mule")
    assert (closed.status.value, closed.disposition, closed.closed_by) == (
        "closed",
        "confirmed_fraud",
        staff["sam"].id,
    )
    with world.db.read() as conn:
        label = conn.execute(
            text("SELECT label, label_source FROM risk_decisions WHERE id = :d"), {"d": decision}
        ).one()
    assert tuple(label) == ("fraud", f"case:{case.id}")
    assert trail(world, case.id) == [
        "case.opened",
        "case.alert_added",
        "case.status_changed",
        "case.assigned",
        "case.note_added",
        "case.status_changed",
        "case.closed",
    ]
    with world.db.read() as conn:
        denied = conn.execute(
            text("SELECT COUNT(*) FROM audit_log WHERE outcome = 'denied'")
        ).scalar_one()
    assert denied == 0  # refusals of the workflow write nothing, not even half a change

    world.actor = SYSTEM
    held(world, alice, bob, 5_500)  # after the close: a new case
    as_(world, staff["vera"])
    cases, _ = world.run(workflow.list_cases)
    assert sorted((c.status.value, c.alerts) for c in cases) == [("closed", 1), ("open", 1)]


def test_cases_past_their_sla_are_listed_as_breaches(
    world: World, staff: dict[str, Operator]
) -> None:
    alice, bob, carol = world.user(ALICE), world.user(BOB), world.user("13700000003")
    world.fund(alice, cny(20_000))
    world.fund(carol, cny(20_000))
    held(world, alice, bob)
    held(world, carol, bob, at=NIGHT + timedelta(hours=2))
    as_(world, staff["ana"])
    world.clock.advance(hours=23)  # alice's case is 25 hours old, carol's 23
    [late] = world.run(workflow.breaches)
    assert late.subject == alice
    world.run(workflow.investigate, late.id)
    world.clock.advance(hours=2)
    [late_now] = world.run(workflow.breaches)  # carol's, 25 hours; alice's restarted
    assert late_now.subject == carol
    breached, _ = world.run(workflow.list_cases, breached=True)
    assert [c.subject for c in breached] == [carol]
    world.clock.advance(days=5)
    assert {c.subject for c in world.run(workflow.breaches)} == {alice, carol}


def test_freezing_the_customer_takes_a_second_operator(
    world: World, staff: dict[str, Operator]
) -> None:
    alice, bob = alice_held(world)
    as_(world, staff["ana"])
    [case], _ = world.run(workflow.list_cases)
    asked = world.run(actions.request_freeze, case.id, "funds of a scam")
    assert (asked.action, asked.payload["account"], asked.required_role) == (
        "account.freeze",
        alice,
        "supervisor",
    )
    refused(world, "four_eyes_same_operator", ops.approve, asked.id)
    as_(world, staff["alan"])
    refused(world, "insufficient_role", ops.approve, asked.id)

    as_(world, staff["sam"])
    done = world.run(ops.approve, asked.id)
    assert done.status == "approved"
    assert _flags(world, alice) & AccountFlags.DEBITS_FROZEN
    world.actor = SYSTEM
    world.clock.at = NIGHT - timedelta(hours=8)  # daytime: no review, the freeze refuses
    world.refused("account_frozen", payments.p2p_transfer, alice, bob, cny(10), PASSWORD)

    as_(world, staff["ana"])
    lift = world.run(actions.request_unfreeze, case.id, "cleared by the bank")
    as_(world, staff["sam"])
    world.run(ops.approve, lift.id)
    assert not _flags(world, alice) & AccountFlags.DEBITS_FROZEN
    world.actor = SYSTEM
    paid = world.run(payments.p2p_transfer, alice, bob, cny(10), PASSWORD)
    assert paid.row.status == "succeeded"
    assert trail(world, case.id)[-4:] == [
        "case.action_requested",
        "case.account_frozen",
        "case.action_requested",
        "case.account_unfrozen",
    ]


def _flags(world: World, user: str) -> int:
    with world.db.read() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT a.flags FROM ledger_accounts a JOIN wallets w "
                    "ON w.account_id = a.id WHERE w.owner_id = :u"
                ),
                {"u": user},
            ).scalar_one()
        )


def test_dispositions_become_the_aml_models_labels(
    world: World, staff: dict[str, Operator]
) -> None:
    alice, bob, carol = world.user(ALICE), world.user(BOB), world.user("13700000003")
    world.fund(alice, cny(20_000))
    world.fund(carol, cny(20_000))
    held(world, alice, bob)
    held(world, carol, bob)
    as_(world, staff["ana"])
    by_subject = {c.subject: c for c in world.run(workflow.list_cases)[0]}
    world.run(workflow.close, by_subject[alice].id, "confirmed_laundering", "layering")
    world.run(workflow.close, by_subject[carol].id, "false_positive", "her salary")
    labels = world.run(aml_labels)
    assert {a: v[0] for a, v in labels.items()} == {alice: True, carol: False}


def test_a_viewer_reads_alerts_and_an_unknown_case_is_named(
    world: World, staff: dict[str, Operator]
) -> None:
    alice_held(world)
    as_(world, staff["vera"])
    [alert], _ = world.run(workflow.list_alerts)
    assert world.run(workflow.get_alert, alert.id) == alert
    assert json.dumps(alert.path)  # what the console draws is plain JSON
    refused(world, "case_not_found", workflow.view, "case_nope")
    refused(world, "alert_not_found", workflow.get_alert, "alrt_nope")
    refused(world, "insufficient_role", actions.request_freeze, alert.case_id, "x")


def test_held_funds_cannot_be_spent_until_released(
    world: World, staff: dict[str, Operator]
) -> None:
    alice, bob = world.user(ALICE), world.user(BOB)
    world.fund(alice, cny(20_000))
    held(world, alice, bob)  # ¥6,000 held for review: ¥14,000 left to spend
    as_(world, staff["ana"])
    [case], _ = world.run(workflow.list_cases)
    refused(world, "insufficient_funds", actions.hold_funds, case.id, cny(14_001), "x")
    refused(world, "invalid_amount", actions.hold_funds, case.id, cny(0), "x")
    hold = world.run(actions.hold_funds, case.id, cny(13_000), "proceeds of a scam")
    assert (hold.amount, hold.status, hold.held_by) == (13_000_00, "held", staff["ana"].id)
    assert world.balance("user", alice) == 20_000_00  # still hers: held, not taken

    world.actor = SYSTEM
    world.clock.at = NIGHT - timedelta(hours=8)
    world.refused("insufficient_funds", payments.p2p_transfer, alice, bob, cny(1_001), PASSWORD)
    as_(world, staff["vera"])
    refused(world, "insufficient_role", actions.release_hold, case.id, hold.id)
    as_(world, staff["ana"])
    done = world.run(actions.release_hold, case.id, hold.id)
    assert (done.status, done.released_by) == ("released", staff["ana"].id)
    refused(world, "hold_released", actions.release_hold, case.id, hold.id)
    world.actor = SYSTEM
    paid = world.run(payments.p2p_transfer, alice, bob, cny(1_001), PASSWORD)
    assert paid.row.status == "succeeded"
    as_(world, staff["vera"])
    view = world.run(workflow.view, case.id)
    assert [(h.id, h.status) for h in view.holds] == [(hold.id, "released")]
    assert [e.action for e in view.timeline][-2:] == ["case.funds_held", "case.funds_released"]
    with read_only(world.db) as uow:
        report = books.verify(uow)
    assert report.ok, report.problems


def test_case_actions_asked_the_wrong_way_or_too_late_do_not_run(
    world: World, staff: dict[str, Operator]
) -> None:
    """Anyone may ask for an approval at the generic endpoint: a freeze a viewer asked for
    there, or one whose case has closed since, does not run when approved."""
    alice, _ = alice_held(world)
    as_(world, staff["vera"])
    [case], _ = world.run(workflow.list_cases)
    payload = {"case_id": case.id, "account": alice}
    sideways = world.run(ops.request_approval, "account.freeze", payload, "supervisor")
    as_(world, staff["ana"])
    late = world.run(actions.request_freeze, case.id, "before the close")
    world.run(workflow.close, case.id, "false_positive", "her own savings")
    as_(world, staff["sam"])
    refused(world, "insufficient_role", ops.approve, sideways.id)
    refused(world, "case_closed", ops.approve, late.id)
    assert not _flags(world, alice) & AccountFlags.DEBITS_FROZEN


def test_reasons_are_notes_and_the_audit_log_keeps_their_ids_only(
    world: World, staff: dict[str, Operator]
) -> None:
    alice_held(world)
    as_(world, staff["ana"])
    [case], _ = world.run(workflow.list_cases)
    world.run(workflow.escalate, case.id, "Ms Wang says her son took the phone")
    as_(world, staff["sam"])
    world.run(workflow.close, case.id, "false_positive", "the son confirmed it")
    view = world.run(workflow.view, case.id)
    assert sorted(n.body for n in view.notes) == [
        "Ms Wang says her son took the phone",
        "the son confirmed it",
    ]
    with world.db.read() as conn:
        logged = " ".join(
            str(r[0])
            for r in conn.execute(
                text("SELECT details FROM audit_log WHERE subject = :s"), {"s": case.id}
            )
        )
    assert "Wang" not in logged
    assert "son confirmed" not in logged
    assert all(n.id in logged for n in view.notes)
