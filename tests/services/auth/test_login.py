"""Login: credentials, rate limits, device binding and the step-up a new device needs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from guardpay.errors import AuthenticationFailed, InvalidRequest, RateLimited, StepUpRequired
from guardpay.security import passwords
from guardpay.services.auth import facade as auth
from guardpay.services.platform.context import Actor
from tests.security.auth_fixtures import (
    PASSWORD,
    PHONE,
    PhoneApp,
    World,
    cheap_hashing_fixture,  # noqa: F401 (a pytest fixture)
    log_in_by_sms,
    user_actor,
    user_fixture,  # noqa: F401 (a pytest fixture)
    world_fixture,  # noqa: F401 (a pytest fixture)
)

ANONYMOUS = Actor("user", "anonymous", ip="10.0.0.1")


def _stepped_up(world: World, phone: str, password: str, **kw: object) -> StepUpRequired:
    with pytest.raises(StepUpRequired) as asked:
        world.run(auth.login, phone, password, actor=ANONYMOUS, **kw)
    return asked.value


def _trusted_app(world: World) -> PhoneApp:
    """A phone that logged in once and passed the SMS step-up."""
    app = PhoneApp("first phone")
    log_in_by_sms(world, app, actor=ANONYMOUS)
    return app


def test_a_new_device_needs_a_step_up_by_sms_then_is_trusted(world: World, user: str) -> None:
    app = PhoneApp()
    asked = _stepped_up(world, "138 1234 5678", PASSWORD, device=app.proof(world.clock()))
    assert asked.code == "step_up_required"
    assert asked.methods == ["sms"]
    assert asked.challenge_id is not None
    masked = world.run(auth.send_sms_code, asked.challenge_id, world.sms)
    assert masked == "138****5678"
    code = world.sms.last_code(PHONE)
    assert code is not None
    issued = world.run(auth.complete_login, asked.challenge_id, "sms", code=code)
    assert issued.session.subject_id == user
    assert issued.session.device_id is not None
    session = world.run(auth.authenticate, issued.token)
    assert session.id == issued.session.id
    # From now on the same phone logs in without a step-up.
    world.clock.advance(seconds=5)
    again = world.run(auth.login, PHONE, PASSWORD, device=app.proof(world.clock()))
    assert again.session.device_id == issued.session.device_id
    actions = [e.action for e in world.audit()]
    for expected in (
        "device.registered",
        "auth.step_up_required",
        "auth.step_up_passed",
        "device.trusted",
        "auth.login",
    ):
        assert expected in actions


def test_wrong_phone_and_wrong_password_look_the_same(world: World, user: str) -> None:
    errors = []
    for phone, password in ((PHONE, "Wrong-pass-99"), ("+8613900001111", PASSWORD)):
        with pytest.raises(AuthenticationFailed) as failed:
            world.run(auth.login, phone, password)
        errors.append((type(failed.value), failed.value.code, failed.value.message))
    assert errors[0] == errors[1]
    assert errors[0][1] == "invalid_credentials"
    failures = world.audit("auth.login_failed")
    assert [e.subject for e in failures] == [user, None]
    assert all("13812345678" not in e.details and "13900001111" not in e.details for e in failures)


def test_a_malformed_phone_is_bad_input(world: World) -> None:
    with pytest.raises(InvalidRequest) as bad:
        world.run(auth.login, "12345", PASSWORD)
    assert bad.value.code == "invalid_phone_number"


def test_failed_logins_are_limited_per_account(world: World, user: str) -> None:
    app = _trusted_app(world)
    for i in range(5):
        with pytest.raises(AuthenticationFailed):
            world.run(auth.login, PHONE, "Wrong-pass-99", actor=user_actor("-", ip=f"10.1.0.{i}"))
    with pytest.raises(RateLimited) as limited:  # even with the right password
        world.run(auth.login, PHONE, PASSWORD, device=app.proof(world.clock()))
    assert limited.value.code == "too_many_attempts"
    assert world.audit("auth.login_failed")[-1].outcome == "rate_limited"
    world.clock.advance(minutes=15)
    world.run(auth.login, PHONE, PASSWORD, device=app.proof(world.clock()))


def test_an_unknown_phone_is_limited_the_same_way(world: World) -> None:
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            world.run(auth.login, "+8613900001111", PASSWORD)
    with pytest.raises(RateLimited):
        world.run(auth.login, "+8613900001111", PASSWORD)


def test_failed_logins_are_limited_per_address(world: World, user: str) -> None:
    attacker = Actor("user", "anonymous", ip="203.0.113.9")
    for i in range(20):
        with pytest.raises(AuthenticationFailed):
            world.run(auth.login, f"+86139{i:08d}", PASSWORD, actor=attacker)
    with pytest.raises(RateLimited):
        world.run(auth.login, PHONE, PASSWORD, actor=attacker)
    # Another address is not affected.
    with pytest.raises(StepUpRequired):
        world.run(auth.login, PHONE, PASSWORD, actor=Actor("user", "anonymous", ip="10.9.9.9"))


def test_a_success_resets_the_account_count(world: World, user: str) -> None:
    app = _trusted_app(world)
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            world.run(auth.login, PHONE, "Wrong-pass-99", actor=user_actor("-", ip="10.2.0.1"))
    world.clock.advance(seconds=1)  # a proof must be newer than the last one accepted
    world.run(auth.login, PHONE, PASSWORD, device=app.proof(world.clock()))
    for _ in range(4):
        with pytest.raises(AuthenticationFailed) as failed:
            world.run(auth.login, PHONE, "Wrong-pass-99", actor=user_actor("-", ip="10.2.0.2"))
        assert failed.value.code == "invalid_credentials"


def test_a_trusted_device_must_prove_itself_each_time(world: World, user: str) -> None:
    app = _trusted_app(world)
    world.clock.advance(seconds=10)
    proof = app.proof(world.clock())
    world.run(auth.login, PHONE, PASSWORD, device=proof)
    with pytest.raises(StepUpRequired):  # the same proof replayed
        world.run(auth.login, PHONE, PASSWORD, device=proof)
    with pytest.raises(StepUpRequired):  # a stale one
        world.run(auth.login, PHONE, PASSWORD, device=app.proof(world.clock(), offset=-600))
    forged = replace(app.proof(world.clock(), offset=1), signature=PhoneApp().sign(b"x"))
    with pytest.raises(StepUpRequired):  # someone else's signature over the public key
        world.run(auth.login, PHONE, PASSWORD, device=forged)
    with pytest.raises(StepUpRequired):  # no proof at all
        world.run(auth.login, PHONE, PASSWORD)


def test_a_second_device_can_be_approved_by_the_first(world: World, user: str) -> None:
    first = _trusted_app(world)
    second = PhoneApp("new phone")
    asked = _stepped_up(world, PHONE, PASSWORD, device=second.proof(world.clock()))
    assert asked.methods == ["device_signature", "sms"]
    devices = world.run(auth.list_devices, user, actor=user_actor(user))
    first_id = next(d.id for d in devices if d.public_key == first.public_key)
    pending = world.run(auth.pending_challenges, user, actor=user_actor(user))
    assert [c.id for c in pending] == [asked.challenge_id]
    signature = first.sign_challenge(pending[0].id, pending[0].nonce)
    # The new phone cannot sign for itself: it is not trusted yet.
    second_id = next(d.id for d in world.run(auth.list_devices, user) if d.name == "new phone")
    with pytest.raises(AuthenticationFailed) as untrusted:
        world.run(
            auth.complete_login,
            asked.challenge_id,
            "device_signature",
            signature=second.sign_challenge(pending[0].id, pending[0].nonce),
            signer_device_id=second_id,
        )
    assert untrusted.value.code == "invalid_signature"
    issued = world.run(
        auth.complete_login,
        asked.challenge_id,
        "device_signature",
        signature=signature,
        signer_device_id=first_id,
    )
    assert issued.session.device_id == second_id
    assert all(d.trusted for d in world.run(auth.list_devices, user))


def test_a_login_without_a_device_gets_a_session_but_trusts_nothing(
    world: World, user: str
) -> None:
    issued = log_in_by_sms(world, actor=ANONYMOUS)
    assert issued.session.device_id is None
    assert world.run(auth.list_devices, user) == []


def test_a_login_challenge_cannot_be_completed_twice(world: World, user: str) -> None:
    asked = _stepped_up(world, PHONE, PASSWORD)
    world.run(auth.send_sms_code, asked.challenge_id, world.sms)
    code = world.sms.last_code(PHONE)
    world.run(auth.complete_login, asked.challenge_id, "sms", code=code)
    with pytest.raises(AuthenticationFailed) as used:
        world.run(auth.complete_login, asked.challenge_id, "sms", code=code)
    assert used.value.code == "challenge_used"


def test_a_challenge_for_something_else_cannot_complete_a_login(world: World, user: str) -> None:
    with pytest.raises(StepUpRequired) as payment:
        world.run(auth.step_up, user, "payment")
    world.run(auth.send_sms_code, payment.value.challenge_id, world.sms)
    with pytest.raises(AuthenticationFailed) as mismatch:
        world.run(
            auth.complete_login, payment.value.challenge_id, "sms", code=world.sms.last_code(PHONE)
        )
    assert mismatch.value.code == "challenge_mismatch"
    # ... and the payment challenge is still there to be answered for its own purpose
    world.run(auth.pass_step_up, payment.value.challenge_id, "sms", code=world.sms.last_code(PHONE))


def test_a_malformed_device_key_is_bad_input_before_anything(world: World, user: str) -> None:
    proof = replace(PhoneApp().proof(world.clock()), public_key="not-a-key")
    with pytest.raises(InvalidRequest) as bad:
        world.run(auth.login, PHONE, "Wrong-pass-99", device=proof)
    assert bad.value.code == "invalid_device_key"
    assert world.audit("auth.login_failed") == []
    assert world.count("auth_failures") == 0


def test_an_unknown_phone_costs_a_hash_too(
    world: World, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So response time does not tell which phone numbers have an account."""
    burned: list[str] = []
    monkeypatch.setattr(passwords.SecretHasher, "burn", lambda self, secret: burned.append("x"))
    with pytest.raises(AuthenticationFailed):
        world.run(auth.login, "+8613900001111", PASSWORD)
    assert burned == ["x"]
