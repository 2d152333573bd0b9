"""Step-up: ask for a second factor, check the answer, and let a passed one be used once.

`step_up(ctx, user_id, purpose)` records a challenge and raises `StepUpRequired` with the
methods the user can answer with and the challenge id. The client answers with
`pass_step_up` (a TOTP code, the SMS code sent by `send_sms_code`, or a trusted device's
signature of the challenge); the use case that asked then calls `redeem_step_up` before
it goes ahead, which accepts a passed challenge once, for its purpose, for a few minutes.
Wrong answers count against the challenge (5, then it is dead) and against the user (10
an hour across all challenges, so opening new challenges buys no more guesses at a TOTP
code); texts are limited per challenge and per user. Every outcome is audited. A failed
answer raises after recording it, so the edge must commit (see `services/auth/facade.py`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import NoReturn

from guardpay.adapters.sms import SmsSender
from guardpay.domain.auth import stepup
from guardpay.domain.auth.settings import DEFAULT_SETTINGS, AuthSettings
from guardpay.domain.auth.stepup import Challenge, ChallengeStatus
from guardpay.domain.identity.masking import mask_phone
from guardpay.errors import AuthenticationFailed, InvalidRequest, RateLimited, StepUpRequired
from guardpay.security import devices as keys
from guardpay.security import otp
from guardpay.security.tokens import new_id
from guardpay.services.auth import support
from guardpay.services.auth.devices import totp_step, trusted_device_count
from guardpay.services.auth.support import phone_of, require_self
from guardpay.services.platform.context import Context

_PROBLEMS = {
    "challenge_invalid": "no such step-up challenge",
    "challenge_failed": "too many wrong answers; start again",
    "challenge_used": "this step-up challenge was already used",
    "challenge_expired": "the step-up challenge expired; start again",
    "method_not_available": "that method is not available for this challenge",
    "sms_code_not_sent": "no code was sent for this challenge",
    "sms_code_expired": "the code expired; ask for a new one",
    "challenge_mismatch": "this step-up challenge was issued for something else",
    "step_up_not_passed": "the step-up challenge has not been passed",
    "invalid_code": "the code is not valid",
    "invalid_signature": "the device signature is not valid",
}


def _refuse(code: str) -> AuthenticationFailed:
    return AuthenticationFailed(_PROBLEMS[code], code=code)


def begin_step_up(
    ctx: Context,
    user_id: str,
    purpose: str,
    *,
    device_id: str | None = None,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> Challenge:
    """Record a challenge for `purpose` (device_id: the device a login would trust)."""
    if not purpose or len(purpose) > 32:
        raise InvalidRequest("a step-up purpose is 1 to 32 characters", param="purpose")
    methods = _methods_for(ctx, user_id)
    now = ctx.now()
    challenge = Challenge(
        id=new_id("chl"),
        user_id=user_id,
        purpose=purpose,
        methods=tuple(methods),
        status=ChallengeStatus.PENDING,
        attempts=0,
        created_at=now,
        expires_at=now + settings.step_up.challenge_ttl,
        nonce=keys.new_nonce(),
        device_id=device_id,
    )
    ctx.uow.auth.add_challenge(challenge)
    ctx.audit(
        "auth.step_up_required",
        subject=user_id,
        details={
            "challenge_id": challenge.id,
            "purpose": purpose,
            "methods": methods,
            "device_id": device_id,
        },
    )
    return challenge


def step_up(
    ctx: Context,
    user_id: str,
    purpose: str,
    *,
    device_id: str | None = None,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> NoReturn:
    """Demand a second factor for `purpose` ("payment", "password_change", ...)."""
    challenge = begin_step_up(ctx, user_id, purpose, device_id=device_id, settings=settings)
    ctx.uow.keep()  # the challenge the client must answer (and whatever led to it)
    raise StepUpRequired(
        "a second factor is needed", methods=list(challenge.methods), challenge_id=challenge.id
    )


def _methods_for(ctx: Context, user_id: str) -> list[str]:
    totp = ctx.uow.auth.totp(user_id)
    methods = stepup.available_methods(
        totp_enrolled=totp is not None and totp.confirmed,
        has_phone=phone_of(ctx, user_id) is not None,
        trusted_devices=trusted_device_count(ctx, user_id),
    )
    if not methods:
        raise AuthenticationFailed(
            "no second factor is available for this account", code="step_up_unavailable"
        )
    return methods


def _load(ctx: Context, challenge_id: str) -> Challenge:
    challenge = ctx.uow.auth.challenge(challenge_id)
    if challenge is None:
        raise _refuse("challenge_invalid")
    return challenge


def pending_challenges(ctx: Context, user_id: str) -> list[Challenge]:
    """Open challenges a trusted device may sign (each carries its nonce), for the app of
    a signed-in user — "is this you logging in on a new phone?"."""
    require_self(ctx, user_id)
    return ctx.uow.auth.pending_challenges(user_id, ctx.now())


def send_sms_code(
    ctx: Context, challenge_id: str, sms: SmsSender, *, settings: AuthSettings = DEFAULT_SETTINGS
) -> str:
    """Text a fresh code to the account's phone (replacing any earlier one); returns the
    masked number it went to. At most `max_sms_sends` per challenge."""
    challenge = _load(ctx, challenge_id)
    problem = stepup.answer_problem(challenge, stepup.SMS, ctx.now())
    if problem is not None:
        raise _refuse(problem)
    policy = settings.step_up
    if not stepup.can_send_sms(challenge, policy):
        raise RateLimited("no more codes can be sent for this challenge", code="too_many_sms")
    support.within_limit(
        ctx,
        support.SMS_SENT,
        challenge.user_id,
        policy.max_sms_per_user,
        policy.per_user_window,
        "too_many_sms",
    )
    phone = phone_of(ctx, challenge.user_id)
    if phone is None:
        raise _refuse("method_not_available")
    code, salt = otp.new_sms_code(), otp.new_salt()
    sent = replace(
        challenge,
        sms_hash=otp.hash_sms_code(code, salt),
        sms_salt=salt,
        sms_expires_at=ctx.now() + policy.sms_code_ttl,
        sms_sends=challenge.sms_sends + 1,
    )
    ctx.uow.auth.save_challenge(sent)
    support.note(ctx, support.SMS_SENT, challenge.user_id, policy.per_user_window)
    sms.send(phone, _sms_text(code, policy.sms_code_ttl))
    ctx.audit(
        "auth.step_up_code_sent",
        subject=challenge.user_id,
        details={"challenge_id": challenge.id, "to": mask_phone(phone)},
    )
    return mask_phone(phone)


def _sms_text(code: str, ttl: timedelta) -> str:
    minutes = int(ttl.total_seconds() // 60)
    return (
        f"[guardpay] Your verification code is {code}, valid for {minutes} minutes. "
        "guardpay staff will never ask for it."
    )


def pass_step_up(
    ctx: Context,
    challenge_id: str,
    method: str,
    *,
    code: str | None = None,
    signature: str | None = None,
    signer_device_id: str | None = None,
    purpose: str | None = None,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> Challenge:
    """Check one answer (to a challenge for `purpose`, if given). Right: the challenge is
    passed (and returned). Wrong: the attempt is counted and audited, then
    `AuthenticationFailed` (`invalid_code`, `invalid_signature`, or `challenge_failed`
    once it is dead)."""
    challenge = _load(ctx, challenge_id)
    if purpose is not None and challenge.purpose != purpose:
        raise _refuse("challenge_mismatch")
    policy = settings.step_up
    support.within_limit(
        ctx,
        support.STEP_UP,
        challenge.user_id,
        policy.max_failures_per_user,
        policy.per_user_window,
        "too_many_attempts",
    )
    now = ctx.now()
    problem = stepup.answer_problem(challenge, method, now)
    if problem is None and method == stepup.SMS:
        problem = stepup.sms_code_problem(challenge, now)
    if problem is not None:
        _audit_failure(ctx, challenge, method, problem)
        ctx.uow.keep()
        raise _refuse(problem)
    wrong = _wrong_answer(ctx, challenge, method, code, signature, signer_device_id, settings)
    if wrong is not None:
        failed = stepup.after_wrong_answer(challenge, policy)
        ctx.uow.auth.save_challenge(failed)
        support.note(ctx, support.STEP_UP, challenge.user_id, policy.per_user_window)
        _audit_failure(ctx, failed, method, wrong)
        ctx.uow.keep()  # the attempt counted
        raise _refuse("challenge_failed" if failed.status is ChallengeStatus.FAILED else wrong)
    passed = stepup.after_right_answer(challenge, method, now)
    ctx.uow.auth.save_challenge(passed)
    ctx.audit(
        "auth.step_up_passed",
        subject=challenge.user_id,
        details={"challenge_id": challenge.id, "purpose": challenge.purpose, "method": method},
    )
    return passed


def pass_own_step_up(
    ctx: Context,
    user_id: str,
    challenge_id: str,
    method: str,
    *,
    code: str | None = None,
    signature: str | None = None,
    signer_device_id: str | None = None,
) -> Challenge:
    """A signed-in user answers a challenge a request of theirs was refused with (a red
    packet, a top-up, ...), to retry that request with its id. Someone else's challenge
    is as unknown as none; a login's is answered where the login completes."""
    challenge = _load(ctx, challenge_id)
    if challenge.user_id != user_id or challenge.purpose == stepup.LOGIN:
        raise _refuse("challenge_invalid")
    return pass_step_up(
        ctx, challenge_id, method, code=code, signature=signature, signer_device_id=signer_device_id
    )


