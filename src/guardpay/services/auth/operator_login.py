"""Operators sign in: a password, then a code from their authenticator app.

- `operator_login` (the API's `POST /v1/operator/sessions`): name, password and, once the
  operator has an authenticator, its code, in one call.
- The console's two steps. `password_step` checks the password and hands back a pending
  sign-in: a session of kind `operator_mfa`, which authorises nothing else, good for five
  minutes. An operator without an authenticator sets one up first (`enrol`): with the
  one-time enrolment code an admin issued them (`issue_enrolment`, shown once, valid a
  day), so a stolen password alone cannot enrol an attacker's phone; the first code from
  the new authenticator confirms it. `second_step` checks the code and turns the pending
  sign-in into a console session of twelve hours at most.
- `passed_second_factor`: the console admits only sessions that passed the code: the
  operator's authenticator is confirmed and the session began after that (an API
  session begun before the operator had one was never asked for a code).
- `reset_authenticator`: an operator who lost their phone. An admin (never for
  themselves: another admin, or the server's CLI) gives a reason; the authenticator is
  removed, the operator's sessions end, and a fresh enrolment code is issued for them to
  set up the new phone. No four-eyes: a reset alone opens nothing (the password is still
  needed, and the code is handed over in person), and it is audited with its reason.

Wrong passwords and wrong codes count alike toward the login limits (support.py), are
audited, and commit (`UnitOfWork.keep`). A code is accepted once: an older or reused one
is refused (`TotpState.last_step`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

from guardpay.domain.auth.records import Operator, TotpState
from guardpay.domain.auth.roles import Role
from guardpay.domain.auth.sessions import OPERATOR, IssuedSession, Session
from guardpay.domain.auth.settings import DEFAULT_SETTINGS, SCREEN_SESSIONS, AuthSettings
from guardpay.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from guardpay.security import otp
from guardpay.security.passwords import hasher
from guardpay.services.auth import support
from guardpay.services.auth.devices import TOTP_FIELD, TotpEnrolment, totp_step
from guardpay.services.auth.sessions import authenticate, issue_session
from guardpay.services.platform.access import require_role
from guardpay.services.platform.context import Context

PENDING = "operator_mfa"
PENDING_FOR = timedelta(minutes=5)
ENROLMENT_FOR = timedelta(days=1)


@dataclass(frozen=True)
class PendingLogin:
    issued: IssuedSession
    enrolled: bool  # whether the operator has a confirmed authenticator


def operator_login(
    ctx: Context,
    name: str,
    password: str,
    totp_code: str | None = None,
    *,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> IssuedSession:
    """A console session in one call: the code is asked for once an authenticator is set."""
    operator = check_password(ctx, name, password, settings)
    state = ctx.uow.auth.totp(operator.id, operator=True)
    if state is not None and state.confirmed:
        if totp_code is None:
            ctx.audit("auth.login_failed", subject=operator.id, outcome="totp_required")
            ctx.uow.keep()
            raise AuthenticationFailed(
                "this operator signs in with a code from their authenticator app too",
                code="totp_required",
                param="totp_code",
            )
        _check_code(ctx, operator, state, totp_code, settings)
    return _signed_in(ctx, operator, settings)


def check_password(ctx: Context, name: str, password: str, settings: AuthSettings) -> Operator:
    login = name.strip().lower()
    account = _account(login)
    _within_limits(ctx, account, login, settings)
    operator = ctx.uow.auth.operator_by_name(login)
    usable = operator is not None and operator.disabled_at is None
    ok = hasher().check(operator.password_hash if usable and operator else None, password)
    if operator is None or not ok:
        _failed(ctx, account, operator.id if operator else None, {"operator": login}, settings)
        raise AuthenticationFailed("the name or the password is wrong", code="invalid_credentials")
    return operator


def password_step(
    ctx: Context, name: str, password: str, *, settings: AuthSettings = DEFAULT_SETTINGS
) -> PendingLogin:
    """The console's first step: a pending sign-in, for the second."""
    operator = check_password(ctx, name, password, settings)
    issued = issue_session(ctx, PENDING, operator.id, settings=settings)
    state = ctx.uow.auth.totp(operator.id, operator=True)
    ctx.audit("auth.password_verified", subject=operator.id, details={"next": "totp"})
    return PendingLogin(issued, state is not None and state.confirmed)


