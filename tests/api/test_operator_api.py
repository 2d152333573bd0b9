"""The console over HTTP, on both backends: operator sessions kept apart from users',
roles, the audited reveal of one field, four-eyes approvals, and merchant onboarding.

Refusals for role or four-eyes reasons are audited, and that entry (and only that) must
survive the 403 (the service keeps it: `UnitOfWork.keep`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import text

from guardpay.domain.auth.records import Approval
from guardpay.services.auth import operators
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.storage.uow import unit_of_work
from tests.api.api_fixtures import (
    E164,
    Api,
    PhoneApp,
    api_fixture,  # noqa: F401
    bearer,
    error_of,
)
from tests.domain.identity.numbers import uscc

SECRET = "Console-pass-7"
STAFF = {"vera": "viewer", "ana": "analyst", "alan": "analyst", "sam": "supervisor", "ada": "admin"}
FOODMALL = uscc("91310115MA1H7XYR0")
RAN: list[Mapping[str, Any]] = []
REASON = "customer called about a disputed top-up, ticket 4711"


def _release(ctx: Context, approval: Approval) -> Mapping[str, Any]:
    RAN.append(approval.payload)
    return {"released": approval.payload["hold"]}


operators.register_action("test.api_release_hold", _release, min_role="analyst")


@pytest.fixture
def staff(api: Api) -> dict[str, str]:
    """Each operator's console session token (operators are created by the system)."""
    RAN.clear()
    with unit_of_work(api.db) as uow:
        ctx = Context(uow, api.keyring, SYSTEM, api.clock)
        for name, role in STAFF.items():
            operators.create_operator(ctx, name, role, SECRET)
    tokens = {}
    for name in STAFF:
        r = api.post("/v1/operator/sessions", {"name": name, "password": SECRET})
        assert r.status_code == 201, r.text
        assert r.json()["session"]["kind"] == "operator"
        tokens[name] = r.json()["token"]
    return tokens


def test_operator_and_user_sessions_do_not_mix(api: Api, staff: dict[str, str]) -> None:
    api.register()
    user = api.sign_in(PhoneApp())
    error_of(api.get("/v1/operator/approvals", user), 403, "operator_required")
    error_of(api.get("/v1/me", staff["ada"]), 403, "user_session_required")
    error_of(
        api.post("/v1/operator/sessions", {"name": "vera", "password": "Nope-nope-1"}),
        401,
        "invalid_credentials",
    )
    assert api.get("/v1/operator/approvals", staff["vera"]).json()["data"] == []


def test_reveal_needs_an_analyst_and_a_reason_and_is_audited(
    api: Api, staff: dict[str, str]
) -> None:
    user_id = api.register()
    path = f"/v1/operator/users/{user_id}"
    shown = api.get(path, staff["vera"]).json()
    assert (shown["id"], shown["phone"]) == (user_id, "138****5678")
    before = api.snapshot()
    body = {"field": "phone", "reason": REASON}
    error_of(api.post(f"{path}/reveal", body, staff["vera"]), 403, "insufficient_role")
    error_of(
        api.post(f"{path}/reveal", {**body, "reason": "because"}, staff["ana"]),
        400,
        "reason_required",
    )
    error_of(
        api.post(f"{path}/reveal", {**body, "field": "password"}, staff["ana"]),
        400,
        "parameter_invalid",
    )
    assert api.changed(before) == set()
    r = api.post(f"{path}/reveal", body, staff["ana"])
    assert r.json() == {"field": "phone", "value": E164}
    [(actor, subject, outcome, details)] = api.audit("pii.revealed")
    assert (actor.startswith("operator:op_"), subject, outcome) == (True, user_id, "ok")
    assert REASON in details
    assert E164 not in details


def test_four_eyes_refusals_are_audited_and_change_nothing_else(
    api: Api, staff: dict[str, str]
) -> None:
    body = {
        "action": "test.api_release_hold",
        "payload": {"hold": "77"},
        "required_role": "analyst",
    }
    r = api.post("/v1/operator/approvals", body, staff["ana"])
    assert (r.status_code, r.json()["status"]) == (201, "pending")
    approve = f"/v1/operator/approvals/{r.json()['id']}/approve"
    for who, code in (("ana", "four_eyes_same_operator"), ("vera", "insufficient_role")):
        before = api.snapshot()
        error_of(api.post(approve, token=staff[who]), 403, code)
        assert api.changed(before) == {"audit_log", "audit_head"}
    denied = api.audit("approval.approved")
    assert [(d[2], "four_eyes_same_operator" in d[3]) for d in denied] == [
        ("denied", True),
        ("denied", False),
    ]
    assert RAN == []
    done = api.post(approve, token=staff["alan"]).json()
    assert (done["status"], done["result"]) == ("approved", {"released": "77"})
    assert RAN == [{"hold": "77"}]
    error_of(api.post(approve, token=staff["sam"]), 409, "approval_not_pending")
    error_of(
        api.post("/v1/operator/approvals", {**body, "action": "nope.nope"}, staff["ana"]),
        400,
        "unknown_action",
    )


