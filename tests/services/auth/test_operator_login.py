"""Operators sign in with a password and then an authenticator code, on both backends:
the console's two steps (enrolment on the first sign-in), the API's one call, codes
accepted once, wrong codes counted like wrong passwords, pending sign-ins that expire and
authorise nothing."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest

from guardpay.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    PermissionDenied,
    RateLimited,
)
from guardpay.services.auth import facade as auth
from guardpay.services.auth.operator_login import (
    enrol,
    issue_enrolment,
    operator_login,
    passed_second_factor,
    password_step,
    pending,
    reset_authenticator,
    second_step,
)
from guardpay.services.auth.operators import create_operator
from guardpay.services.platform.context import Actor
from tests.security.auth_fixtures import (
    World,
    cheap_hashing_fixture,  # noqa: F401 (a pytest fixture)
    world_fixture,  # noqa: F401 (a pytest fixture)
)

SECRET = "Console-pass-7"


def enrolled(world: World, name: str = "ana") -> str:
    """An operator's first sign-in through the console: their authenticator's secret."""
    made = world.run(create_operator, name, "analyst", SECRET)
    code = world.run(issue_enrolment, made.id)
    first = world.run(password_step, name, SECRET)
    assert not first.enrolled
    uri = world.run(enrol, first.issued.token, code).provisioning_uri
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    issued = world.run(second_step, first.issued.token, world.totp_code(secret))
    assert world.run(auth.authenticate, issued.token).subject_kind == "operator"
    return secret


def refused(world: World, code: str, fn: object, *args: object, actor: Actor | None = None) -> None:
    refusals = (AuthenticationFailed, Conflict, RateLimited, PermissionDenied, InvalidRequest)
    with pytest.raises(refusals) as caught:
        world.run(fn, *args, **({"actor": actor} if actor else {}))  # type: ignore[arg-type]
    assert caught.value.code == code


def test_the_first_sign_in_sets_up_the_authenticator(world: World) -> None:
    secret = enrolled(world)
    assert [e.outcome for e in world.audit("operator.totp_enrolled")] == ["started", "ok"]
    world.clock.advance(seconds=30)
    again = world.run(password_step, "ana", SECRET)
    assert again.enrolled
    refused(world, "totp_already_enrolled", enrol, again.issued.token, "any-code")
    issued = world.run(second_step, again.issued.token, world.totp_code(secret))
    assert world.run(auth.authenticate, issued.token).subject_kind == "operator"
    refused(world, "session_revoked", pending, again.issued.token)  # ended with the step


def test_a_code_counts_once_and_wrong_ones_count_as_failures(world: World) -> None:
    secret = enrolled(world)
    used = world.totp_code(secret)
    step = world.run(password_step, "ana", SECRET)
    refused(world, "invalid_code", second_step, step.issued.token, used)  # replayed
    for _ in range(4):
        refused(world, "invalid_code", second_step, step.issued.token, "000000")
    refused(world, "too_many_attempts", password_step, "ana", SECRET)
    assert len(world.audit("auth.login_failed")) == 6


def test_a_pending_sign_in_authorises_nothing_and_expires(world: World) -> None:
    world.run(create_operator, "ana", "analyst", SECRET)
    step = world.run(password_step, "ana", SECRET)
    assert world.run(auth.authenticate, step.issued.token).subject_kind == "operator_mfa"
    world.clock.advance(minutes=6)
    refused(world, "login_expired", enrol, step.issued.token, "any-code")


def test_the_api_asks_for_the_code_once_an_authenticator_is_set(world: World) -> None:
    world.run(create_operator, "sam", "supervisor", SECRET)
    assert world.run(operator_login, "sam", SECRET).session.subject_kind == "operator"
    secret = enrolled(world, "ana")
    refused(world, "totp_required", operator_login, "ana", SECRET)
    world.clock.advance(seconds=30)
    refused(world, "invalid_code", operator_login, "ana", SECRET, "123456")
    issued = world.run(operator_login, "ana", SECRET, world.totp_code(secret))
    assert issued.session.subject_kind == "operator"


def test_a_password_alone_cannot_enrol_an_authenticator(world: World) -> None:
    """Only with the admin's one-time code, used up by the enrolment, and refused once an
    authenticator is confirmed (no silent replacement)."""
    made = world.run(create_operator, "ana", "analyst", SECRET)
    step = world.run(password_step, "ana", SECRET)
    refused(world, "invalid_enrolment_code", enrol, step.issued.token, "guessed")
    code = world.run(issue_enrolment, made.id)
    world.clock.advance(days=2)
    step = world.run(password_step, "ana", SECRET)
    refused(world, "invalid_enrolment_code", enrol, step.issued.token, code)  # expired
    code = world.run(issue_enrolment, made.id)
    world.run(enrol, step.issued.token, code)
    refused(world, "invalid_enrolment_code", enrol, step.issued.token, code)  # used up
    assert len(world.audit("operator.enrolment_issued")) == 2


def test_only_a_session_that_passed_the_code_counts_as_two_factors(world: World) -> None:
    made = world.run(create_operator, "ana", "analyst", SECRET)
    before = world.run(operator_login, "ana", SECRET)  # no authenticator yet: password only
    assert not world.run(passed_second_factor, before.session)
    world.clock.advance(seconds=1)
    secret = enrolled_again(world, made.id)
    assert not world.run(passed_second_factor, before.session)  # still only the password
    world.clock.advance(seconds=30)
    after = world.run(operator_login, "ana", SECRET, world.totp_code(secret))
    assert world.run(passed_second_factor, after.session)


def enrolled_again(world: World, operator_id: str) -> str:
    code = world.run(issue_enrolment, operator_id)
    step = world.run(password_step, "ana", SECRET)
    uri = world.run(enrol, step.issued.token, code).provisioning_uri
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    world.run(second_step, step.issued.token, world.totp_code(secret))
    return secret


def test_a_lost_authenticator_is_reset_by_another_admin(world: World) -> None:
    """The reset removes the authenticator and ends the operator's sessions; the new
    phone is set up with the code it issued; an admin cannot reset their own, nor
    anyone without a reason; an analyst cannot reset at all."""
    secret = enrolled(world)
    ana = world.run(password_step, "ana", SECRET)  # a sign-in under way...
    world.clock.advance(seconds=30)
    console = world.run(operator_login, "ana", SECRET, world.totp_code(secret))  # ...and one done
    admin = world.run(create_operator, "ada", "admin", SECRET)
    ana_id = world.run(auth.authenticate, console.token).subject_id
    as_ada, as_ana = Actor("operator", admin.id), Actor("operator", ana_id)
    refused(world, "insufficient_role", reset_authenticator, admin.id, "lost", actor=as_ana)
    refused(world, "own_reset", reset_authenticator, admin.id, "lost it", actor=as_ada)
    refused(world, "reason_required", reset_authenticator, ana_id, "  ", actor=as_ada)
    refused(world, "totp_already_enrolled", issue_enrolment, ana_id, actor=as_ada)
    code = world.run(reset_authenticator, ana_id, "phone stolen, seen in person", actor=as_ada)
    refused(world, "session_revoked", auth.authenticate, console.token)
    refused(world, "session_revoked", pending, ana.issued.token)
    [reset] = world.audit("operator.totp_reset")
    said = json.loads(reset.details)
    assert (reset.subject, said["reason"]) == (ana_id, "phone stolen, seen in person")
    assert said["sessions_ended"] == 3  # the first sign-in's, the pending one, the API one
    world.clock.advance(seconds=30)
    # the old phone's code opens nothing: a password-only API session, never the console's
    api = world.run(operator_login, "ana", SECRET, world.totp_code(secret))
    assert not world.run(passed_second_factor, api.session)
    step = world.run(password_step, "ana", SECRET)
    assert not step.enrolled
    uri = world.run(enrol, step.issued.token, code).provisioning_uri
    fresh = parse_qs(urlparse(uri).query)["secret"][0]
    assert fresh != secret
    issued = world.run(second_step, step.issued.token, world.totp_code(fresh))
    assert world.run(passed_second_factor, world.run(auth.authenticate, issued.token))
