"""Customer payment codes: the 18-digit number a payer shows and a terminal scans.

Like TOTP (RFC 6238) but longer: HMAC-SHA256 of the 30-second time step under a
per-device secret, dynamically truncated (RFC 4226 §5.3, widened to 8 bytes) to 16
digits, after the fixed prefix "28" that tells a terminal this is a guardpay code (as
"25"-"30" mark Alipay's). 16 digits make guessing a live code hopeless (10^-16 a try),
the device secret means a code cannot be made without the phone, and a code is good for
at most 60 seconds and for one payment: the service stores each issued code hashed and
marks it used in the same transaction as the payment.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

PREFIX = "28"
DIGITS = 18
STEP_SECONDS = 30
TTL = timedelta(seconds=60)
#: A code on screen is replaced by a fresh one in its last seconds (so a till never
#: scans one about to die), for this long after the payer showed their factors: after
#: it, the phone asks for the payment password again.
REFRESH_BEFORE = timedelta(seconds=20)
SHOW_WINDOW = timedelta(minutes=5)


def time_step(at: datetime, step_seconds: int = STEP_SECONDS) -> int:
    return int(at.timestamp()) // step_seconds


def derive_code(secret: bytes, step: int) -> str:
    mac = hmac.new(secret, step.to_bytes(8, "big"), hashlib.sha256).digest()
    offset = mac[-1] & 0x0F
    number = int.from_bytes(mac[offset : offset + 8], "big") & (2**63 - 1)
    body = number % 10 ** (DIGITS - len(PREFIX))
    return f"{PREFIX}{body:0{DIGITS - len(PREFIX)}d}"


def well_formed(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit() and code.startswith(PREFIX)


def code_hash(code: str) -> str:
    """How an issued code is stored: a terminal's scan is looked up by this."""
    return hashlib.sha256(f"guardpay-paycode:{code}".encode()).hexdigest()


def code_problem(
    issued_at: datetime, used: bool, now: datetime, ttl: timedelta = TTL, *, retired: bool = False
) -> str | None:
    """Why a scanned code cannot pay (`payment_code_used`, `payment_code_expired`; a
    code replaced on screen by a fresh one has expired)."""
    if used:
        return "payment_code_used"
    if retired or now >= issued_at + ttl or now < issued_at:
        return "payment_code_expired"
    return None


def due_for_refresh(issued_at: datetime, now: datetime) -> bool:
    return now >= issued_at + TTL - REFRESH_BEFORE


def may_refresh(authorised_at: datetime, now: datetime) -> bool:
    """Whether a screen may show a fresh code without the payer's factors again."""
    return authorised_at <= now < authorised_at + SHOW_WINDOW