def _audit_failure(ctx: Context, challenge: Challenge, method: str, reason: str) -> None:
    ctx.audit(
        "auth.step_up_failed",
        subject=challenge.user_id,
        outcome="failed",
        details={
            "challenge_id": challenge.id,
            "purpose": challenge.purpose,
            "method": method,
            "reason": reason,
            "attempts": challenge.attempts,
        },
    )


def _wrong_answer(
    ctx: Context,
    challenge: Challenge,
    method: str,
    code: str | None,
    signature: str | None,
    signer_device_id: str | None,
    settings: AuthSettings,
) -> str | None:
    """None if the answer is right, else why it is wrong (an error code)."""
    if method == stepup.TOTP:
        state = ctx.uow.auth.totp(challenge.user_id)
        if state is None or not state.confirmed or code is None:
            return "invalid_code"
        step = totp_step(ctx, state, code, settings)
        if step is None:
            return "invalid_code"
        ctx.uow.auth.save_totp(replace(state, last_step=step))
        return None
    if method == stepup.SMS:
        salt, stored = challenge.sms_salt or "", challenge.sms_hash or ""
        ok = code is not None and otp.sms_code_matches(code, salt, stored)
        return None if ok else "invalid_code"
    return _wrong_signature(ctx, challenge, signature, signer_device_id)


def _wrong_signature(
    ctx: Context, challenge: Challenge, signature: str | None, signer_device_id: str | None
) -> str | None:
    """A trusted device of the same user must have signed this challenge's nonce."""
    signer = ctx.uow.auth.device(signer_device_id) if signer_device_id else None
    if signer is None or signer.user_id != challenge.user_id or not signer.trusted:
        return "invalid_signature"
    message = keys.step_up_message(challenge.id, challenge.nonce)
    if signature is None or not keys.verify_signature(signer.public_key, message, signature):
        return "invalid_signature"
    ctx.uow.auth.update_device(signer.id, last_used_at=ctx.now())
    return None


def redeem_step_up(
    ctx: Context,
    user_id: str,
    challenge_id: str,
    purpose: str,
    *,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> Challenge:
    """Use a passed challenge for `purpose`, once; refused if it is someone else's, for
    something else, not passed, already used, or passed too long ago."""
    challenge = _load(ctx, challenge_id)
    problem = stepup.redemption_problem(challenge, user_id, purpose, ctx.now(), settings.step_up)
    if problem is not None:
        raise _refuse(problem)
    used = replace(challenge, status=ChallengeStatus.CONSUMED)
    ctx.uow.auth.save_challenge(used)
    return used
