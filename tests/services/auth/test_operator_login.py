"""Operators sign in with a password and then an authenticator code, on both backends:
the console's two steps (enrolment on the first sign-in), the API's one call, codes
accepted once, wrong codes counted like wrong passwords, pending sign-ins that expire and
authorise nothing."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from guardpay.errors import AuthenticationFailed, Conflict, RateLimited
from guardpay.services.auth import facade as auth
from guardpay.services.auth.operator_login import (
    enrol,
    issue_enrolment,
    operator_login,
    passed_second_factor,
    password_step,
    pending,
    second_step,
)
from guardpay.services.auth.operators import create_operator
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


def refused(world: World, code: str, fn: object, *args: object) -> None:
    with pytest.raises((AuthenticationFailed, Conflict, RateLimited)) as caught:
        world.run(fn, *args)  # type: ignore[arg-type]
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
