"""User login: phone and password, device binding, and the step-up a new device needs.

1. Limits first: 5 failures per account (the phone's blind index) and 20 per client
   address in 15 minutes, then `too_many_attempts` — before the password is looked at.
2. The password, with the same error and (by hashing a decoy) about the same time
   whether or not the phone has an account, so login does not reveal who is registered.
3. The device: a login may carry a `DeviceProof` (its Ed25519 key's signature of a fresh
   timestamp). From a trusted device that proved itself, a session is issued at once;
   otherwise `StepUpRequired` names the methods and a challenge, and `complete_login`
   with a right answer trusts the device (if one proved itself) and issues the session.
"""

from __future__ import annotations

from dataclasses import replace

from guardpay.domain.auth.sessions import USER, IssuedSession
from guardpay.domain.auth.settings import DEFAULT_SETTINGS, AuthSettings
from guardpay.domain.auth.stepup import LOGIN
from guardpay.domain.identity.masking import mask_phone
from guardpay.domain.identity.phone import normalize_phone
from guardpay.errors import AuthenticationFailed, RateLimited
from guardpay.security.devices import canonical_public_key
from guardpay.security.passwords import hasher
from guardpay.services.auth import support
from guardpay.services.auth.devices import DeviceProof, proven_device, trust_device
from guardpay.services.auth.sessions import issue_session
from guardpay.services.auth.stepup import pass_step_up, redeem_step_up, step_up
from guardpay.services.platform.context import Context

INVALID = "the phone number or the password is wrong"


def login(
    ctx: Context,
    phone: str,
    password: str,
    *,
    device: DeviceProof | None = None,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> IssuedSession:
    """A session for a right phone and password from a trusted device; see the module."""
    shown = {"account": mask_phone(normalize_phone(phone))}
    if device is not None:  # a malformed key is bad input, refused before anything else
        canonical_public_key(device.public_key)
    account = support.phone_index(ctx, phone)
    try:
        support.check_login_limits(ctx, account, settings.login_limits)
    except RateLimited:
        ctx.audit("auth.login_failed", outcome="rate_limited", details=shown)
        ctx.uow.keep()
        raise
    user_id = support.user_for_phone_index(ctx, account)
    if not _password_ok(ctx, user_id, password) or user_id is None:
        support.record_login_failure(ctx, account, settings.login_limits)
        ctx.audit(
            "auth.login_failed",
            subject=user_id,
            outcome="failed",
            details={**shown, "reason": "invalid_credentials"},
        )
        ctx.uow.keep()  # the failure counted
        raise AuthenticationFailed(INVALID, code="invalid_credentials")
    ctx.uow.auth.clear_failures(support.LOGIN_ACCOUNT, account)
    known = proven_device(ctx, user_id, device, settings)
    risky = _risky(ctx, user_id, None if known is None else known.id)  # deny raises here
    if known is None or not known.trusted or risky:
        step_up(ctx, user_id, LOGIN, device_id=known.id if known else None, settings=settings)
    issued = issue_session(ctx, USER, user_id, device_id=known.id, settings=settings)
    ctx.audit(
        "auth.login",
        subject=user_id,
        details={"session_id": issued.session.id, "device_id": known.id},
    )
    return issued


def _risky(ctx: Context, user_id: str, device_id: str | None) -> bool:
    """Risk control sees every login with a right password, from any device: `deny`
    refuses it (a blocked user, device or IP); `challenge` or `review` asks for the login
    step-up even on a trusted device (a new device always gets one)."""
    from guardpay.domain.risk.decision import Action
    from guardpay.services.risk.screening import Subject, screen

    acting = ctx.as_actor(replace(ctx.actor, device_id=device_id))
    subject = Subject("login", "login")
    verdict = screen(acting, user_id, subject, None, stepped_up=True, learn=False)
    return verdict.decision.action in (Action.CHALLENGE, Action.REVIEW)


def _password_ok(ctx: Context, user_id: str | None, password: str) -> bool:
    """Whether it is the user's password. Without a user (or a password) a decoy hash is
    verified instead, so an unknown phone takes as long as a wrong password."""
    creds = ctx.uow.auth.credentials(user_id) if user_id is not None else None
    stored = creds.login_hash if creds is not None else None
    if not hasher().check(stored, password):  # no account: a decoy, same time
        return False
    assert creds is not None
    assert stored is not None
    if hasher().needs_rehash(stored):  # the cost was raised since it was hashed
        ctx.uow.auth.save_credentials(replace(creds, login_hash=hasher().hash(password)))
    return True


def complete_login(
    ctx: Context,
    challenge_id: str,
    method: str,
    *,
    code: str | None = None,
    signature: str | None = None,
    signer_device_id: str | None = None,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> IssuedSession:
    """Answer the step-up a login asked for; on success the device that proved itself at
    login is trusted from now on, and the session is issued."""
    challenge = pass_step_up(
        ctx,
        challenge_id,
        method,
        code=code,
        signature=signature,
        signer_device_id=signer_device_id,
        purpose=LOGIN,
        settings=settings,
    )
    redeem_step_up(ctx, challenge.user_id, challenge.id, LOGIN, settings=settings)
    device = ctx.uow.auth.device(challenge.device_id) if challenge.device_id else None
    if device is not None and device.revoked_at is None and not device.trusted:
        device = trust_device(ctx, device, method)
    device_id = device.id if device is not None and device.trusted else None
    issued = issue_session(ctx, USER, challenge.user_id, device_id=device_id, settings=settings)
    ctx.audit(
        "auth.login",
        subject=challenge.user_id,
        details={"session_id": issued.session.id, "device_id": device_id, "step_up": method},
    )
    return issued
