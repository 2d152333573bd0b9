"""Device keys: Ed25519 public keys registered by the app, and signatures made with them.

The private key never leaves the phone (a hardware-backed keystore unlocked by the
biometric prompt). The server keeps the raw 32-byte public key as unpadded base64url and
checks signatures over two kinds of message, each prefixed so that a signature made for
one purpose can never be replayed for another:

- `guardpay-stepup:{challenge_id}:{nonce}` answers a step-up challenge;
- `guardpay-login:{public_key}:{unix_seconds}` proves, at login, that the caller holds the
  key of the device it claims to be (the timestamp must be fresh and increasing);
- `guardpay-pay:{unix_seconds}:{idempotency_key}:{METHOD} {path}:{sha256(body)}` authorises
  one payment request as sent (the amount, the payee, everything in the body), once: the
  Idempotency-Key is spent by the first request, and the time must be fresh.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from datetime import datetime
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from guardpay.errors import InvalidRequest

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Decode base64url with or without padding; ValueError if it is not base64url."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def parse_public_key(text: str) -> Ed25519PublicKey:
    try:
        raw = unb64url(text.strip())
        if len(raw) != PUBLIC_KEY_BYTES or raw == bytes(PUBLIC_KEY_BYTES):
            raise ValueError("wrong length")
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise InvalidRequest(
            "the device key must be a raw 32-byte Ed25519 public key in base64url",
            code="invalid_device_key",
            param="public_key",
        ) from None


def canonical_public_key(text: str) -> str:
    """The one spelling stored and compared: unpadded base64url of the raw key."""
    return b64url(parse_public_key(text).public_bytes_raw())


def verify_signature(public_key: str, message: bytes, signature: str) -> bool:
    """True only if `signature` (base64url) is `public_key`'s Ed25519 signature of it."""
    try:
        raw = unb64url(signature.strip())
    except ValueError:
        return False
    if len(raw) != SIGNATURE_BYTES:
        return False
    try:
        _stored_key(public_key).verify(raw, message)
    except (InvalidSignature, InvalidRequest):
        return False
    return True


@lru_cache(maxsize=65_536)
def _stored_key(public_key: str) -> Ed25519PublicKey:
    """A stored key, parsed once per process: every payment a device signs is checked
    against the same key. Keyed by the key's own text, so nothing needs invalidating
    when a device is revoked or its key rotated: whether the key may sign at all is the
    device row's (`trusted`), read in the request's transaction before the check. A key
    that does not parse raises each time (lru_cache keeps no exceptions)."""
    return parse_public_key(public_key)


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def step_up_message(challenge_id: str, nonce: str) -> bytes:
    return f"guardpay-stepup:{challenge_id}:{nonce}".encode()


def login_message(public_key: str, at: int) -> bytes:
    return f"guardpay-login:{public_key}:{at}".encode()


def login_proof_fresh(at: int, now: datetime, skew_seconds: float, last_seen: int | None) -> bool:
    """A login proof's timestamp is near the server clock and later than the last one
    accepted from this device, so a captured proof cannot be replayed."""
    if abs(now.timestamp() - at) > skew_seconds:
        return False
    return last_seen is None or at > last_seen


def payment_message(
    signed_at: int, idempotency_key: str, method: str, path: str, body: bytes
) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"guardpay-pay:{signed_at}:{idempotency_key}:{method} {path}:{digest}".encode()
