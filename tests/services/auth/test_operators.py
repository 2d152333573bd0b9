"""Operators: roles, console login, and the four-eyes rule for sensitive actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from guardpay.domain.auth.records import Approval, Operator
from guardpay.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    PermissionDenied,
    RateLimited,
)
from guardpay.services.auth import facade as auth
from guardpay.services.auth import operators as ops
from guardpay.services.auth.operator_login import operator_login
from guardpay.services.platform.context import Actor, Context
from tests.security.auth_fixtures import (
    World,
    cheap_hashing_fixture,  # noqa: F401 (a pytest fixture)
    world_fixture,  # noqa: F401 (a pytest fixture)
)

SECRET = "Console-pass-7"
RAN: list[Mapping[str, Any]] = []


def _unfreeze(ctx: Context, approval: Approval) -> Mapping[str, Any]:
    RAN.append(approval.payload)
    ctx.audit("account.unfrozen", subject=str(approval.payload["account"]))
    return {"unfrozen": approval.payload["account"]}


def _explode(ctx: Context, approval: Approval) -> None:
    ctx.audit("never.written")
    raise Conflict("the account is closed", code="account_closed")


ops.register_action("test.unfreeze", _unfreeze)
ops.register_action("test.explode", _explode)


@pytest.fixture(autouse=True)
def _nothing_ran() -> None:
    """RAN is module state the handlers append to; each test starts with it empty."""
    RAN.clear()


@pytest.fixture
def staff(world: World) -> dict[str, Operator]:
    people = {
        "vera": "viewer",
        "ana": "analyst",
        "alan": "analyst",
        "sam": "supervisor",
        "ada": "admin",
    }
    return {
        name: world.run(ops.create_operator, name, role, SECRET) for name, role in people.items()
    }


def _as(op: Operator) -> Actor:
    return Actor("operator", op.id, ip="10.8.0.1")


def _request(
    world: World, action: str, payload: Mapping[str, Any], role: str, by: Operator
) -> Approval:
    """`by` asks for `action` to be approved by someone holding `role` or above."""
    return world.run(ops.request_approval, action, payload, role, actor=_as(by))


def test_roles_are_ordered(world: World, staff: dict[str, Operator]) -> None:
    order = ["viewer", "analyst", "supervisor", "admin"]
    for name, op in staff.items():
        for need in order:
            allowed = order.index(op.role) >= order.index(need)
            if allowed:
                assert world.run(ops.require_role, need, actor=_as(op)).id == op.id
            else:
                with pytest.raises(PermissionDenied) as denied:
                    world.run(ops.require_role, need, actor=_as(op))
                assert denied.value.code == "insufficient_role", name


def test_only_operators_have_roles(world: World, staff: dict[str, Operator]) -> None:
    for actor in (Actor("user", staff["ada"].id), Actor("operator", "op_ghost"), Actor()):
        with pytest.raises(PermissionDenied) as denied:
            world.run(ops.require_role, "viewer", actor=actor)
        assert denied.value.code == "insufficient_role"


def test_creating_operators(world: World, staff: dict[str, Operator]) -> None:
    with pytest.raises(PermissionDenied):
        world.run(ops.create_operator, "eve", "admin", SECRET, actor=_as(staff["sam"]))
    made = world.run(ops.create_operator, "Eve.Ops", "analyst", SECRET, actor=_as(staff["ada"]))
    assert (made.name, made.role) == ("eve.ops", "analyst")
    assert made.password_hash.startswith("$argon2id$")
    assert SECRET not in repr(made)
    with pytest.raises(Conflict) as taken:
        world.run(ops.create_operator, "eve.ops", "viewer", SECRET)
    assert taken.value.code == "operator_name_taken"
    with pytest.raises(InvalidRequest) as weak:
        world.run(ops.create_operator, "frank", "viewer", "password1")
    assert weak.value.code == "weak_password"
    with pytest.raises(InvalidRequest) as role:
        world.run(ops.create_operator, "frank", "root", SECRET)
    assert role.value.code == "invalid_role"
    with pytest.raises(InvalidRequest) as name:
        world.run(ops.create_operator, "a b", "viewer", SECRET)
    assert name.value.code == "invalid_operator_name"


def test_console_login_and_its_limits(world: World, staff: dict[str, Operator]) -> None:
    issued = world.run(operator_login, "SAM", SECRET, actor=Actor(ip="10.8.0.9"))
    session = world.run(auth.authenticate, issued.token)
    assert (session.subject_kind, session.subject_id) == ("operator", staff["sam"].id)
    for who in ("sam", "nobody"):
        with pytest.raises(AuthenticationFailed) as wrong:
            world.run(operator_login, who, "Not-it-at-all-1")
        assert wrong.value.code == "invalid_credentials"
        assert wrong.value.message == "the name or the password is wrong"
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            world.run(operator_login, "sam", "Not-it-at-all-1")
    with pytest.raises(RateLimited):
        world.run(operator_login, "sam", SECRET)
    world.clock.advance(minutes=15)
    world.run(operator_login, "sam", SECRET)
    long_name = "x" * 80  # the longest name still fits the failure log's key
    with pytest.raises(AuthenticationFailed):
        world.run(operator_login, long_name, SECRET)


def test_four_eyes_runs_the_action_on_a_second_approval(
    world: World, staff: dict[str, Operator]
) -> None:
    asked = _request(world, "test.unfreeze", {"account": "usr_1"}, "supervisor", staff["ana"])
    assert asked.status == "pending"
    assert RAN == []
    with pytest.raises(PermissionDenied) as role:
        world.run(ops.approve, asked.id, actor=_as(staff["alan"]))
    assert role.value.code == "insufficient_role"
    done = world.run(ops.approve, asked.id, actor=_as(staff["sam"]))
    assert done.status == "approved"
    assert done.decided_by == staff["sam"].id
    assert done.result == {"unfrozen": "usr_1"}
    assert RAN == [{"account": "usr_1"}]
    with pytest.raises(Conflict) as twice:
        world.run(ops.approve, asked.id, actor=_as(staff["ada"]))
    assert twice.value.code == "approval_not_pending"
    assert RAN == [{"account": "usr_1"}]
    trail = [(e.action, e.outcome) for e in world.audit() if e.subject == asked.id]
    assert trail == [
        ("approval.requested", "ok"),
        ("approval.approved", "denied"),
        ("approval.approved", "ok"),
    ]
    assert len(world.audit("account.unfrozen")) == 1


def test_nobody_approves_their_own_request(world: World, staff: dict[str, Operator]) -> None:
    asked = _request(world, "test.unfreeze", {"account": "usr_1"}, "analyst", staff["ada"])
    with pytest.raises(PermissionDenied) as same:
        world.run(ops.approve, asked.id, actor=_as(staff["ada"]))
    assert same.value.code == "four_eyes_same_operator"
    assert RAN == []
    denied = world.audit("approval.approved")
    assert [e.outcome for e in denied] == ["denied"]
    world.run(ops.approve, asked.id, actor=_as(staff["ana"]))
    assert RAN == [{"account": "usr_1"}]


def test_rejecting_and_withdrawing(world: World, staff: dict[str, Operator]) -> None:
    first = _request(world, "test.unfreeze", {"account": "usr_1"}, "supervisor", staff["ana"])
    with pytest.raises(PermissionDenied):
        world.run(ops.reject, first.id, "no", actor=_as(staff["vera"]))
    rejected = world.run(ops.reject, first.id, "not enough evidence", actor=_as(staff["sam"]))
    assert (rejected.status, rejected.reason) == ("rejected", "not enough evidence")
    with pytest.raises(Conflict):
        world.run(ops.approve, first.id, actor=_as(staff["ada"]))
    second = _request(world, "test.unfreeze", {"account": "usr_2"}, "admin", staff["vera"])
    withdrawn = world.run(ops.reject, second.id, actor=_as(staff["vera"]))
    assert withdrawn.status == "rejected"
    assert RAN == []
    outcomes = [e.details for e in world.audit("approval.rejected")]
    assert ['"withdrawn":false' in d for d in outcomes] == [True, False]


def test_a_requester_cannot_lower_the_bar(world: World, staff: dict[str, Operator]) -> None:
    """Making oneself admin needs an admin's approval, whatever the request says."""
    asked = _request(
        world,
        "operator.set_role",
        {"operator_id": staff["ana"].id, "role": "admin"},
        "viewer",
        staff["ana"],
    )
    assert asked.required_role == "admin"
    with pytest.raises(PermissionDenied):
        world.run(ops.approve, asked.id, actor=_as(staff["sam"]))
    world.run(ops.approve, asked.id, actor=_as(staff["ada"]))
    assert world.run(ops.require_role, "admin", actor=_as(staff["ana"])).role == "admin"
    assert len(world.audit("operator.role_changed")) == 1


