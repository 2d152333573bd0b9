"""The simulation's way into the HTTP API (`guardpay simulate --via-api`): the real app
(routing, validation, authentication, idempotency, error mapping) in-process.

Three kinds of caller, each as production has them:
- a person's phone app: a session per (person, device), issued on first use as a login
  from that device would issue it (logins are not simulated traffic in either mode), an
  Idempotency-Key on every POST, the reported location in `Geo-Position`, and the
  person's address in `X-Forwarded-For`, which the app trusts from its front proxy (this
  client) exactly as `uvicorn --proxy-headers` does;
- a merchant's server: an RSA2 key per merchant, made and registered on first use, every
  call signed;
- the bank: callbacks signed with the shared secret.

An error answer is raised as the `GuardpayError` it was (code, and the challenge of a
`step_up_required`), so the simulation treats refusals the same in both modes.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import asdict
from typing import Any, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from httpx2 import Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from guardpay.adapters.bank import BankCallback
from guardpay.adapters.kyc import Kyc
from guardpay.api.app import create_app
from guardpay.domain.merchants import signing
from guardpay.errors import StepUpRequired, from_code
from guardpay.security import merchant_keys
from guardpay.services.auth import facade as auth
from guardpay.services.auth import operators
from guardpay.services.identity import merchant_api
from guardpay.services.platform.context import Actor
from guardpay.services.webhooks import events as webhooks
from guardpay.sim.platform import Platform

PROXY = "testclient"  # the address TestClient connects from: the trusted front proxy
SESSION_ERRORS = ("session_invalid",)


class ApiClient:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.bank_secret = secrets.token_hex(16)
        app = create_app(
            platform.db,
            keyring=platform.keyring,
            kyc=Kyc.fakes(),
            sms=platform.sms,
            clock=platform.clock,
            risk=platform.engine,
            bank=platform.bank,
            bank_secret=self.bank_secret,
        )
        front = ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=PROXY)
        self.http = TestClient(cast(Any, front))
        self._sessions: dict[tuple[str, str | None], str] = {}
        self._keys: dict[str, tuple[str, rsa.RSAPrivateKey]] = {}
        self._analyst: Actor | None = None

    def close(self) -> None:
        self.http.close()

    # -- a person's app ----------------------------------------------------------------
    def user(self, actor: Actor, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """A request from the person's app; a session that has expired is renewed once."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._session(actor)}", **_origin(actor)}
            if method == "POST":
                headers["Idempotency-Key"] = uuid.uuid4().hex
            r = self.http.request(method, path, json=body, headers=headers)
            if attempt == 1 and r.status_code == 401 and _code(r) in SESSION_ERRORS:
                self._sessions.pop((actor.id, actor.device_id), None)
                continue
            return _answer(r)
        raise AssertionError("unreachable")

    def anonymous(self, actor: Actor, path: str) -> dict[str, Any]:
        return _answer(self.http.post(path, headers=_origin(actor)))

    def _session(self, actor: Actor) -> str:
        key = (actor.id, actor.device_id)
        if key not in self._sessions:
            with self.platform.unit(actor) as ctx:
                issued = auth.issue_session(ctx, "user", actor.id, device_id=actor.device_id)
            self._sessions[key] = issued.token
        return self._sessions[key]

    # -- a merchant's server -------------------------------------------------------------
    def merchant(self, merchant_id: str, path: str, body: Any = None) -> dict[str, Any]:
        key_id, key = self._key(merchant_id)
        raw = b"" if body is None else json.dumps(body).encode()
        at, nonce = int(self.platform.clock().timestamp()), secrets.token_hex(12)
        message = signing.canonical("POST", path, at, nonce, raw)
        headers = {
            "Authorization": merchant_keys.authorization(key, key_id, message, at, nonce),
            "Content-Type": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
        }
        return _answer(self.http.post(path, content=raw, headers=headers))

    def _key(self, merchant_id: str) -> tuple[str, rsa.RSAPrivateKey]:
        if merchant_id not in self._keys:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = serialization.PublicFormat.SubjectPublicKeyInfo
            pem = key.public_key().public_bytes(serialization.Encoding.PEM, public)
            with self.platform.unit(self._onboarding()) as ctx:  # an analyst, once each
                row = merchant_api.add_key(ctx, merchant_id, pem.decode())
            self._keys[merchant_id] = (row.id, key)
        return self._keys[merchant_id]

    def _onboarding(self) -> Actor:
        """The analyst who registers merchants' keys (made on first use)."""
        if self._analyst is None:
            with self.platform.unit() as ctx:
                made = operators.create_operator(
                    ctx, "sim-onboarding", "analyst", f"Sim-{secrets.token_urlsafe(18)}"
                )
            self._analyst = Actor("operator", made.id)
        return self._analyst

    # -- the bank ------------------------------------------------------------------------
    def bank_callback(self, callback: BankCallback) -> str:
        raw = json.dumps(asdict(callback)).encode()
        at = int(self.platform.clock().timestamp())
        headers = {
            "Bank-Timestamp": str(at),
            "Content-Type": "application/json",
            "Bank-Signature": webhooks.signature(self.bank_secret, at, raw),
        }
        return str(
            _answer(self.http.post("/v1/bank/callbacks", content=raw, headers=headers))["outcome"]
        )


def _origin(actor: Actor) -> dict[str, str]:
    headers = {"X-Forwarded-For": actor.ip or "0.0.0.0"}
    if actor.location is not None:
        headers["Geo-Position"] = f"{actor.location[0]!r};{actor.location[1]!r}"
    return headers


def _code(r: Response) -> str:
    try:
        return str(r.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def _answer(r: Response) -> dict[str, Any]:
    """The body of a success; an error answer raised as the error it was."""
    if r.status_code < 400:
        return dict(r.json())
    error = r.json().get("error", {})
    code, message = str(error.get("code", "internal_error")), str(error.get("message", ""))
    if code == "step_up_required":
        step_up = error.get("step_up") or {}
        raise StepUpRequired(
            message,
            methods=list(step_up.get("methods", [])),
            challenge_id=step_up.get("challenge_id"),
        )
    raise from_code(code, message, error.get("param"))
