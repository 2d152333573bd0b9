"""Step-up challenges: which second factors a user can offer, and a challenge's life.

A challenge is created when something needs more than a password (a login from a device
the user has not trusted yet, a payment the risk engine doubts, a password change). It
names the methods that would do, lives `challenge_ttl`, and dies after `max_attempts`
wrong answers across all methods, so guessing a 6-digit code is bounded at 5 in 10^6 per
challenge. A passed challenge authorises its purpose once, for `passed_valid_for`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from guardpay.domain.auth.settings import StepUpPolicy

TOTP = "totp"
SMS = "sms"
DEVICE_SIGNATURE = "device_signature"
METHODS = (TOTP, SMS, DEVICE_SIGNATURE)

LOGIN = "login"
PURPOSES = (LOGIN, "payment", "password_change", "payment_password_change", "device_change")


class ChallengeStatus(StrEnum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"  # too many wrong answers: dead
    CONSUMED = "consumed"  # passed and used for its purpose


@dataclass(frozen=True)
class Challenge:
    id: str
    user_id: str
    purpose: str
    methods: tuple[str, ...]
    status: ChallengeStatus
    attempts: int
    created_at: datetime
    expires_at: datetime
    nonce: str  # what a trusted device signs; not a secret
    device_id: str | None = None  # for a login: the device trusted once this passes
    sms_hash: str | None = None
    sms_salt: str | None = None
    sms_expires_at: datetime | None = None
    sms_sends: int = 0
    passed_method: str | None = None
    passed_at: datetime | None = None

    def __repr__(self) -> str:  # the SMS code hash and salt stay out of logs
        return f"Challenge(id={self.id!r}, purpose={self.purpose!r}, status={self.status!r})"


def available_methods(*, totp_enrolled: bool, has_phone: bool, trusted_devices: int) -> list[str]:
    """The second factors this user can answer with, strongest first."""
    methods = []
    if totp_enrolled:
        methods.append(TOTP)
    if trusted_devices > 0:
        methods.append(DEVICE_SIGNATURE)
    if has_phone:
        methods.append(SMS)
    return methods


def answer_problem(challenge: Challenge, method: str, now: datetime) -> str | None:
    """Why no answer to this challenge can be accepted now, as an error code, or None."""
    if challenge.status is ChallengeStatus.FAILED:
        return "challenge_failed"
    if challenge.status is not ChallengeStatus.PENDING:
        return "challenge_used"
    if now >= challenge.expires_at:
        return "challenge_expired"
    if method not in challenge.methods:
        return "method_not_available"
    return None


def sms_code_problem(challenge: Challenge, now: datetime) -> str | None:
    if challenge.sms_hash is None or challenge.sms_expires_at is None:
        return "sms_code_not_sent"
    if now >= challenge.sms_expires_at:
        return "sms_code_expired"
    return None


def can_send_sms(challenge: Challenge, policy: StepUpPolicy) -> bool:
    return challenge.sms_sends < policy.max_sms_sends


def after_wrong_answer(challenge: Challenge, policy: StepUpPolicy) -> Challenge:
    attempts = challenge.attempts + 1
    dead = attempts >= policy.max_attempts
    status = ChallengeStatus.FAILED if dead else challenge.status
    return replace(challenge, attempts=attempts, status=status)


def after_right_answer(challenge: Challenge, method: str, now: datetime) -> Challenge:
    return replace(challenge, status=ChallengeStatus.PASSED, passed_method=method, passed_at=now)


def redemption_problem(
    challenge: Challenge, user_id: str, purpose: str, now: datetime, policy: StepUpPolicy
) -> str | None:
    """Why a passed challenge cannot authorise `purpose` for `user_id` now, or None."""
    if challenge.user_id != user_id or challenge.purpose != purpose:
        return "challenge_mismatch"
    if challenge.status is ChallengeStatus.CONSUMED:
        return "challenge_used"
    if challenge.status is not ChallengeStatus.PASSED or challenge.passed_at is None:
        return "step_up_not_passed"
    if now >= challenge.passed_at + policy.passed_valid_for:
        return "challenge_expired"
    return None
