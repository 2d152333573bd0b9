"""Alerts and cases through the API, on SQLite and PostgreSQL: a held transfer's alert
with the money's path, the case worked to a disposition with its audit trail, a freeze
approved by a second operator (never by the one who asked), and the roles: a user is no
operator, a viewer cannot act."""

from __future__ import annotations

import hashlib

from guardpay.services.auth import operators
from guardpay.services.platform.context import Context
from tests.api.api_fixtures import PIN, Api, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_payments_api import BOB, OP_SECRET, World, _ctx_run
from tests.api.test_payments_api import world as world
from tests.api.test_risk_api import NIGHT, _class_ii, _send


def _operator(api: Api, name: str, role: str) -> str:
    """A signed-in operator's token."""

    def make(ctx: Context) -> None:
        operators.create_operator(ctx, name, role, OP_SECRET)

    _ctx_run(api, make)
    r = api.post("/v1/operator/sessions", {"name": name, "password": OP_SECRET})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def test_a_held_transfer_becomes_a_case_worked_to_its_end(world: World) -> None:
    api, alice, bob, shop = world
    analyst = shop.token
    supervisor, viewer = _operator(api, "sam", "supervisor"), _operator(api, "vera", "viewer")
    _class_ii(api, alice.id, 19_500_00)
    api.clock.at = NIGHT
    held = _send(api, alice.token, BOB, 6_000_00)
    assert held["status"] == "processing"

    [alert] = api.get("/v1/alerts", viewer).json()["data"]
    assert (alert["source"], alert["subject"], alert["decisions"]) == (
        "risk_review",
        alice.id,
        [held["next_action"]["decision_id"]],
    )
    path = alert["path"]
    assert path["nodes"] == [alice.id, bob.id]
    assert [(e["id"], e["amount"], e["fired"]) for e in path["edges"]] == [
        (held["id"], 6_000_00, True)
    ]
    assert api.get(f"/v1/alerts/{alert['id']}", viewer).json() == alert
    queue = api.get("/v1/cases?status=open", viewer).json()["data"]
    assert [(c["id"], c["subject"], c["breached"]) for c in queue] == [
        (alert["case_id"], alice.id, False)
    ]
    case = f"/v1/cases/{alert['case_id']}"
    error_of(api.post(f"{case}/investigate", None, viewer), 403, "insufficient_role")
    error_of(api.post(f"{case}/investigate", None, alice.token), 403, "operator_required")

    taken = api.post(f"{case}/investigate", None, analyst).json()
    assert taken["status"] == "investigating"
    note = api.post(f"{case}/notes", {"body": "the payee opened yesterday"}, analyst)
    assert note.status_code == 201, note.text
    hold = api.post(f"{case}/holds", {"amount": 1_000_00, "reason": "for a victim"}, analyst)
    assert (hold.status_code, hold.json()["status"]) == (201, "held"), hold.text
    error_of(
        api.post(f"{case}/holds", {"amount": 1.5, "reason": "x"}, analyst), 400, "parameter_invalid"
    )
    released = api.post(f"{case}/holds/{hold.json()['id']}/release", None, analyst)
    assert released.json()["status"] == "released", released.text
    asked = api.post(f"{case}/freeze", {"reason": "mule payee"}, analyst)
    assert asked.status_code == 201, asked.text
    approval = asked.json()["id"]
    error_of(
        api.post(f"/v1/operator/approvals/{approval}/approve", None, analyst),
        403,
        "four_eyes_same_operator",
    )
    done = api.post(f"/v1/operator/approvals/{approval}/approve", None, supervisor)
    assert done.json()["status"] == "approved", done.text
    refused = api.post(
        "/v1/transfers", {"payee": BOB, "amount": 1_00, "payment_password": PIN}, alice.token
    )
    error_of(refused, 409, "account_frozen")

    escalated = api.post(f"{case}/escalate", {"reason": "needs a decision"}, analyst).json()
    assert escalated["status"] == "escalated"
    closing = {"disposition": "confirmed_fraud", "reason": "the payee is a mule"}
    error_of(api.post(f"{case}/close", closing, analyst), 403, "insufficient_role")
    error_of(
        api.post(f"{case}/close", {"disposition": "guilty", "reason": "x"}, supervisor),
        400,
        "parameter_invalid",
    )
    closed = api.post(f"{case}/close", closing, supervisor).json()
    assert (closed["status"], closed["disposition"]) == ("closed", "confirmed_fraud")

    seen = api.get(case, viewer).json()
    assert sorted(n["body"] for n in seen["notes"]) == [
        "needs a decision",  # the reasons of the escalation and the close are notes too
        "the payee is a mule",
        "the payee opened yesterday",
    ]
    assert [(h["amount"], h["status"]) for h in seen["holds"]] == [(1_000_00, "released")]
    assert [a["id"] for a in seen["alert_list"]] == [alert["id"]]
    assert [t["action"] for t in seen["timeline"]] == [
        "case.opened",
        "case.alert_added",
        "case.status_changed",
        "case.assigned",
        "case.note_added",
        "case.funds_held",
        "case.funds_released",
        "case.action_requested",
        "case.account_frozen",
        "case.status_changed",
        "case.closed",
    ]
    decision = api.get(f"/v1/risk/decisions/{alert['decisions'][0]}", analyst).json()
    assert decision["label"] == "fraud"
    error_of(api.get("/v1/cases/case_nope", viewer), 404, "case_not_found")
    error_of(api.get("/v1/cases?status=lost", viewer), 400, "parameter_invalid")


