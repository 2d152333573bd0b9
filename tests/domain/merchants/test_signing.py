"""What a merchant signs and when it is fresh: the header grammar, the canonical bytes,
the 5-minute window."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from guardpay.domain.merchants import signing
from guardpay.errors import AuthenticationFailed

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
GOOD = "GP-RSA2 key_id=mak_abc,timestamp=1795262400,nonce=abcdefgh12345678,signature=c2ln"


def test_a_well_formed_header_parses() -> None:
    h = signing.parse_header(GOOD)
    assert (h.key_id, h.timestamp, h.nonce, h.signature) == (
        "mak_abc",
        1795262400,
        "abcdefgh12345678",
        "c2ln",
    )


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Bearer abc", "signature_missing"),
        ("GP-RSA2 key_id=mak_abc", "signature_malformed"),
        (GOOD.replace("key_id=mak_abc", "key_id=abc"), "signature_malformed"),
        (GOOD.replace("timestamp=1795262400", "timestamp=-5"), "signature_malformed"),
        (GOOD.replace("nonce=abcdefgh12345678", "nonce=short"), "signature_malformed"),
        (GOOD.replace("nonce=abcdefgh12345678", "nonce=abcdefgh1234567$"), "signature_malformed"),
        (GOOD + ",nonce=abcdefgh12345679", "signature_malformed"),
        (GOOD + ",extra=1", "signature_malformed"),
    ],
)
def test_bad_headers_are_refused_with_their_code(header: str, code: str) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        signing.parse_header(header)
    assert caught.value.code == code


def test_the_canonical_request_binds_method_path_time_nonce_and_body() -> None:
    body = b'{"amount": 1}'
    base = signing.canonical("post", "/v1/x?a=1", 100, "n" * 16, body)
    assert (
        base == (f"POST\n/v1/x?a=1\n100\n{'n' * 16}\n" + hashlib.sha256(body).hexdigest()).encode()
    )
    variants = [
        signing.canonical("GET", "/v1/x?a=1", 100, "n" * 16, body),
        signing.canonical("POST", "/v1/x?a=2", 100, "n" * 16, body),
        signing.canonical("POST", "/v1/x?a=1", 101, "n" * 16, body),
        signing.canonical("POST", "/v1/x?a=1", 100, "m" * 16, body),
        signing.canonical("POST", "/v1/x?a=1", 100, "n" * 16, body + b" "),
    ]
    assert base not in variants
    assert len(set(variants)) == len(variants)


@pytest.mark.parametrize(
    ("offset", "fresh"), [(0, True), (-300, True), (300, True), (-301, False), (301, False)]
)
def test_the_window_is_five_minutes_either_way(offset: int, fresh: bool) -> None:
    stamp = int(NOW.timestamp()) + offset
    if fresh:
        signing.check_fresh(stamp, NOW)
    else:
        with pytest.raises(AuthenticationFailed, match="5 minutes"):
            signing.check_fresh(stamp, NOW)
