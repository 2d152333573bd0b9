"""Step-up by TOTP, SMS code and device signature; the generic step-up for payments."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import text

from guardpay.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    RateLimited,
    ServiceUnavailable,
    StepUpRequired,
)
from guardpay.services.auth import facade as auth
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


def _enrol(world: World, user: str) -> str:
    """Enrol and confirm TOTP; returns the secret the authenticator app holds."""
    actor = user_actor(user)
    enrolment = world.run(auth.enrol_totp, user, actor=actor)
    assert "[redacted]" in repr(enrolment)
    uri = urlparse(enrolment.provisioning_uri)
    secret = parse_qs(uri.query)["secret"][0]
    world.run(auth.confirm_totp, user, world.totp_code(secret), actor=actor)
    return secret


def _challenge(world: World, user: str, purpose: str = "payment") -> StepUpRequired:
    with pytest.raises(StepUpRequired) as asked:
        world.run(auth.step_up, user, purpose)
    return asked.value


def test_totp_enrolment_stores_the_secret_encrypted(world: World, user: str) -> None:
    secret = _enrol(world, user)
    with world.db.read() as conn:
        stored = conn.execute(text("SELECT secret FROM auth_totp")).scalar_one()
    assert stored.startswith("gpf1.")
    assert secret not in stored
    outcomes = [e.outcome for e in world.audit("totp.enrolled")]
    assert outcomes == ["started", "ok"]
    assert all(secret not in e.details for e in world.audit())
    with pytest.raises(Conflict):
        world.run(auth.enrol_totp, user, actor=user_actor(user))


def test_totp_confirmation_needs_a_right_code(world: World, user: str) -> None:
    actor = user_actor(user)
    with pytest.raises(InvalidRequest):
        world.run(auth.confirm_totp, user, "123456", actor=actor)
    world.run(auth.enrol_totp, user, actor=actor)
    with pytest.raises(AuthenticationFailed) as wrong:
        world.run(auth.confirm_totp, user, "000000", actor=actor)
    assert wrong.value.code == "invalid_code"
    assert _challenge(world, user).methods == ["sms"]  # not offered before confirmation


def test_totp_step_up_accepts_one_step_either_side_and_no_reuse(world: World, user: str) -> None:
    secret = _enrol(world, user)
    world.clock.advance(seconds=90)
    asked = _challenge(world, user)
    assert asked.methods == ["totp", "sms"]
    with pytest.raises(AuthenticationFailed) as old:  # two steps back
        world.run(
            auth.pass_step_up,
            asked.challenge_id,
            "totp",
            code=world.totp_code(secret, offset_steps=-2),
        )
    assert old.value.code == "invalid_code"
    code = world.totp_code(secret, offset_steps=-1)
    passed = world.run(auth.pass_step_up, asked.challenge_id, "totp", code=code)
    assert passed.passed_method == "totp"
    again = _challenge(world, user)
    with pytest.raises(AuthenticationFailed) as reused:  # the same code, still in its window
        world.run(auth.pass_step_up, again.challenge_id, "totp", code=code)
    assert reused.value.code == "invalid_code"
    world.clock.advance(seconds=30)
    world.run(auth.pass_step_up, again.challenge_id, "totp", code=world.totp_code(secret))


def test_a_passed_step_up_is_redeemed_once_for_its_purpose(world: World, user: str) -> None:
    asked = _challenge(world, user, "payment")
    world.run(auth.send_sms_code, asked.challenge_id, world.sms)
    world.run(auth.pass_step_up, asked.challenge_id, "sms", code=world.sms.last_code(PHONE))
    with pytest.raises(AuthenticationFailed) as other:
        world.run(auth.redeem_step_up, user, asked.challenge_id, "password_change")
    assert other.value.code == "challenge_mismatch"
    with pytest.raises(AuthenticationFailed) as someone_else:
        world.run(auth.redeem_step_up, "usr_other", asked.challenge_id, "payment")
    assert someone_else.value.code == "challenge_mismatch"
    world.run(auth.redeem_step_up, user, asked.challenge_id, "payment")
    with pytest.raises(AuthenticationFailed) as twice:
        world.run(auth.redeem_step_up, user, asked.challenge_id, "payment")
    assert twice.value.code == "challenge_used"


def test_an_unpassed_or_stale_step_up_cannot_be_redeemed(world: World, user: str) -> None:
    asked = _challenge(world, user)
    with pytest.raises(AuthenticationFailed) as pending:
        world.run(auth.redeem_step_up, user, asked.challenge_id, "payment")
    assert pending.value.code == "step_up_not_passed"
    world.run(auth.send_sms_code, asked.challenge_id, world.sms)
    world.run(auth.pass_step_up, asked.challenge_id, "sms", code=world.sms.last_code(PHONE))
    world.clock.advance(minutes=5)
    with pytest.raises(AuthenticationFailed) as stale:
        world.run(auth.redeem_step_up, user, asked.challenge_id, "payment")
    assert stale.value.code == "challenge_expired"


def test_sms_codes_expire_after_five_minutes(world: World, user: str) -> None:
    asked = _challenge(world, user)
    world.run(auth.send_sms_code, asked.challenge_id, world.sms)
    code = world.sms.last_code(PHONE)
    world.clock.advance(minutes=5)
    with pytest.raises(AuthenticationFailed) as expired:
        world.run(auth.pass_step_up, asked.challenge_id, "sms", code=code)
    assert expired.value.code == "sms_code_expired"
    world.run(auth.send_sms_code, asked.challenge_id, world.sms)  # a new code works
    world.run(auth.pass_step_up, asked.challenge_id, "sms", code=world.sms.last_code(PHONE))


def test_five_wrong_codes_kill_the_challenge(world: World, user: str) -> None:
    asked = _challenge(world, user)
    world.run(auth.send_sms_code, asked.challenge_id, world.sms)
    right = world.sms.last_code(PHONE)
    assert right is not None
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    codes = []
    for _ in range(5):
        with pytest.raises(AuthenticationFailed) as failed:
            world.run(auth.pass_step_up, asked.challenge_id, "sms", code=wrong)
        codes.append(failed.value.code)
    assert codes == ["invalid_code"] * 4 + ["challenge_failed"]
    with pytest.raises(AuthenticationFailed) as dead:
        world.run(auth.pass_step_up, asked.challenge_id, "sms", code=right)
    assert dead.value.code == "challenge_failed"
    failures = world.audit("auth.step_up_failed")
    assert len(failures) == 6
    assert all(right not in e.details and wrong not in e.details for e in failures)


def test_codes_are_stored_hashed_and_sends_are_limited(world: World, user: str) -> None:
    asked = _challenge(world, user)
    for _ in range(3):
        world.run(auth.send_sms_code, asked.challenge_id, world.sms)
    code = world.sms.last_code(PHONE)
    assert code is not None
    with world.db.read() as conn:
        stored = conn.execute(text("SELECT sms_hash FROM auth_challenges")).scalar_one()
    assert code not in stored
    with pytest.raises(RateLimited) as limited:
        world.run(auth.send_sms_code, asked.challenge_id, world.sms)
    assert limited.value.code == "too_many_sms"
    assert len(world.sms.outbox) == 3


def test_a_failed_sms_gateway_changes_nothing(world: World, user: str) -> None:
    asked = _challenge(world, user)
    world.sms.fail_next = 1
    with pytest.raises(ServiceUnavailable) as failed:
        world.run(auth.send_sms_code, asked.challenge_id, world.sms)
    assert failed.value.code == "sms_unavailable"
    with pytest.raises(AuthenticationFailed) as not_sent:
        world.run(auth.pass_step_up, asked.challenge_id, "sms", code="123456")
    assert not_sent.value.code == "sms_code_not_sent"


def test_challenges_expire_and_unknown_ones_are_refused(world: World, user: str) -> None:
    asked = _challenge(world, user)
    world.clock.advance(minutes=10)
    with pytest.raises(AuthenticationFailed) as expired:
        world.run(auth.send_sms_code, asked.challenge_id, world.sms)
    assert expired.value.code == "challenge_expired"
    with pytest.raises(AuthenticationFailed) as unknown:
        world.run(auth.pass_step_up, "chl_nope", "sms", code="123456")
    assert unknown.value.code == "challenge_invalid"
    with pytest.raises(AuthenticationFailed) as method:
        world.run(auth.pass_step_up, _challenge(world, user).challenge_id, "totp", code="1")
    assert method.value.code == "method_not_available"


def test_the_biometric_device_signature_passes_a_payment_step_up(world: World, user: str) -> None:
    app = PhoneApp()
    issued = log_in_by_sms(world, app)
    device_id = issued.session.device_id
    assert device_id is not None
    asked = _challenge(world, user, "payment")
    assert asked.methods == ["device_signature", "sms"]
    nonce = world.run(auth.pending_challenges, user)[0].nonce
    with pytest.raises(AuthenticationFailed) as bad:
        world.run(
            auth.pass_step_up,
            asked.challenge_id,
            "device_signature",
            signature=app.sign_challenge(asked.challenge_id, "other-nonce"),
            signer_device_id=device_id,
        )
    assert bad.value.code == "invalid_signature"
    world.run(
        auth.pass_step_up,
        asked.challenge_id,
        "device_signature",
        signature=app.sign_challenge(asked.challenge_id, nonce),
        signer_device_id=device_id,
    )
    world.run(auth.redeem_step_up, user, asked.challenge_id, "payment")


def test_a_revoked_device_no_longer_signs_nor_keeps_sessions(world: World, user: str) -> None:
    app = PhoneApp()
    issued = log_in_by_sms(world, app)
    device_id = issued.session.device_id
    assert device_id is not None
    world.run(auth.revoke_device, user, device_id, actor=user_actor(user))
    with pytest.raises(AuthenticationFailed) as ended:
        world.run(auth.authenticate, issued.token)
    assert ended.value.code == "session_revoked"
    asked = _challenge(world, user)
    assert asked.methods == ["sms"]
    world.clock.advance(seconds=1)
    with pytest.raises(StepUpRequired):
        world.run(auth.login, PHONE, PASSWORD, device=app.proof(world.clock()))


def test_step_up_for_a_user_without_any_factor_is_refused(world: World) -> None:
    with pytest.raises(AuthenticationFailed) as none:
        world.run(auth.step_up, "usr_unknown", "payment")
    assert none.value.code == "step_up_unavailable"
    assert not isinstance(none.value, StepUpRequired)


def test_new_challenges_buy_no_more_guesses_or_texts(world: World, user: str) -> None:
    """Ten wrong answers an hour per user, whatever the number of challenges."""
    secret = _enrol(world, user)
    for _ in range(5):
        asked = _challenge(world, user)
        for _ in range(2):
            with pytest.raises(AuthenticationFailed):
                world.run(auth.pass_step_up, asked.challenge_id, "totp", code="000000")
    fresh = _challenge(world, user)
    with pytest.raises(RateLimited) as limited:
        world.run(auth.pass_step_up, fresh.challenge_id, "totp", code=world.totp_code(secret))
    assert limited.value.code == "too_many_attempts"
    world.clock.advance(hours=1)
    fresh = _challenge(world, user)
    world.run(auth.pass_step_up, fresh.challenge_id, "totp", code=world.totp_code(secret))
    challenges = [_challenge(world, user).challenge_id for _ in range(4)]
    for challenge_id in [*challenges[:3] * 3, challenges[3]]:  # 3 per challenge, 10 in all
        world.run(auth.send_sms_code, challenge_id, world.sms)
    with pytest.raises(RateLimited) as texts:
        world.run(auth.send_sms_code, challenges[3], world.sms)
    assert texts.value.code == "too_many_sms"
    assert len(world.sms.outbox) == 10
