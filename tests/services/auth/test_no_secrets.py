"""No secret leaves authentication: not in logs, audit entries, errors, reprs or tables.

One run through registration, passwords, a new-device login with SMS step-up, TOTP
enrolment and use, failed logins and a payment lockout, with every log captured.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlparse

import pytest
import structlog
from sqlalchemy import text

from guardpay.errors import GuardpayError
from guardpay.services.auth import facade as auth
from guardpay.services.auth.operator_login import operator_login
from guardpay.services.auth.operators import create_operator
from guardpay.services.identity.users import register_user
from guardpay.storage.engine.db import Database
from tests.security.auth_fixtures import (
    PASSWORD,
    PHONE,
    PIN,
    PhoneApp,
    World,
    cheap_hashing_fixture,  # noqa: F401 (a pytest fixture)
    user_actor,
)

WRONG_PIN = "918273"


def _attempt(world: World, errors: list[str], fn: object, *args: object, **kw: object) -> object:
    try:
        return world.run(fn, *args, **kw)  # type: ignore[arg-type]
    except GuardpayError as exc:
        errors.extend([str(exc), repr(exc), exc.message, str(exc.param)])
        return exc


def _journey(world: World, errors: list[str], shown: list[object]) -> list[str]:
    """Everything a user and an operator do; returns the secrets that were used."""
    user = world.run(register_user, PHONE).id
    me = user_actor(user)
    world.run(auth.set_login_password, user, PASSWORD, actor=me)
    world.run(auth.set_payment_password, user, PIN, actor=me)
    _attempt(world, errors, auth.login, PHONE, "Wrong-pass-99")
    _attempt(world, errors, auth.set_login_password, user, "Pw#13812345678", actor=me)
    app = PhoneApp()
    asked = _attempt(world, errors, auth.login, PHONE, PASSWORD, device=app.proof(world.clock()))
    challenge = getattr(asked, "challenge_id", "")
    world.run(auth.send_sms_code, challenge, world.sms)
    code = world.sms.last_code(PHONE) or ""
    _attempt(world, errors, auth.complete_login, challenge, "sms", code="000000")
    issued = world.run(auth.complete_login, challenge, "sms", code=code)
    enrolment = world.run(auth.enrol_totp, user, actor=me)
    secret = parse_qs(urlparse(enrolment.provisioning_uri).query)["secret"][0]
    totp_code = world.totp_code(secret)
    world.run(auth.confirm_totp, user, totp_code, actor=me)
    for _ in range(5):
        _attempt(world, errors, auth.verify_payment_password, user, WRONG_PIN)
    _attempt(world, errors, auth.verify_payment_password, user, PIN)
    _attempt(world, errors, auth.authenticate, issued.token + "x")
    world.run(create_operator, "vera", "viewer", "Console-pass-7")
    console = world.run(operator_login, "vera", "Console-pass-7")
    shown.extend([issued, console, enrolment, asked, app.proof(world.clock())])
    shown.extend(world.run(auth.list_devices, user, actor=me))
    shown.extend(world.run(auth.list_sessions, user, actor=me))
    return [
        PASSWORD,
        PIN,
        WRONG_PIN,
        code,
        issued.token,
        console.token,
        secret,
        totp_code,
        "Console-pass-7",
        "13812345678",
        "Wrong-pass-99",
    ]


def test_no_secret_is_logged_audited_shown_or_stored_readably(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(db)
    errors: list[str] = []
    shown: list[object] = []
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as structured:
        secrets = _journey(world, errors, shown)
    assert len(errors) > 10  # the failures really happened
    logs = [r.getMessage() for r in caplog.records] + [str(e) for e in structured]
    audit = [str(e) for e in world.audit()]
    reprs = [repr(o) for o in shown]
    for secret in secrets:
        for place, texts in (("log", logs), ("audit", audit), ("error", errors), ("repr", reprs)):
            leaked = [t for t in texts if secret in t]
            assert leaked == [], f"a secret leaked into a {place}: {leaked[:1]}"
    stored = _every_value(db)
    for secret in (PASSWORD, secrets[4], secrets[5], secrets[6], "Console-pass-7", "13812345678"):
        assert secret not in stored


def _every_value(db: Database) -> str:
    if db.backend == "sqlite":
        tables = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        tables = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    with db.read() as conn:
        names = [r[0] for r in conn.execute(text(tables))]
        rows = [str(list(conn.execute(text(f"SELECT * FROM {name}")))) for name in names]
    assert any("auth_sessions" in n for n in names)
    return "\n".join(rows)
