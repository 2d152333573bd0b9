"""Platform-signed QR payloads: a merchant's static code and single-use order codes.

A payload is `GPQ1.<claims>.<signature>`: the claims are canonical JSON (sorted keys, no
spaces) in base64url, the signature HMAC-SHA256 over `GPQ1.<claims>` under the platform's
QR key, also base64url. The claims name the key's version, so the key can be rotated
while printed static codes and open order codes stay valid under the version that signed
them (until that version is destroyed). Signing the static code too means a sticker swapped onto a
counter ("QR code swap" fraud) cannot name a merchant the platform did not issue.

`verify` tells the three attacks apart, because each needs a different response:
- `qr_signature_invalid`: not ours, or altered (amount, merchant, expiry changed);
- `qr_expired`: genuine but past its expiry;
- `qr_already_used` (raised by `check_unused`): a genuine order code paid once already.
The key is compared in constant time; nothing about the key leaks through the errors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from guardpay.errors import PermissionDenied

PREFIX = "GPQ1"
STATIC = "static"
ORDER = "order"
_MESSAGES = {
    "qr_signature_invalid": "this QR code was not issued by the platform or was altered",
    "qr_expired": "this QR code has expired",
    "qr_already_used": "this QR code was already paid",
}


class QrRejected(PermissionDenied):
    """A QR code refused for a security reason; the service keeps the security event it
    records before raising it (services/payments/qr.py `_reject`, `UnitOfWork.keep`)."""

    def __init__(self, code: str) -> None:
        super().__init__(_MESSAGES[code], code=code, param="payload")


@dataclass(frozen=True)
class QrClaims:
    """What a code asserts. Static codes carry no order, amount or expiry (0 / "")."""

    kind: str
    merchant_id: str
    nonce: str
    order_id: str = ""
    amount: int = 0
    currency: str = ""
    expires_at: int = 0  # unix seconds
    key_version: int = 1  # which version of the platform's QR key signed it


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, signed: str) -> bytes:
    return hmac.new(key, signed.encode(), hashlib.sha256).digest()


def sign(key: bytes, claims: QrClaims) -> str:
    body = _b64(json.dumps(asdict(claims), sort_keys=True, separators=(",", ":")).encode())
    signed = f"{PREFIX}.{body}"
    return f"{signed}.{_b64(_mac(key, signed))}"


def _claims(body: str) -> QrClaims:
    data = json.loads(_unb64(body))
    claims = QrClaims(**data)  # a code from before key versions names none: version 1
    if claims.kind not in (STATIC, ORDER) or type(claims.amount) is not int:
        raise ValueError("bad claims")
    if type(claims.key_version) is not int or claims.key_version < 1:
        raise ValueError("bad key version")
    return claims


def verify(key_for: Callable[[int], bytes | None], payload: str, now: datetime) -> QrClaims:
    """The claims of a genuine, unexpired code; `QrRejected` otherwise. `key_for(version)`
    is the QR key of that version, or None: the version the claims name is read before
    the signature is checked, but a code that names another version than the one that
    signed it fails the check, so it only chooses which key to try."""
    prefix, _, rest = payload.strip().partition(".")
    body, _, signature = rest.partition(".")
    try:
        unchecked = _claims(body)
        key = key_for(unchecked.key_version)
        given = _unb64(signature)
        ok = (
            key is not None
            and prefix == PREFIX
            and hmac.compare_digest(given, _mac(key, f"{prefix}.{body}"))
        )
        claims = unchecked if ok else None
    except (ValueError, TypeError, binascii.Error):
        claims = None
    if claims is None:
        raise QrRejected("qr_signature_invalid")
    if claims.kind == ORDER and now.timestamp() >= claims.expires_at:
        raise QrRejected("qr_expired")
    return claims


def check_unused(already_paid: bool) -> None:
    """An order code pays once; a second scan is a replay."""
    if already_paid:
        raise QrRejected("qr_already_used")