def issue_enrolment(ctx: Context, operator_id: str) -> str:
    """A one-time code with which the operator sets up their authenticator (an admin's,
    or the system's for the first admin): shown once, kept as its SHA-256, valid a day.
    Refused for an operator whose authenticator is confirmed (no silent replacement)."""
    operator = _admins_target(ctx, operator_id)
    state = ctx.uow.auth.totp(operator.id, operator=True)
    if state is not None and state.confirmed:
        raise Conflict(
            "an authenticator app is already set up: reset it if the phone is lost",
            code="totp_already_enrolled",
        )
    return _new_enrolment(ctx, operator)


def reset_authenticator(ctx: Context, operator_id: str, reason: str) -> str:
    """Remove the operator's authenticator, end their sessions, and issue the enrolment
    code for the new one (see the module)."""
    operator = _admins_target(ctx, operator_id)
    if ctx.actor.kind == "operator" and ctx.actor.id == operator.id:
        raise PermissionDenied(
            "another admin resets your authenticator", code="own_reset", param="operator_id"
        )
    if not reason.strip():
        raise InvalidRequest("say why the authenticator is reset", code="reason_required")
    ctx.uow.auth.totp(operator.id, operator=True)  # locked: a sign-in waits for the reset
    ctx.uow.auth.drop_operator_totp(operator.id)
    ended = [
        *ctx.uow.auth.revoke_sessions(OPERATOR, operator.id, ctx.now(), "totp_reset"),
        *ctx.uow.auth.revoke_sessions(PENDING, operator.id, ctx.now(), "totp_reset"),
    ]
    details = {"reason": reason.strip(), "sessions_ended": len(ended)}
    ctx.audit("operator.totp_reset", subject=operator.id, details=details)
    return _new_enrolment(ctx, operator)


def authenticator_set(ctx: Context) -> set[str]:
    """The operators with a confirmed authenticator (the console's operators page)."""
    require_role(ctx, Role.ADMIN)
    return ctx.uow.auth.operators_with_totp()


def _admins_target(ctx: Context, operator_id: str) -> Operator:
    if ctx.actor.kind != "system":
        require_role(ctx, Role.ADMIN)
    operator = ctx.uow.auth.operator(operator_id)
    if operator is None:
        raise NotFound("no such operator", param="operator_id")
    return operator


def _new_enrolment(ctx: Context, operator: Operator) -> str:
    code = secrets.token_urlsafe(9)
    expires = ctx.now() + ENROLMENT_FOR
    ctx.uow.auth.set_enrolment(operator.id, _hashed(code), ctx.actor.label, expires)
    ctx.audit("operator.enrolment_issued", subject=operator.id)
    return code


def enrol(ctx: Context, pending_token: str, enrolment_code: str) -> TotpEnrolment:
    """A new authenticator secret for an operator who has none confirmed yet, against the
    enrolment code an admin issued them (used up by it)."""
    _, operator = pending(ctx, pending_token)
    state = ctx.uow.auth.totp(operator.id, operator=True)
    if state is not None and state.confirmed:
        raise Conflict("an authenticator app is already set up", code="totp_already_enrolled")
    if not ctx.uow.auth.take_enrolment(operator.id, _hashed(enrolment_code.strip()), ctx.now()):
        details = {"operator": operator.name, "factor": "enrolment_code"}
        _failed(ctx, _account(operator.name), operator.id, details, DEFAULT_SETTINGS)
        raise AuthenticationFailed(
            "the enrolment code is wrong or expired: ask an admin for a new one",
            code="invalid_enrolment_code",
            param="enrolment_code",
        )
    secret = otp.new_totp_secret()
    token = ctx.vault.encrypt(operator.id, TOTP_FIELD, secret)
    ctx.uow.auth.save_totp(TotpState(operator.id, token, ctx.now()), operator=True)
    ctx.audit("operator.totp_enrolled", subject=operator.id, outcome="started")
    return TotpEnrolment(otp.provisioning_uri(secret, f"{operator.name} (console)"))