def test_a_request_is_rejected_or_withdrawn(api: Api, staff: dict[str, str]) -> None:
    body = {"action": "test.api_release_hold", "payload": {"hold": "8"}}
    first = api.post("/v1/operator/approvals", body, staff["ana"]).json()
    assert first["required_role"] == "supervisor"
    reject = f"/v1/operator/approvals/{first['id']}/reject"
    error_of(api.post(reject, {"reason": "no"}, staff["alan"]), 403, "insufficient_role")
    rejected = api.post(reject, {"reason": "not without a ticket"}, staff["sam"]).json()
    assert (rejected["status"], rejected["reason"]) == ("rejected", "not without a ticket")
    second = api.post("/v1/operator/approvals", body, staff["ana"]).json()
    withdrawn = api.post(f"/v1/operator/approvals/{second['id']}/reject", {}, staff["ana"])
    assert withdrawn.json()["status"] == "rejected"
    listed = api.get("/v1/operator/approvals?status=rejected", staff["vera"]).json()["data"]
    assert sorted(a["id"] for a in listed) == sorted([first["id"], second["id"]])
    assert RAN == []


def test_only_an_admin_creates_operators(api: Api, staff: dict[str, str]) -> None:
    body = {"name": "olga", "role": "viewer", "password": SECRET}
    error_of(api.post("/v1/operator/operators", body, staff["sam"]), 403, "insufficient_role")
    error_of(
        api.post("/v1/operator/operators", {**body, "password": "password1"}, staff["ada"]),
        400,
        "weak_password",
    )
    r = api.post("/v1/operator/operators", body, staff["ada"])
    assert (r.status_code, r.json()["role"]) == (201, "viewer")
    assert SECRET not in r.text
    error_of(api.post("/v1/operator/operators", body, staff["ada"]), 409, "operator_name_taken")


def test_merchants_and_sub_merchants_are_onboarded_by_analysts(
    api: Api, staff: dict[str, str]
) -> None:
    body = {
        "legal_name": "上海美食城电子商务有限公司",
        "display_name": "FoodMall",
        "registration_number": FOODMALL,
        "mcc": "5411",
        "settlement_account_id": str(2**62 + 7),
    }
    error_of(api.post("/v1/merchants", body, staff["vera"]), 403, "insufficient_role")
    r = api.post("/v1/merchants", body, staff["ana"])
    assert r.status_code == 201, r.text
    merchant = r.json()
    assert (merchant["settlement_account_id"], merchant["parent_id"]) == (str(2**62 + 7), None)
    assert FOODMALL not in r.text
    before = api.snapshot()
    error_of(api.post("/v1/merchants", body, staff["ana"]), 409, "merchant_already_registered")
    error_of(
        api.post("/v1/merchants", {**body, "mcc": "7995"}, staff["ana"]), 400, "mcc_not_allowed"
    )
    assert api.changed(before) == set()
    shop = {"legal_name": "上海小笼包店", "display_name": "Xiaolong", "mcc": "5812"}
    sub = api.post(f"/v1/merchants/{merchant['id']}/sub-merchants", shop, staff["ana"])
    assert sub.status_code == 201, sub.text
    assert sub.json()["parent_id"] == merchant["id"]
    assert "FoodMall" in sub.json()["descriptor"]
    assert api.get(f"/v1/merchants/{merchant['id']}", staff["vera"]).json() == merchant
    listed = api.get(f"/v1/merchants/{merchant['id']}/sub-merchants", staff["vera"]).json()
    assert [m["id"] for m in listed["data"]] == [sub.json()["id"]]
    error_of(api.get("/v1/merchants/mer_nothere", staff["vera"]), 404, "resource_missing")


def test_enrolment_codes_and_resets_are_an_admins(api: Api, staff: dict[str, str]) -> None:
    """A code for an operator without an authenticator; a reset (with a reason) for one
    who has one; neither for a supervisor, and no reset of one's own."""
    with unit_of_work(api.db) as uow:
        found = {name: operators.operator_named(uow, name) for name in ("ana", "ada")}
    ids = {name: o.id for name, o in found.items() if o is not None}
    enrol = f"/v1/operator/operators/{ids['ana']}/enrolment"
    error_of(api.post(enrol, {}, staff["sam"]), 403, "insufficient_role")
    issued = api.post(enrol, {}, staff["ada"])
    assert (issued.status_code, issued.json()["valid_for_seconds"]) == (201, 86_400)
    reset = f"/v1/operator/operators/{ids['ana']}/authenticator/reset"
    error_of(api.post(reset, {"reason": "lost"}, staff["sam"]), 403, "insufficient_role")
    error_of(api.post(reset, {"reason": ""}, staff["ada"]), 400, "parameter_invalid")
    own = f"/v1/operator/operators/{ids['ada']}/authenticator/reset"
    error_of(api.post(own, {"reason": "lost"}, staff["ada"]), 403, "own_reset")
    keyed = {**bearer(staff["ada"]), "Idempotency-Key": "reset-ana-1"}
    done = api.client.post(reset, json={"reason": "phone lost, seen in person"}, headers=keyed)
    assert done.status_code == 201, done.text
    code = done.json()["enrolment_code"]
    assert code != issued.json()["enrolment_code"]
    with api.db.read() as conn:  # a credential: never kept as an answer to replay
        kept = conn.execute(text("SELECT response_body FROM idempotency_keys")).all()
    assert code not in str(kept)
    error_of(api.get("/v1/operator/approvals", staff["ana"]), 401, "session_revoked")
