"""One-time codes: TOTP (RFC 6238, via pyotp) and SMS codes.

TOTP: a 160-bit base32 secret, 6 digits, 30-second steps, accepted one step either side.
`totp_step` returns the step a code matched, so the service can refuse the same code (or
an older one) a second time — a code seen over a shoulder is then worthless.

SMS codes: 6 random digits. Only an HMAC-SHA256 of the code under a random per-challenge
salt is stored, so the codes do not sit readable in the database, backups or logs. A
6-digit space cannot resist an offline search of a stolen hash, so what actually protects
a code is its 5-minute life and the 5 attempts a challenge allows (domain/auth/stepup.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp

SMS_CODE_DIGITS = 6
TOTP_ISSUER = "guardpay"


def new_totp_secret() -> str:
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account_name: str, issuer: str = TOTP_ISSUER) -> str:
    """The otpauth:// URI an authenticator app scans (it contains the secret)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def totp_step(secret: str, code: str, at: datetime, window: int = 1) -> int | None:
    """The time step `code` is valid for within `window` steps of `at`, else None."""
    code = code.strip()
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = int(at.timestamp())
    for offset in range(-window, window + 1):
        moment = now + offset * totp.interval
        if moment >= 0 and hmac.compare_digest(totp.at(moment), code):
            return totp.timecode(moment)
    return None


def new_sms_code() -> str:
    return f"{secrets.randbelow(10**SMS_CODE_DIGITS):0{SMS_CODE_DIGITS}d}"


def new_salt() -> str:
    return secrets.token_hex(16)


def hash_sms_code(code: str, salt: str) -> str:
    return hmac.new(salt.encode(), code.strip().encode(), hashlib.sha256).hexdigest()


def sms_code_matches(code: str, salt: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_sms_code(code, salt), stored_hash)