def second_step(
    ctx: Context, pending_token: str, code: str, *, settings: AuthSettings = DEFAULT_SETTINGS
) -> IssuedSession:
    """The code: a console session, and the pending sign-in ended."""
    session, operator = pending(ctx, pending_token)
    state = ctx.uow.auth.totp(operator.id, operator=True)
    if state is None:
        raise InvalidRequest("set up an authenticator app first", code="totp_not_enrolled")
    _check_code(ctx, operator, state, code, settings)
    ctx.uow.auth.revoke_sessions(PENDING, operator.id, ctx.now(), "completed", only=session.id)
    return _signed_in(ctx, operator, replace(settings, sessions=SCREEN_SESSIONS))


def passed_second_factor(ctx: Context, session: Session) -> bool:
    """Whether an operator session was asked for the code (see the module)."""
    state = ctx.uow.auth.totp(session.subject_id, operator=True, lock=False)
    confirmed = None if state is None else state.confirmed_at
    return confirmed is not None and session.created_at >= confirmed


def pending(ctx: Context, token: str) -> tuple[Session, Operator]:
    """The pending sign-in a token stands for, while it lasts, and its operator."""
    session = authenticate(ctx, token)
    operator = ctx.uow.auth.operator(session.subject_id)
    fresh = session.created_at + PENDING_FOR > ctx.now()
    if session.subject_kind != PENDING or not fresh or operator is None:
        raise AuthenticationFailed("sign in again", code="login_expired")
    if operator.disabled_at is not None:
        raise AuthenticationFailed("the name or the password is wrong", code="invalid_credentials")
    return session, operator


def _check_code(
    ctx: Context, operator: Operator, state: TotpState, code: str, settings: AuthSettings
) -> None:
    account = _account(operator.name)
    _within_limits(ctx, account, operator.name, settings)
    step = totp_step(ctx, state, code.strip(), settings)
    if step is None:
        details = {"operator": operator.name, "factor": "totp"}
        _failed(ctx, account, operator.id, details, settings)
        raise AuthenticationFailed("the code is not valid", code="invalid_code", param="code")
    confirmed = state.confirmed_at or ctx.now()
    ctx.uow.auth.save_totp(replace(state, confirmed_at=confirmed, last_step=step), operator=True)
    if state.confirmed_at is None:
        ctx.audit("operator.totp_enrolled", subject=operator.id)


def _signed_in(ctx: Context, operator: Operator, settings: AuthSettings) -> IssuedSession:
    ctx.uow.auth.clear_failures(support.LOGIN_ACCOUNT, _account(operator.name))
    issued = issue_session(ctx, OPERATOR, operator.id, settings=settings)
    ctx.audit("auth.login", subject=operator.id, details={"session_id": issued.session.id})
    return issued


def _hashed(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _account(login: str) -> str:
    return f"operator:{login}"


def _within_limits(ctx: Context, account: str, login: str, settings: AuthSettings) -> None:
    try:
        support.check_login_limits(ctx, account, settings.login_limits)
    except RateLimited:
        ctx.audit("auth.login_failed", outcome="rate_limited", details={"operator": login})
        ctx.uow.keep()
        raise


def _failed(
    ctx: Context,
    account: str,
    operator_id: str | None,
    details: dict[str, str],
    settings: AuthSettings,
) -> None:
    support.record_login_failure(ctx, account, settings.login_limits)
    ctx.audit("auth.login_failed", subject=operator_id, outcome="failed", details=details)
    ctx.uow.keep()  # the failure counted
