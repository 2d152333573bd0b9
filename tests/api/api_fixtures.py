"""Shared pieces for the identity, authentication and operator API tests.

`Api` drives the ASGI app through `TestClient` the way the mobile app and the console
do, with one keyring, the KYC and SMS fakes and a settable clock for the test. `snapshot`
reads every row of every table, so a test can say exactly what a rejection changed:
nothing, or only the bookkeeping a refusal keeps (`UnitOfWork.keep`, storage/uow.py).

The fixture is registered as `api`; test modules import `api_fixture` to use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import inspect, text

from guardpay.adapters.kyc import FakeKyc, Kyc
from guardpay.adapters.sms import FakeSms
from guardpay.api.app import create_app
from guardpay.security import devices, passwords
from guardpay.security.keys import Keyring
from guardpay.storage.engine.db import Database
from tests.domain.identity.numbers import card, resident_id

T0 = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
PHONE = "13812345678"
E164 = "+8613812345678"
PASSWORD = "Jade7-Heron-cove"
PIN = "730194"
NAME = "张三"
ID_NUMBER = resident_id("310104", "19900307", "123")
PAN = card("622202", 19)  # ICBC debit
RAISE = False
ERROR_KEYS = {"type", "code", "message", "param"}
#: what a failed login, step-up answer or payment password may leave behind
BOOKKEEPING = {"auth_failures", "auth_challenges", "auth_credentials", "audit_log", "audit_head"}


class Clock:
    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class PhoneApp:
    """The mobile app's device key pair (kept in the phone's keystore)."""

    def __init__(self, name: str = "Pixel 9") -> None:
        self.key = Ed25519PrivateKey.generate()
        self.public_key = devices.b64url(self.key.public_key().public_bytes_raw())
        self.name = name

    def proof(self, at: datetime) -> dict[str, Any]:
        signed_at = int(at.timestamp())
        message = devices.login_message(self.public_key, signed_at)
        signature = devices.b64url(self.key.sign(message))
        return {
            "public_key": self.public_key,
            "signed_at": signed_at,
            "signature": signature,
            "name": self.name,
        }

    def sign_challenge(self, challenge_id: str, nonce: str) -> str:
        return devices.b64url(self.key.sign(devices.step_up_message(challenge_id, nonce)))

    def sign_request(
        self, at: datetime, key: str, path: str, body: bytes, method: str = "POST"
    ) -> str:
        """The `Payment-Signature` header value for this exact request."""
        signed_at = int(at.timestamp())
        message = devices.payment_message(signed_at, key, method, path, body)
        return f"t={signed_at}, sig={devices.b64url(self.key.sign(message))}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_of(response: Response, status: int, code: str) -> dict[str, Any]:
    """The error body, after checking the status, the one shape and the code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) >= ERROR_KEYS
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    return dict(body["error"])


@dataclass
class Api:
    client: TestClient
    db: Database
    keyring: Keyring
    kyc: FakeKyc
    sms: FakeSms
    clock: Clock
    responses: list[Response] = field(default_factory=list)  # every answer, for leak checks

    def post(self, path: str, json: Any = None, token: str | None = None) -> Response:
        r = self.client.post(path, json=json, headers=bearer(token) if token else None)
        self.responses.append(r)
        return r

    def get(self, path: str, token: str | None = None) -> Response:
        r = self.client.get(path, headers=bearer(token) if token else None)
        self.responses.append(r)
        return r

    # -- journeys ----------------------------------------------------------------------
    def register(self, phone: str = PHONE, password: str = PASSWORD) -> str:
        r = self.post("/v1/users", {"phone": phone, "password": password})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def login(self, app: PhoneApp | None, phone: str = PHONE, password: str = PASSWORD) -> Response:
        self.clock.advance(seconds=1)  # each device proof must be newer than the last
        body: dict[str, Any] = {"phone": phone, "password": password}
        if app is not None:
            body["device"] = app.proof(self.clock())
        return self.post("/v1/sessions", body)

    def sms_code(self, challenge_id: str, phone: str = E164) -> str:
        r = self.post(f"/v1/step-ups/{challenge_id}/sms")
        assert r.status_code == 200, r.text
        code = self.sms.last_code(phone)
        assert code is not None
        return code

    def sign_in(
        self, app: PhoneApp | None = None, phone: str = PHONE, password: str = PASSWORD
    ) -> str:
        """Log in from `app`, answering the step-up by SMS if asked; the token."""
        r = self.login(app, phone, password)
        if r.status_code == 201:
            return str(r.json()["token"])
        challenge = error_of(r, 401, "step_up_required")["step_up"]["challenge_id"]
        code = self.sms_code(challenge, "+86" + phone[-11:])
        done = self.post(f"/v1/step-ups/{challenge}/complete", {"method": "sms", "code": code})
        assert done.status_code == 201, done.text
        return str(done.json()["token"])

    def verify(self, token: str, number: str = ID_NUMBER, name: str = NAME) -> Response:
        body = {"name": name, "document_type": "resident_id", "document_number": number}
        return self.post("/v1/me/verification", body, token)

    def verified_user(self, phone: str = PHONE, number: str = ID_NUMBER) -> str:
        """A registered, signed-in, class I user; their session token."""
        self.register(phone)
        token = self.sign_in(PhoneApp(), phone)
        assert self.verify(token, number).status_code == 200
        return token

    # -- the database --------------------------------------------------------------------
    def snapshot(self) -> dict[str, list[str]]:
        """Every row of every table (but Alembic's), as sorted text."""
        with self.db.read() as conn:
            names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
            return {n: sorted(map(str, conn.execute(text(f"SELECT * FROM {n}")))) for n in names}

    def changed(self, before: dict[str, list[str]]) -> set[str]:
        after = self.snapshot()
        return {t for t in after if after[t] != before.get(t)}

    def audit(self, action: str) -> list[tuple[Any, ...]]:
        with self.db.read() as conn:
            rows = conn.execute(
                text(
                    "SELECT actor, subject, outcome, details FROM audit_log "
                    "WHERE action = :a ORDER BY seq"
                ),
                {"a": action},
            )
            return [tuple(r) for r in rows]


@pytest.fixture(name="api")
def api_fixture(db: Database) -> Iterator[Api]:
    """The app on this backend with cheap argon2 (hashing speed is not under test)."""
    keyring, kyc, sms, clock = Keyring.generate(), Kyc.fakes(), FakeSms(), Clock()
    app = create_app(db, keyring=keyring, kyc=kyc, sms=sms, clock=clock)
    with (
        passwords.using(passwords.CHEAP),
        TestClient(app, raise_server_exceptions=RAISE) as client,
    ):
        yield Api(client, db, keyring, kyc, sms, clock)
