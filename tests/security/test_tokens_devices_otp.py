"""Tokens, device keys and one-time codes, against real keys and real TOTP."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from guardpay.errors import InvalidRequest
from guardpay.security import devices, otp, tokens

T0 = datetime(2026, 11, 21, 12, 0, 10, tzinfo=UTC)


def test_tokens_are_256_bit_and_stored_as_sha256() -> None:
    token = tokens.new_token()
    assert len(devices.unb64url(token)) == 32
    assert tokens.token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert tokens.new_token() != token
    assert tokens.same_hash(tokens.token_hash(token), tokens.token_hash(token))
    assert not tokens.same_hash(tokens.token_hash(token), tokens.token_hash("x"))


def test_ids_carry_their_prefix() -> None:
    assert tokens.new_id("ses").startswith("ses_")
    assert len(tokens.new_id("ses")) == 28


def _device() -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    return key, devices.b64url(key.public_key().public_bytes_raw())


def test_a_real_signature_verifies_and_a_wrong_one_does_not() -> None:
    key, public = _device()
    message = devices.step_up_message("chl_1", "n0nce")
    assert message == b"guardpay-stepup:chl_1:n0nce"
    good = devices.b64url(key.sign(message))
    assert devices.verify_signature(public, message, good)
    assert not devices.verify_signature(public, devices.step_up_message("chl_2", "n0nce"), good)
    other, _ = _device()
    assert not devices.verify_signature(public, message, devices.b64url(other.sign(message)))
    assert not devices.verify_signature(public, message, "not base64!")
    assert not devices.verify_signature(public, message, devices.b64url(b"\0" * 63))


def test_public_keys_parse_with_or_without_padding() -> None:
    _, public = _device()
    assert devices.canonical_public_key(public + "=") == public
    assert devices.canonical_public_key(f" {public} ") == public


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        devices.b64url(b"\1" * 31),
        devices.b64url(b"\1" * 33),
        devices.b64url(b"\0" * 32),
        "%%%%",
    ],
)
def test_bad_public_keys_are_refused(text: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        devices.parse_public_key(text)
    assert refused.value.code == "invalid_device_key"
    assert refused.value.param == "public_key"


def test_login_proofs_must_be_fresh_and_increasing() -> None:
    at = int(T0.timestamp())
    assert devices.login_proof_fresh(at, T0, 120, None)
    assert devices.login_proof_fresh(at - 119, T0, 120, at - 200)
    assert not devices.login_proof_fresh(at - 121, T0, 120, None)
    assert not devices.login_proof_fresh(at + 121, T0, 120, None)
    assert not devices.login_proof_fresh(at, T0, 120, at)  # replayed


def test_totp_codes_match_one_step_either_side_and_report_the_step() -> None:
    secret = otp.new_totp_secret()
    totp = pyotp.TOTP(secret)
    step = totp.timecode(T0)
    assert otp.totp_step(secret, totp.at(T0), T0) == step
    assert otp.totp_step(secret, totp.at(T0 - timedelta(seconds=30)), T0) == step - 1
    assert otp.totp_step(secret, totp.at(T0 + timedelta(seconds=30)), T0) == step + 1
    assert otp.totp_step(secret, totp.at(T0 - timedelta(seconds=60)), T0) is None
    assert otp.totp_step(secret, totp.at(T0 + timedelta(seconds=60)), T0) is None
    assert otp.totp_step(secret, "12345", T0) is None
    assert otp.totp_step(secret, "abcdef", T0) is None


def test_provisioning_uri() -> None:
    secret = otp.new_totp_secret()
    uri = otp.provisioning_uri(secret, "138****5678")
    assert uri.startswith("otpauth://totp/guardpay:")
    assert f"secret={secret}" in uri
    assert len(secret) == 32


def test_sms_codes_are_six_digits_and_stored_as_salted_hashes() -> None:
    codes = {otp.new_sms_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150
    salt = otp.new_salt()
    stored = otp.hash_sms_code("042917", salt)
    assert "042917" not in stored
    assert otp.sms_code_matches("042917", salt, stored)
    assert not otp.sms_code_matches("042918", salt, stored)
    assert otp.hash_sms_code("042917", otp.new_salt()) != stored
