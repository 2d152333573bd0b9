"""Shared pieces for the authentication service tests: a settable clock, a phone app
with a real Ed25519 key, and a `World` that runs use cases the way an edge does (one
unit of work each, committed also when an auth error carries state out).

The fixtures are registered under their short names (`world`, `user`, ...) and imported
by the test modules that want them; a conftest would impose them on every service test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from guardpay.adapters.sms import FakeSms
from guardpay.api.deps import request_unit
from guardpay.errors import StepUpRequired
from guardpay.security import devices, passwords
from guardpay.security.keys import Keyring
from guardpay.services.auth import facade as auth
from guardpay.services.auth.facade import DeviceProof
from guardpay.services.identity.users import register_user
from guardpay.services.platform.context import SYSTEM, Actor, Context
from guardpay.storage.audit import AuditEntry
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work

T = TypeVar("T")
T0 = datetime(2026, 11, 21, 9, 30, 0, tzinfo=UTC)
PASSWORD = "Jade7-Heron-cove"
PIN = "730194"
PHONE = "+8613812345678"


class Clock:
    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


class PhoneApp:
    """The mobile app: a device key pair, as kept in the phone's keystore."""

    def __init__(self, name: str = "Pixel 9") -> None:
        self.key = Ed25519PrivateKey.generate()
        self.public_key = devices.b64url(self.key.public_key().public_bytes_raw())
        self.name = name

    def proof(self, at: datetime, *, offset: int = 0) -> DeviceProof:
        signed_at = int(at.timestamp()) + offset
        message = devices.login_message(self.public_key, signed_at)
        return DeviceProof(self.public_key, signed_at, self.sign(message), self.name)

    def sign(self, message: bytes) -> str:
        return devices.b64url(self.key.sign(message))

    def sign_challenge(self, challenge_id: str, nonce: str) -> str:
        return self.sign(devices.step_up_message(challenge_id, nonce))


@dataclass
class World:
    db: Database
    keyring: Keyring = field(default_factory=Keyring.generate)
    clock: Clock = field(default_factory=Clock)
    sms: FakeSms = field(default_factory=FakeSms)

    @contextmanager
    def ctx(self, actor: Actor = SYSTEM) -> Iterator[Context]:
        with unit_of_work(self.db) as uow:
            yield Context(uow, self.keyring, actor, self.clock)

    def run(self, fn: Callable[..., T], *args: Any, actor: Actor = SYSTEM, **kwargs: Any) -> T:
        """One use case in one unit of work, as an edge runs it (api/deps.py
        `request_unit`): committed also when it refuses after keeping what it wrote
        (`UnitOfWork.keep`)."""
        with request_unit(self.db) as uow:
            return fn(Context(uow, self.keyring, actor, self.clock), *args, **kwargs)

    def audit(self, action: str | None = None) -> list[AuditEntry]:
        with self.ctx() as ctx:
            entries = list(ctx.uow.audit.entries())
        return [e for e in entries if action is None or e.action == action]

    def count(self, table: str) -> int:
        with self.db.read() as conn:
            return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())

    def totp_code(self, secret: str, *, offset_steps: int = 0) -> str:
        at = self.clock() + timedelta(seconds=30 * offset_steps)
        return pyotp.TOTP(secret).at(at)


def user_actor(user_id: str, *, ip: str = "10.0.0.1", device_id: str | None = None) -> Actor:
    return Actor("user", user_id, ip=ip, device_id=device_id)


@pytest.fixture(name="cheap_hashing", autouse=True)
def cheap_hashing_fixture() -> Iterator[None]:
    """Argon2id at test costs: every password call hashes, and at real costs the suites
    would take minutes. Autouse in each module that imports it."""
    with passwords.using(passwords.CHEAP):
        yield


@pytest.fixture(name="world")
def world_fixture(db: Database) -> World:
    return World(db)


@pytest.fixture(name="user")
def user_fixture(world: World) -> str:
    """A user registered with PHONE who has set the login password PASSWORD."""
    user_id = world.run(register_user, PHONE).id
    world.run(auth.set_login_password, user_id, PASSWORD)
    return user_id


def log_in_by_sms(
    world: World, app: PhoneApp | None = None, *, actor: Actor = SYSTEM
) -> auth.IssuedSession:
    """The user's login from `app` (or from no device) when it is asked for a step-up,
    answered with the texted code: for tests that need a trusted phone or a session."""
    device = app.proof(world.clock()) if app is not None else None
    with pytest.raises(StepUpRequired) as asked:
        world.run(auth.login, PHONE, PASSWORD, device=device, actor=actor)
    challenge_id = asked.value.challenge_id
    world.run(auth.send_sms_code, challenge_id, world.sms)
    return world.run(auth.complete_login, challenge_id, "sms", code=world.sms.last_code(PHONE))
