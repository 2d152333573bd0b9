"""Lockout, rate limits, sessions, step-up decisions and roles: pure rules, exact edges."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from guardpay.domain.auth import limits, stepup
from guardpay.domain.auth.roles import Role, at_least, parse_role
from guardpay.domain.auth.sessions import Session, needs_touch, session_problem
from guardpay.domain.auth.settings import (
    DEFAULT_SETTINGS,
    LoginLimits,
    PaymentLockout,
    SessionPolicy,
)
from guardpay.domain.auth.stepup import Challenge, ChallengeStatus
from guardpay.errors import InvalidRequest

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_payment_lock_starts_at_the_fifth_failure() -> None:
    policy = PaymentLockout()
    assert [limits.lock_after_failure(n, T0, policy) for n in range(1, 5)] == [None] * 4
    assert limits.lock_after_failure(5, T0, policy) == T0 + timedelta(hours=3)
    assert limits.attempts_left(3, policy) == 2
    assert limits.attempts_left(7, policy) == 0


def test_lock_settings_are_configurable() -> None:
    policy = PaymentLockout(max_failures=3, lock_for=timedelta(minutes=30))
    assert limits.lock_after_failure(3, T0, policy) == T0 + timedelta(minutes=30)


def test_a_lock_ends_exactly_at_its_end() -> None:
    end = T0 + timedelta(hours=3)
    assert limits.is_locked(end, end - timedelta(microseconds=1))
    assert not limits.is_locked(end, end)
    assert not limits.is_locked(None, T0)


@pytest.mark.parametrize(
    ("account", "ip", "blocked"),
    [(0, 0, False), (4, 19, False), (5, 0, True), (0, 20, True), (6, 25, True)],
)
def test_login_limits_per_account_and_per_ip(account: int, ip: int, blocked: bool) -> None:
    assert limits.login_blocked(account, ip, LoginLimits()) is blocked


def _session(**changes: object) -> Session:
    base = Session("ses_1", "user", "usr_1", "dev_1", "10.0.0.1", T0, T0, T0 + timedelta(days=30))
    return replace(base, **changes)  # type: ignore[arg-type]


def test_session_validity() -> None:
    policy = SessionPolicy(idle_timeout=timedelta(days=7), absolute_timeout=timedelta(days=30))
    fresh = _session(expires_at=T0 + policy.absolute_timeout)
    assert session_problem(fresh, T0 + timedelta(days=6), policy) is None
    assert session_problem(fresh, T0 + timedelta(days=7), policy) == "session_expired"
    active = replace(fresh, last_seen_at=T0 + timedelta(days=29))
    assert session_problem(active, T0 + timedelta(days=29, hours=23), policy) is None
    assert session_problem(active, T0 + timedelta(days=30), policy) == "session_expired"
    revoked = replace(fresh, revoked_at=T0)
    assert session_problem(revoked, T0, policy) == "session_revoked"


def test_last_seen_is_written_at_most_once_a_minute() -> None:
    policy = SessionPolicy()
    assert not needs_touch(_session(), T0 + timedelta(seconds=59), policy)
    assert needs_touch(_session(), T0 + timedelta(minutes=1), policy)


def test_available_methods() -> None:
    assert stepup.available_methods(totp_enrolled=True, has_phone=True, trusted_devices=2) == [
        "totp",
        "device_signature",
        "sms",
    ]
    assert stepup.available_methods(totp_enrolled=False, has_phone=True, trusted_devices=0) == [
        "sms"
    ]
    assert stepup.available_methods(totp_enrolled=False, has_phone=False, trusted_devices=0) == []


def _challenge(**changes: object) -> Challenge:
    base = Challenge(
        "chl_1",
        "usr_1",
        "login",
        ("totp", "sms"),
        ChallengeStatus.PENDING,
        0,
        T0,
        T0 + timedelta(minutes=10),
        "nonce",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_answer_problems() -> None:
    ch = _challenge()
    assert stepup.answer_problem(ch, "totp", T0) is None
    assert stepup.answer_problem(ch, "device_signature", T0) == "method_not_available"
    assert stepup.answer_problem(ch, "totp", T0 + timedelta(minutes=10)) == "challenge_expired"
    failed = replace(ch, status=ChallengeStatus.FAILED)
    assert stepup.answer_problem(failed, "totp", T0) == "challenge_failed"
    passed = replace(ch, status=ChallengeStatus.PASSED)
    assert stepup.answer_problem(passed, "totp", T0) == "challenge_used"


def test_a_challenge_dies_after_five_wrong_answers() -> None:
    policy = DEFAULT_SETTINGS.step_up
    ch = _challenge()
    for expected in range(1, 5):
        ch = stepup.after_wrong_answer(ch, policy)
        assert (ch.attempts, ch.status) == (expected, ChallengeStatus.PENDING)
    ch = stepup.after_wrong_answer(ch, policy)
    assert (ch.attempts, ch.status) == (5, ChallengeStatus.FAILED)


def test_sms_code_problems_and_send_limit() -> None:
    policy = DEFAULT_SETTINGS.step_up
    ch = _challenge()
    assert stepup.sms_code_problem(ch, T0) == "sms_code_not_sent"
    sent = replace(ch, sms_hash="h", sms_salt="s", sms_expires_at=T0 + timedelta(minutes=5))
    assert stepup.sms_code_problem(sent, T0 + timedelta(minutes=4)) is None
    assert stepup.sms_code_problem(sent, T0 + timedelta(minutes=5)) == "sms_code_expired"
    assert stepup.can_send_sms(replace(ch, sms_sends=2), policy)
    assert not stepup.can_send_sms(replace(ch, sms_sends=3), policy)


def test_a_passed_challenge_is_redeemed_once_for_its_purpose() -> None:
    policy = DEFAULT_SETTINGS.step_up
    passed = stepup.after_right_answer(_challenge(purpose="payment"), "sms", T0)
    assert passed.passed_method == "sms"
    assert stepup.redemption_problem(passed, "usr_1", "payment", T0, policy) is None
    assert stepup.redemption_problem(passed, "usr_2", "payment", T0, policy) == (
        "challenge_mismatch"
    )
    assert stepup.redemption_problem(passed, "usr_1", "login", T0, policy) == "challenge_mismatch"
    late = T0 + policy.passed_valid_for
    assert stepup.redemption_problem(passed, "usr_1", "payment", late, policy) == (
        "challenge_expired"
    )
    used = replace(passed, status=ChallengeStatus.CONSUMED)
    assert stepup.redemption_problem(used, "usr_1", "payment", T0, policy) == "challenge_used"
    pending = _challenge(purpose="payment")
    assert stepup.redemption_problem(pending, "usr_1", "payment", T0, policy) == (
        "step_up_not_passed"
    )


def test_challenge_repr_hides_the_code_hash() -> None:
    ch = _challenge(sms_hash="deadbeef" * 8, sms_salt="salty")
    assert "deadbeef" not in repr(ch)
    assert "salty" not in repr(ch)


def test_roles_are_ordered() -> None:
    order = [Role.VIEWER, Role.ANALYST, Role.SUPERVISOR, Role.ADMIN]
    for i, have in enumerate(order):
        for j, need in enumerate(order):
            assert at_least(have, need) is (i >= j)
    assert at_least("admin", "viewer")
    assert parse_role("analyst") is Role.ANALYST


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_role("root")
    assert refused.value.code == "invalid_role"