def test_reports_are_filed_listed_and_downloaded_as_recorded(world: World) -> None:
    api, alice, _, shop = world
    analyst = shop.token
    supervisor = _operator(api, "sam", "supervisor")
    _class_ii(api, alice.id, 19_500_00)
    api.clock.at = NIGHT
    held = _send(api, alice.token, BOB, 6_000_00)
    [case] = api.get("/v1/cases", analyst).json()["data"]

    error_of(
        api.post("/v1/reports/large-value", {"date": "2026-11-22"}, analyst), 400, "day_not_over"
    )
    lvtr = api.post("/v1/reports/large-value", {"date": "2026-11-21"}, analyst)
    assert (lvtr.status_code, lvtr.json()["rows"]) == (201, 0), lvtr.text  # held: not moved
    error_of(
        api.post("/v1/reports/large-value", {"date": "2026-11-21", "profile": "xx"}, analyst),
        400,
        "parameter_invalid",
    )
    drafted = api.post(
        f"/v1/cases/{case['id']}/str", {"narrative": "night transfer of ¥6,000 to a mule"}, analyst
    )
    assert (drafted.status_code, drafted.json()["status"]) == (201, "draft"), drafted.text
    report = drafted.json()["id"]
    asked = api.post(f"/v1/reports/{report}/file", None, analyst).json()
    done = api.post(f"/v1/operator/approvals/{asked['id']}/approve", None, supervisor)
    assert done.json()["status"] == "approved", done.text

    listed = api.get("/v1/reports?kind=str", analyst).json()["data"]
    assert [(r["id"], r["status"], r["overdue"]) for r in listed] == [(report, "filed", False)]
    shown = api.get(f"/v1/reports/{report}", analyst).json()
    assert shown["content"]["rows"][0]["transaction_id"] == held["id"]
    csv_file = api.get(f"/v1/reports/{report}/file.csv", analyst)
    assert csv_file.headers["content-type"].startswith("text/csv")
    assert hashlib.sha256(csv_file.content).hexdigest() == shown["sha256_csv"]
    json_file = api.get(f"/v1/reports/{report}/file.json", analyst)
    assert hashlib.sha256(json_file.content).hexdigest() == shown["sha256_json"]
    viewer = _operator(api, "vera", "viewer")
    assert api.get(f"/v1/reports/{report}", viewer).status_code == 200  # ids only
    error_of(api.get(f"/v1/reports/{report}/file.csv", viewer), 403, "insufficient_role")
    error_of(api.get("/v1/reports/rpt_nope", analyst), 404, "report_not_found")
    error_of(api.get("/v1/reports", alice.token), 403, "operator_required")
