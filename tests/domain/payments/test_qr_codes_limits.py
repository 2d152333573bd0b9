"""Signed QR payloads (forged, altered, expired, replayed), payment codes (format,
window, derivation) and the QR limits by authentication strength."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from guardpay.domain.payments import codes, qr
from guardpay.domain.payments.limits import (
    QR_ORDER,
    QR_STATIC,
    DaySpend,
    day_start,
    qr_remaining,
    year_start,
)

KEY = b"k" * 32
NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
ORDER = qr.QrClaims(
    qr.ORDER, "mer_a", "n1", "ord_a", 1234, "CNY", int((NOW + timedelta(minutes=5)).timestamp())
)


OLD_KEY = b"o" * 32
KEYS = {1: OLD_KEY, 2: KEY}  # version 2 is the active one; 1 still verifies


def _rejected(payload: str, now: datetime = NOW) -> str:
    with pytest.raises(qr.QrRejected) as caught:
        qr.verify(KEYS.get, payload, now)
    return caught.value.code


def test_a_genuine_code_verifies() -> None:
    order = replace(ORDER, key_version=2)
    assert qr.verify(KEYS.get, qr.sign(KEY, order), NOW) == order
    static = qr.QrClaims(qr.STATIC, "mer_a", "static", key_version=2)
    assert qr.verify(KEYS.get, qr.sign(KEY, static), NOW + timedelta(days=999)) == static


def test_codes_signed_under_an_earlier_key_version_stay_valid() -> None:
    printed = qr.QrClaims(qr.STATIC, "mer_a", "static")  # version 1: before the rotation
    assert qr.verify(KEYS.get, qr.sign(OLD_KEY, printed), NOW) == printed
    # A code naming a version that does not exist, or another version than the one that
    # signed it, is not ours.
    assert _rejected(qr.sign(KEY, replace(printed, key_version=7))) == "qr_signature_invalid"
    assert _rejected(qr.sign(KEY, printed)) == "qr_signature_invalid"  # says 1, signed by 2
    assert _rejected(qr.sign(KEY, replace(printed, key_version=0))) == "qr_signature_invalid"
    # Once version 1 is destroyed, what it signed is refused.
    with pytest.raises(qr.QrRejected):
        qr.verify({2: KEY}.get, qr.sign(OLD_KEY, printed), NOW)


def test_altered_forged_and_garbage_codes_are_signature_invalid() -> None:
    payload = qr.sign(KEY, replace(ORDER, key_version=2))
    prefix, body, sig = payload.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["amount"] = 1
    altered = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _rejected(f"{prefix}.{altered}.{sig}") == "qr_signature_invalid"
    assert _rejected(qr.sign(b"x" * 32, ORDER)) == "qr_signature_invalid"  # forged
    for junk in ("", "hello", "GPQ1..", "GPQ1.!!.??", payload[:-2], "https://evil.example/x"):
        assert _rejected(junk) == "qr_signature_invalid"


def test_expired_and_replayed() -> None:
    payload = qr.sign(KEY, replace(ORDER, key_version=2))
    assert _rejected(payload, NOW + timedelta(minutes=5)) == "qr_expired"
    qr.check_unused(False)
    with pytest.raises(qr.QrRejected) as caught:
        qr.check_unused(True)
    assert caught.value.code == "qr_already_used"


def test_payment_codes_are_18_digits_with_the_prefix_and_differ_per_step() -> None:
    secret = b"s" * 32
    seen = {codes.derive_code(secret, step) for step in range(1000)}
    assert len(seen) == 1000
    assert all(codes.well_formed(c) and c.startswith("28") for c in seen)
    assert codes.derive_code(secret, 7) == codes.derive_code(secret, 7)
    assert codes.derive_code(b"t" * 32, 7) != codes.derive_code(secret, 7)
    assert not codes.well_formed("29" + "0" * 16)
    assert not codes.well_formed("28" + "0" * 15)
    assert not codes.well_formed("28" + "٠" * 16)  # non-ASCII digits


def test_payment_code_window_and_single_use() -> None:
    issued = NOW
    assert codes.code_problem(issued, False, NOW + timedelta(seconds=59)) is None
    assert codes.code_problem(issued, False, NOW + timedelta(seconds=60)) == "payment_code_expired"
    assert codes.code_problem(issued, False, NOW - timedelta(seconds=1)) == "payment_code_expired"
    assert codes.code_problem(issued, True, NOW) == "payment_code_used"
    assert codes.time_step(NOW) == int(NOW.timestamp()) // 30


def test_qr_limits_by_authentication_strength() -> None:
    spent = DaySpend(static=400_00, dynamic_weak=900_00, dynamic_all=4_500_00)
    assert qr_remaining(QR_STATIC, 2, spent) == 100_00
    assert qr_remaining(QR_ORDER, 1, spent) == 100_00
    assert qr_remaining(QR_ORDER, 2, spent) == 500_00
    assert qr_remaining(QR_ORDER, 1, DaySpend(dynamic_all=4_950_00)) == 50_00
    assert qr_remaining("p2p", 0, spent) is None
    assert qr_remaining(QR_STATIC, 1, DaySpend(static=600_00)) == 0


def test_limit_days_and_years_are_beijing_time() -> None:
    late = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)  # 01:00 on the 22nd in Beijing
    assert day_start(late) == datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
    assert day_start(NOW) == datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    assert year_start(NOW) == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)
