"""Devices a user logs in from, each holding an Ed25519 key pair, and TOTP enrolment.

A device is registered (bound to one user) the first time it proves, at login, that it
holds its private key; it is *trusted* only once a step-up passes for that login. Later
logins from it need no step-up — but only with a fresh signed proof, so knowing a
device's id or public key (neither is secret) is not enough to pass as it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from guardpay.domain.auth.records import Device, TotpState
from guardpay.domain.auth.settings import DEFAULT_SETTINGS, AuthSettings
from guardpay.errors import AuthenticationFailed, Conflict, InvalidRequest, NotFound
from guardpay.security import devices as keys
from guardpay.security import otp
from guardpay.security.tokens import new_id
from guardpay.services.auth.passwords import require_payment_unlocked
from guardpay.services.auth.support import masked_phone, require_self, require_user
from guardpay.services.platform.context import Context

DEVICE_NAME_MAX = 80
TOTP_FIELD = "totp_secret"


@dataclass(frozen=True)
class DeviceProof:
    """What the app sends with a login: its public key, the unix time, and its signature
    of `guardpay-login:{public_key}:{signed_at}` (security/devices.py)."""

    public_key: str
    signed_at: int
    signature: str
    name: str = ""


def register_device(ctx: Context, user_id: str, public_key: str, name: str = "") -> Device:
    """Bind a device key to the user, untrusted; the same key again returns the same
    device."""
    key = keys.canonical_public_key(public_key)
    require_user(ctx, user_id)
    existing = ctx.uow.auth.device_by_key(user_id, key)
    if existing is not None:
        return existing
    device = Device(new_id("dev"), user_id, key, _device_name(name), ctx.now())
    ctx.uow.auth.add_device(device)
    ctx.audit(
        "device.registered", subject=user_id, details={"device_id": device.id, "name": device.name}
    )
    return device


def _device_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if len(cleaned) > DEVICE_NAME_MAX:
        raise InvalidRequest(
            f"a device name has at most {DEVICE_NAME_MAX} characters",
            code="invalid_device_name",
            param="name",
        )
    return cleaned


def proven_device(
    ctx: Context, user_id: str, proof: DeviceProof | None, settings: AuthSettings
) -> Device | None:
    """The user's device that signed this login proof (registered now if new), or None
    if there is no proof or it is not a fresh, valid signature."""
    if proof is None:
        return None
    key = keys.canonical_public_key(proof.public_key)
    message = keys.login_message(key, proof.signed_at)
    if not keys.verify_signature(key, message, proof.signature):
        return None
    device = register_device(ctx, user_id, key, proof.name)
    skew = settings.step_up.device_clock_skew.total_seconds()
    if device.revoked_at is not None or not keys.login_proof_fresh(
        proof.signed_at, ctx.now(), skew, device.last_proof_at
    ):
        return None
    ctx.uow.auth.update_device(device.id, last_proof_at=proof.signed_at, last_used_at=ctx.now())
    return replace(device, last_proof_at=proof.signed_at, last_used_at=ctx.now())


@dataclass(frozen=True)
class PaymentSignature:
    """A payment request signed by the phone that sends it (the biometric prompt releases
    the device key): the message the edge rebuilt from the request as received
    (security/devices.py `payment_message`), its unix time and the signature."""

    message: bytes = field(repr=False)
    signed_at: int
    signature: str = field(repr=False)


def verify_payment_signature(
    ctx: Context,
    user_id: str,
    device_id: str | None,
    proof: PaymentSignature,
    settings: AuthSettings = DEFAULT_SETTINGS,
) -> None:
    """One payment factor: the session's own trusted device signed this very request,
    recently. A failure is audited (committed, as every authentication failure) and
    raises; guessing is hopeless (Ed25519), so there is no failure counter to lock."""
    require_payment_unlocked(ctx, user_id)
    device = ctx.uow.auth.device(device_id) if device_id else None
    problem = _payment_signature_problem(ctx, user_id, device, proof, settings)
    if problem is None:
        return
    ctx.audit(
        "auth.payment_signature_failed",
        subject=user_id,
        outcome="failed",
        details={"device_id": device_id, "reason": problem},
    )
    ctx.uow.keep()
    raise AuthenticationFailed(_SIGNATURE_PROBLEMS[problem], code=problem)


_SIGNATURE_PROBLEMS = {
    "device_not_trusted": "this session's device is not a trusted device of yours",
    "signature_expired": "the payment signature is too old (or from the future): sign again",
    "invalid_signature": "the payment signature does not match this request",
}


def _payment_signature_problem(
    ctx: Context,
    user_id: str,
    device: Device | None,
    proof: PaymentSignature,
    settings: AuthSettings,
) -> str | None:
    if device is None or device.user_id != user_id or not device.trusted:
        return "device_not_trusted"
    skew = settings.step_up.device_clock_skew.total_seconds()
    if abs(ctx.now().timestamp() - proof.signed_at) > skew:
        return "signature_expired"
    if not keys.verify_signature(device.public_key, proof.message, proof.signature):
        return "invalid_signature"
    return None


def trust_device(ctx: Context, device: Device, method: str) -> Device:
    trusted = replace(device, trusted_at=ctx.now())
    ctx.uow.auth.update_device(device.id, trusted_at=trusted.trusted_at)
    ctx.audit(
        "device.trusted", subject=device.user_id, details={"device_id": device.id, "method": method}
    )
    return trusted


def list_devices(ctx: Context, user_id: str) -> list[Device]:
    require_self(ctx, user_id)
    return [d for d in ctx.uow.auth.devices_of(user_id) if d.revoked_at is None]


def revoke_device(ctx: Context, user_id: str, device_id: str) -> None:
    """Untrust and retire a device (a lost phone); the sessions on it end too."""
    require_self(ctx, user_id)
    device = ctx.uow.auth.device(device_id)
    if device is None or device.user_id != user_id:
        raise NotFound("no such device", param="device_id")
    if device.revoked_at is not None:
        return
    ctx.uow.auth.update_device(device_id, revoked_at=ctx.now())
    ended = ctx.uow.auth.revoke_sessions(
        "user", user_id, ctx.now(), "device_revoked", device_id=device_id
    )
    ctx.audit("device.revoked", subject=user_id, details={"device_id": device_id})
    if ended:
        ctx.audit(
            "auth.session_revoked",
            subject=user_id,
            details={"sessions": ended, "reason": "device_revoked"},
        )


def trusted_device_count(ctx: Context, user_id: str) -> int:
    return sum(d.trusted for d in ctx.uow.auth.devices_of(user_id))


# -- TOTP ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TotpEnrolment:
    """Shown once, for the authenticator app to scan; it contains the secret."""

    provisioning_uri: str

    def __repr__(self) -> str:
        return "TotpEnrolment(provisioning_uri='[redacted]')"


def enrol_totp(ctx: Context, user_id: str) -> TotpEnrolment:
    """Start (or restart) TOTP enrolment; it counts only after `confirm_totp`."""
    require_self(ctx, user_id)
    require_user(ctx, user_id)
    state = ctx.uow.auth.totp(user_id)
    if state is not None and state.confirmed:
        raise Conflict("an authenticator app is already enrolled", code="totp_already_enrolled")
    secret = otp.new_totp_secret()
    token = ctx.vault.encrypt(user_id, TOTP_FIELD, secret)
    ctx.uow.auth.save_totp(TotpState(user_id, token, ctx.now()))
    label = masked_phone(ctx, user_id) or user_id
    ctx.audit("totp.enrolled", subject=user_id, outcome="started")
    return TotpEnrolment(otp.provisioning_uri(secret, label))


def confirm_totp(
    ctx: Context, user_id: str, code: str, *, settings: AuthSettings = DEFAULT_SETTINGS
) -> None:
    """The first code from the app proves it holds the secret; from now on TOTP is offered."""
    require_self(ctx, user_id)
    state = ctx.uow.auth.totp(user_id)
    if state is None:
        raise InvalidRequest("start the enrolment first", code="totp_not_enrolled")
    if state.confirmed:
        raise Conflict("an authenticator app is already enrolled", code="totp_already_enrolled")
    step = totp_step(ctx, state, code, settings)
    if step is None:
        ctx.audit("totp.enrolled", subject=user_id, outcome="failed")
        ctx.uow.keep()
        raise AuthenticationFailed("the code is not valid", code="invalid_code")
    ctx.uow.auth.save_totp(replace(state, confirmed_at=ctx.now(), last_step=step))
    ctx.audit("totp.enrolled", subject=user_id)


def totp_step(ctx: Context, state: TotpState, code: str, settings: AuthSettings) -> int | None:
    """The step the code matched if it is valid and newer than any code used before."""
    secret = ctx.vault.decrypt(state.user_id, TOTP_FIELD, state.secret_token)
    step = otp.totp_step(secret, code, ctx.now(), settings.step_up.totp_window)
    if step is None or (state.last_step is not None and step <= state.last_step):
        return None
    return step
