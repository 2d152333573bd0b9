"""What a merchant signs, and when a signed request is fresh.

A merchant API request carries one header:

    Authorization: GP-RSA2 key_id=<key id>,timestamp=<unix seconds>,nonce=<16-64 chars>,
                   signature=<base64 RSA PKCS#1 v1.5 SHA-256 over the canonical string>

The canonical string is five lines joined by "\\n": the method, the path with its query
string exactly as sent, the timestamp, the nonce, and the lowercase hex SHA-256 of the
body bytes. Signing the body digest (not a re-serialised body) means the server checks
exactly the bytes it parses; signing the path keeps a signature for one endpoint from
being replayed on another. This is Alipay OpenAPI's RSA2 (SHA256withRSA) over a
canonical request, as in DESIGN.md; the key pair is the merchant's, the platform keeps
only the public half.

Freshness: the timestamp must be within `WINDOW` of the server clock either way, and a
nonce is accepted once per key, ever (storage keeps every nonce it has seen).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from guardpay.errors import AuthenticationFailed

SCHEME = "GP-RSA2"
WINDOW = timedelta(minutes=5)
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_KEY_ID = re.compile(r"^mak_[a-z0-9]{1,40}$")
_FIELDS = ("key_id", "timestamp", "nonce", "signature")


@dataclass(frozen=True)
class SignedHeader:
    key_id: str
    timestamp: int
    nonce: str
    signature: str


def _fail(message: str, code: str = "signature_invalid") -> AuthenticationFailed:
    return AuthenticationFailed(message, code=code)


def _pairs(params: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in params.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or name not in _FIELDS or name in out:
            raise _fail(f"malformed {SCHEME} field '{name[:20]}'", "signature_malformed")
        out[name] = value.strip()
    return out


def parse_header(value: str) -> SignedHeader:
    """The four fields of an `Authorization: GP-RSA2 ...` header, shape-checked."""
    scheme, _, params = value.strip().partition(" ")
    if scheme != SCHEME:
        raise _fail(f"merchant calls use 'Authorization: {SCHEME} ...'", "signature_missing")
    fields = _pairs(params)
    missing = [f for f in _FIELDS if f not in fields]
    if missing:
        raise _fail(f"{SCHEME} header lacks {', '.join(missing)}", "signature_malformed")
    if not _KEY_ID.match(fields["key_id"]):
        raise _fail("key_id is not a merchant API key id", "signature_malformed")
    if not fields["timestamp"].isdigit() or len(fields["timestamp"]) > 12:
        raise _fail("timestamp must be unix seconds", "signature_malformed")
    if not _NONCE.match(fields["nonce"]):
        raise _fail("nonce must be 16-64 characters of [A-Za-z0-9_-]", "signature_malformed")
    return SignedHeader(
        fields["key_id"], int(fields["timestamp"]), fields["nonce"], fields["signature"]
    )


def canonical(method: str, path_and_query: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    """The bytes a merchant signs (and the platform verifies)."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((method.upper(), path_and_query, str(timestamp), nonce, digest)).encode()


def check_fresh(timestamp: int, now: datetime) -> None:
    """A request signed more than `WINDOW` before (or after) `now` is refused."""
    skew = abs(now.timestamp() - timestamp)
    if skew > WINDOW.total_seconds():
        raise _fail(
            "the signed timestamp is more than 5 minutes from the server clock", "signature_expired"
        )
