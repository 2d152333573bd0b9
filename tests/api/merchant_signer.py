"""A merchant's side of the signed API, for tests: its RSA key pair and a signed POST."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from httpx import Response

from guardpay.domain.merchants import signing
from guardpay.security import merchant_keys
from tests.api.api_fixtures import Api

_KEYS: dict[int, rsa.RSAPrivateKey] = {}


def private_key(which: int = 0) -> rsa.RSAPrivateKey:
    """2048-bit keys are slow to make, so a test process makes each one once."""
    if which not in _KEYS:
        _KEYS[which] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEYS[which]


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class Signer:
    api: Api
    key_id: str
    key: rsa.RSAPrivateKey

    def header(
        self, method: str, path: str, body: bytes, *, skew: int = 0, nonce: str | None = None
    ) -> str:
        at = int(self.api.clock().timestamp()) + skew
        nonce = nonce or secrets.token_hex(12)
        message = signing.canonical(method, path, at, nonce, body)
        return merchant_keys.authorization(self.key, self.key_id, message, at, nonce)

    def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        headers: dict[str, str] | None = None,
        **sign: Any,
    ) -> Response:
        body = b"" if payload is None else json.dumps(payload).encode()
        all_headers = {
            "Authorization": self.header(method, path, body, **sign),
            "Content-Type": "application/json",
            **(headers or {}),
        }
        r = self.api.client.request(method, path, content=body, headers=all_headers)
        self.api.responses.append(r)
        return r

    def post(self, path: str, payload: Any = None, **kw: Any) -> Response:
        return self.request("POST", path, payload, **kw)


def enrol(
    api: Api, merchant_id: str, operator_token: str, key: rsa.RSAPrivateKey | None = None
) -> Signer:
    """Register a key pair's public half for the merchant (as an analyst); its signer."""
    key = key or private_key()
    r = api.post(
        f"/v1/merchants/{merchant_id}/api-keys", {"public_key": public_pem(key)}, operator_token
    )
    assert r.status_code == 201, r.text
    return Signer(api, r.json()["id"], key)