def test_disabling_an_operator_ends_their_sessions(
    world: World, staff: dict[str, Operator]
) -> None:
    issued = world.run(operator_login, "alan", SECRET)
    asked = _request(
        world, "operator.disable", {"operator_id": staff["alan"].id}, "admin", staff["sam"]
    )
    world.run(ops.approve, asked.id, actor=_as(staff["ada"]))
    with pytest.raises(AuthenticationFailed):
        world.run(auth.authenticate, issued.token)
    with pytest.raises(PermissionDenied):
        world.run(ops.require_role, "viewer", actor=_as(staff["alan"]))
    with pytest.raises(AuthenticationFailed):
        world.run(operator_login, "alan", SECRET)


def test_a_failing_action_leaves_the_request_pending(
    world: World, staff: dict[str, Operator]
) -> None:
    asked = _request(world, "test.explode", {}, "analyst", staff["ana"])
    with pytest.raises(Conflict) as failed:
        world.run(ops.approve, asked.id, actor=_as(staff["sam"]))
    assert failed.value.code == "account_closed"
    assert [a.id for a in world.run(ops.list_approvals, actor=_as(staff["vera"]))[0]] == [asked.id]
    assert world.audit("never.written") == []


def test_bad_requests_and_expiry(world: World, staff: dict[str, Operator]) -> None:
    ana = staff["ana"]
    with pytest.raises(InvalidRequest) as unknown:
        _request(world, "test.nope", {}, "analyst", ana)
    assert unknown.value.code == "unknown_action"
    with pytest.raises(InvalidRequest) as payload:
        _request(world, "test.unfreeze", {"at": object()}, "analyst", ana)
    assert payload.value.code == "invalid_payload"
    with pytest.raises(PermissionDenied):
        world.run(ops.request_approval, "test.unfreeze", {}, "analyst", actor=Actor("user", "u"))
    asked = _request(world, "test.unfreeze", {"account": "usr_1"}, "analyst", ana)
    world.clock.advance(days=7)
    with pytest.raises(Conflict) as expired:
        world.run(ops.approve, asked.id, actor=_as(staff["alan"]))
    assert expired.value.code == "approval_expired"


def test_registering_another_handler_under_a_taken_name_fails() -> None:
    ops.register_action("test.unfreeze", _unfreeze)  # the same handler again is fine
    with pytest.raises(ValueError, match="already registered"):
        ops.register_action("test.unfreeze", _explode)
    assert {"operator.set_role", "operator.disable", "test.unfreeze"} <= set(
        ops.registered_actions()
    )


def test_approvals_page_oldest_first_by_cursor(world: World, staff: dict[str, Operator]) -> None:
    asked = [_request(world, "test.unfreeze", {"n": n}, "analyst", staff["ana"]) for n in range(5)]
    seen, cursor = [], None
    while True:
        page, cursor = world.run(ops.list_approvals, "pending", 2, cursor, actor=_as(staff["vera"]))
        seen.append([a.id for a in page])
        if cursor is None:
            break
    order = sorted(asked, key=lambda a: (a.requested_at, a.id))  # one clock tick: by id
    assert seen == [[a.id for a in order[i : i + 2]] for i in (0, 2, 4)]
    with pytest.raises(InvalidRequest):
        world.run(ops.list_approvals, "pending", 2, "apr_nope", actor=_as(staff["vera"]))
