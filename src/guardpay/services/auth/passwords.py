"""Login and payment passwords: set, change, verify — and the payment lockout.

Both are argon2id hashes (security/passwords.py); a weak choice is refused with
`weak_password` and a reason. Verifying the payment password enforces the lockout: 5
wrong in 24 hours lock paying for 3 hours (`payment_locked`, even with the right password
during the lock), and a right one resets the count. A wrong password is recorded and
audited before the error is raised, so the edge must commit (see `services/auth/facade.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC
from typing import Literal

from guardpay.domain.auth import limits
from guardpay.domain.auth.passwords import login_password_problem, payment_password_problem
from guardpay.domain.auth.records import Credentials
from guardpay.domain.auth.settings import DEFAULT_SETTINGS, AuthSettings
from guardpay.errors import AuthenticationFailed, Conflict, InvalidRequest, PermissionDenied
from guardpay.security.passwords import hasher
from guardpay.services.auth import support
from guardpay.services.auth.sessions import revoke_all_sessions
from guardpay.services.platform.context import Context

_Kind = Literal["login", "payment"]
#: Per kind of password: the request field a weak choice is reported on, and the
#: `Conflict` code for setting a first one when one is set.
_PARAM: dict[_Kind, str] = {"login": "password", "payment": "payment_password"}
_ALREADY_SET: dict[_Kind, str] = {
    "login": "password_already_set",
    "payment": "payment_password_already_set",
}


def _credentials(ctx: Context, user_id: str) -> Credentials:
    return ctx.uow.auth.credentials(user_id) or Credentials(user_id)


def _unset_credentials(ctx: Context, user_id: str, kind: _Kind) -> Credentials:
    """The holder's credentials, to set a first `kind` password: refused (`Conflict`) once
    one is set, since setting, unlike changing, asks for no old password."""
    support.require_self(ctx, user_id)
    support.require_user(ctx, user_id)
    creds = _credentials(ctx, user_id)
    current = creds.login_hash if kind == "login" else creds.pay_hash
    if current is not None:
        raise Conflict(f"a {kind} password is already set", code=_ALREADY_SET[kind])
    return creds


def _check_strength(ctx: Context, user_id: str, kind: _Kind, secret: str) -> None:
    """`weak_password` if the policy of `kind` refuses `secret` for this user: a login
    password may not hold their phone number, a payment one their birth date."""
    if kind == "login":
        problem = login_password_problem(secret, phone=support.phone_of(ctx, user_id))
    else:
        problem = payment_password_problem(secret, birth_date=support.birth_date_of(ctx, user_id))
    if problem is not None:
        raise support.weak_password(problem, _PARAM[kind])


def set_login_password(ctx: Context, user_id: str, password: str) -> None:
    """The first login password (at registration); changing one needs the old one."""
    creds = _unset_credentials(ctx, user_id, "login")
    _check_strength(ctx, user_id, "login", password)
    now = ctx.now()
    ctx.uow.auth.save_credentials(
        replace(creds, login_hash=hasher().hash(password), login_changed_at=now)
    )
    ctx.audit("auth.password_changed", subject=user_id, details={"kind": "login", "first": True})


def verify_login_password(
    ctx: Context, user_id: str, password: str, *, settings: AuthSettings = DEFAULT_SETTINGS
) -> None:
    """Re-check the password of a signed-in user (before a sensitive change), under the
    same per-account and per-address limits as login."""
    account = support.account_key(ctx, user_id)
    support.check_login_limits(ctx, account, settings.login_limits)
    creds = ctx.uow.auth.credentials(user_id)
    ok = hasher().check(creds.login_hash if creds else None, password)
    if not ok:
        support.record_login_failure(ctx, account, settings.login_limits)
        ctx.audit(
            "auth.login_failed",
            subject=user_id,
            outcome="failed",
            details={"reason": "invalid_credentials", "during": "reauthentication"},
        )
        ctx.uow.keep()  # the failure counted
        raise AuthenticationFailed("the password is wrong", code="invalid_credentials")


def change_login_password(
    ctx: Context,
    user_id: str,
    old_password: str,
    new_password: str,
    *,
    current_session_id: str | None = None,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> list[str]:
    """Replace the login password; every other session ends. Returns their ids."""
    support.require_self(ctx, user_id)
    verify_login_password(ctx, user_id, old_password, settings=settings)
    _screen_change(ctx, user_id)
    if new_password == old_password:
        raise support.weak_password("the new password must differ from the old one", "password")
    _check_strength(ctx, user_id, "login", new_password)
    creds = _credentials(ctx, user_id)
    ctx.uow.auth.save_credentials(
        replace(creds, login_hash=hasher().hash(new_password), login_changed_at=ctx.now())
    )
    ctx.audit("auth.password_changed", subject=user_id, details={"kind": "login"})
    return revoke_all_sessions(ctx, user_id, "password_changed", keep=current_session_id)


def _screen_change(ctx: Context, user_id: str) -> None:
    """Risk control sees every credential change; a blocked user, device or IP is denied
    (the old password already proved the session's holder knows it)."""
    from guardpay.services.risk.screening import Subject, screen

    screen(ctx, user_id, Subject("password_change", "login_password"), None, stepped_up=True)


def set_payment_password(ctx: Context, user_id: str, pin: str) -> None:
    """The first payment password; changing it needs the old one."""
    creds = _unset_credentials(ctx, user_id, "payment")
    _check_strength(ctx, user_id, "payment", pin)
    _store_pin(ctx, creds, pin, first=True)


def change_payment_password(
    ctx: Context,
    user_id: str,
    old_pin: str,
    new_pin: str,
    *,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> None:
    support.require_self(ctx, user_id)
    verify_payment_password(ctx, user_id, old_pin, settings=settings)
    if new_pin == old_pin:
        raise support.weak_password(
            "the new payment password must differ from the old one", "payment_password"
        )
    _check_strength(ctx, user_id, "payment", new_pin)
    _store_pin(ctx, _credentials(ctx, user_id), new_pin, first=False)


def _store_pin(ctx: Context, creds: Credentials, pin: str, *, first: bool) -> None:
    _store_pin_hash(ctx, creds, hasher().hash(pin), first=first)


def seed_payment_password_hash(ctx: Context, user_id: str, pay_hash: str) -> None:
    """A first payment password given already hashed, stored and audited as a first one
    is, without the checks of `set_payment_password`. Only for filling a database with
    many people who share one password, hashed once (the simulator's set-up)."""
    _store_pin_hash(ctx, _credentials(ctx, user_id), pay_hash, first=True)


def _store_pin_hash(ctx: Context, creds: Credentials, hashed: str, *, first: bool) -> None:
    ctx.uow.auth.save_credentials(replace(creds, pay_hash=hashed, pay_changed_at=ctx.now()))
    ctx.audit(
        "auth.password_changed", subject=creds.user_id, details={"kind": "payment", "first": first}
    )


@dataclass(frozen=True)
class PinCheck:
    """A payment password already checked against one stored hash, outside the request's
    write transaction (`precheck_payment_password`)."""

    user_id: str
    pay_hash: str
    pin_mac: bytes
    right: bool


#: The request's pre-checked payment password, set by the edge before it opens the write
#: unit of work (api/deps.py): the ~60 ms argon2 verification then runs while no database
#: lock is held, instead of inside the transaction that holds SQLite's write lock.
PRECHECKED: ContextVar[PinCheck | None] = ContextVar("prechecked_payment_password", default=None)
_PIN_MAC_KEY = secrets.token_bytes(32)  # per process: a check never outlives it


def _pin_mac(pin: str) -> bytes:
    return hmac.new(_PIN_MAC_KEY, pin.encode(), hashlib.sha256).digest()


def precheck_payment_password(ctx: Context, user_id: str, pin: str) -> PinCheck | None:
    """Verify `pin` against the stored hash in a read-only unit of work. Decides nothing
    and records nothing: `verify_payment_password` uses the answer only if the hash is
    still the one checked, and does all the bookkeeping (lockout, failures) itself."""
    creds = ctx.uow.auth.credentials(user_id, lock=False)
    if creds is None or creds.pay_hash is None:
        return None
    return PinCheck(user_id, creds.pay_hash, _pin_mac(pin), hasher().verify(creds.pay_hash, pin))


def _is_right(creds: Credentials, pin: str) -> bool:
    assert creds.pay_hash is not None
    checked = PRECHECKED.get()
    if (
        checked is not None
        and checked.user_id == creds.user_id
        and checked.pay_hash == creds.pay_hash
        and hmac.compare_digest(checked.pin_mac, _pin_mac(pin))
    ):
        return checked.right
    return hasher().verify(creds.pay_hash, pin)


def verify_payment_password(
    ctx: Context, user_id: str, pin: str, *, settings: AuthSettings = DEFAULT_SETTINGS
) -> None:
    """Returns if `pin` is right and paying is not locked; raises otherwise."""
    creds = ctx.uow.auth.credentials(user_id)  # locked: concurrent guesses queue
    if creds is None or creds.pay_hash is None:
        raise InvalidRequest("no payment password is set", code="payment_password_not_set")
    now = ctx.now()
    if limits.is_locked(creds.pay_locked_until, now):
        ctx.audit("auth.payment_password_failed", subject=user_id, outcome="locked")
        ctx.uow.keep()
        raise _locked(creds)
    if _is_right(creds, pin):
        _payment_password_ok(ctx, creds, pin)
        return
    _payment_password_wrong(ctx, creds, settings)


def _payment_password_ok(ctx: Context, creds: Credentials, pin: str) -> None:
    """A right password resets the count (and re-hashes one made with older costs)."""
    ctx.uow.auth.clear_failures(support.PAYMENT, creds.user_id)
    stale = hasher().needs_rehash(creds.pay_hash or "")
    if creds.pay_locked_until is not None or stale:
        pay_hash = hasher().hash(pin) if stale else creds.pay_hash
        ctx.uow.auth.save_credentials(replace(creds, pay_locked_until=None, pay_hash=pay_hash))


def _payment_password_wrong(ctx: Context, creds: Credentials, settings: AuthSettings) -> None:
    policy, now, repo = settings.payment_lockout, ctx.now(), ctx.uow.auth
    repo.clear_failures(support.PAYMENT, creds.user_id, before=now - policy.window)
    repo.add_failure(support.PAYMENT, creds.user_id, now)
    failures = repo.count_failures(support.PAYMENT, creds.user_id, now - policy.window)
    left = limits.attempts_left(failures, policy)
    ctx.audit(
        "auth.payment_password_failed",
        subject=creds.user_id,
        outcome="failed",
        details={"failures": failures, "attempts_left": left},
    )
    until = limits.lock_after_failure(failures, now, policy)
    if until is None:
        ctx.uow.keep()  # the failure counted
        raise AuthenticationFailed(
            f"the payment password is wrong; {left} attempts left before paying is locked",
            code="invalid_payment_password",
        )
    locked = replace(creds, pay_locked_until=until)
    repo.save_credentials(locked)
    repo.clear_failures(support.PAYMENT, creds.user_id)  # a fresh count after the lock
    ctx.audit(
        "auth.payment_locked",
        subject=creds.user_id,
        outcome="locked",
        details={"until": until.isoformat(), "failures": failures},
    )
    ctx.uow.keep()  # the lockout
    raise _locked(locked)


def require_payment_unlocked(ctx: Context, user_id: str) -> None:
    """Paying by any factor stops while the payment password is locked: someone has been
    guessing it, and the lock is the owner's protection until it ends."""
    creds = ctx.uow.auth.credentials(user_id)
    if creds is not None and limits.is_locked(creds.pay_locked_until, ctx.now()):
        raise _locked(creds)


def _locked(creds: Credentials) -> PermissionDenied:
    until = creds.pay_locked_until
    when = until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if until else "later"
    return PermissionDenied(
        f"too many wrong payment passwords: paying is locked until {when}",
        code="payment_locked",
    )


def payment_locked_until(ctx: Context, user_id: str) -> str | None:
    """When the payment lock ends (ISO 8601), or None if paying is not locked."""
    creds = ctx.uow.auth.credentials(user_id)
    if creds is None or not limits.is_locked(creds.pay_locked_until, ctx.now()):
        return None
    assert creds.pay_locked_until is not None
    return creds.pay_locked_until.isoformat()
