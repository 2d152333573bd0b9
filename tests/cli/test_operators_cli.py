"""`guardpay operators create` makes the first admin of an empty platform (password from
stdin or typed twice, hidden), who can then log in at POST /v1/operator/sessions; once an
operator exists it refuses (admins create the rest through the console API, four eyes for
role changes); `operators list` shows names and roles, never a secret. Both backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner, Result

from guardpay import observability
from guardpay.api.app import create_app
from guardpay.cli.main import app
from guardpay.errors import AuthenticationFailed, Conflict, DatabaseNotMigrated, PermissionDenied
from guardpay.security import passwords
from guardpay.security.keys import Keyring
from guardpay.services.auth import operators
from guardpay.services.platform.context import SYSTEM, Actor, Context
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only, unit_of_work
from tests.cli.test_cli import json_out

SECRET = "Console-pass-7-harbour"


@pytest.fixture(autouse=True)
def cheap_hashing() -> Iterator[None]:
    with passwords.using(passwords.CHEAP):  # hashing speed is not under test
        yield


def run(db: Database, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, ["--database-url", db.url, "operators", *args], input=stdin)


def make_admin(db: Database, name: str = "admin") -> Result:
    return run(db, "create", name, "--role", "admin", "--password-stdin", stdin=SECRET + "\n")


def listed(db: Database) -> list[dict[str, Any]]:
    result = run(db, "list", "--json")
    assert result.exit_code == 0, result.output
    return list(json_out(result))


def output_of(result: Result) -> str:
    """Everything the command wrote, rich's line wrapping undone."""
    return " ".join((result.stdout + result.stderr).split())


def test_the_first_admin_is_created_and_can_log_in(db: Database) -> None:
    assert listed(db) == []
    made = make_admin(db, "Admin")
    assert made.exit_code == 0, made.output
    assert "operator admin (admin) created" in made.stdout
    assert SECRET not in made.stdout + made.stderr
    [admin] = listed(db)
    assert set(admin) == {"id", "name", "role", "created_at", "disabled_at"}
    assert (admin["name"], admin["role"], admin["disabled_at"]) == ("admin", "admin", None)
    in_words = run(db, "list")
    assert "admin" in in_words.stdout
    assert "argon2" not in in_words.stdout + run(db, "list", "--json").stdout  # no hash

    observability.configure_named()  # not to the CLI runner's closed stderr
    client = TestClient(create_app(db, keyring=Keyring.generate()))
    r = client.post("/v1/operator/sessions", json={"name": "admin", "password": SECRET})
    assert r.status_code == 201, r.text
    assert r.json()["token"]
    wrong = client.post("/v1/operator/sessions", json={"name": "admin", "password": "nope"})
    assert wrong.status_code == 401
    with db.read() as conn:
        details = conn.execute(
            text("SELECT details FROM audit_log WHERE action = 'operator.created'")
        ).scalar_one()
    assert "admin" in str(details)
    assert SECRET not in str(details)


def test_once_an_operator_exists_the_command_refuses_without_asking_a_password(
    db: Database,
) -> None:
    assert make_admin(db).exit_code == 0
    again = run(db, "create", "second", "--role", "admin")  # would prompt: no input given
    assert again.exit_code == 2
    said = output_of(again)
    assert "operators exist already" in said
    assert "POST /v1/operator/operators" in said
    assert "Password" not in said
    scripted = make_admin(db, "third")
    assert scripted.exit_code == 2
    assert [o["name"] for o in listed(db)] == ["admin"]


def test_the_first_operator_must_be_an_admin(db: Database) -> None:
    refused = run(db, "create", "ana", "--role", "analyst", "--password-stdin", stdin=SECRET)
    assert refused.exit_code == 2
    assert "must be an admin" in output_of(refused)
    assert listed(db) == []


def test_the_password_is_typed_twice_hidden(db: Database) -> None:
    typed = f"{SECRET}\nsomething-else-9X\n{SECRET}\n{SECRET}\n"  # a mismatch, then a match
    made = run(db, "create", "root", "--role", "ADMIN", stdin=typed)
    assert made.exit_code == 0, made.output
    assert "Password" in made.output
    assert "do not match" in made.output
    assert SECRET not in made.output
    assert [o["name"] for o in listed(db)] == ["root"]


@pytest.mark.parametrize(
    ("name", "password", "code"),
    [
        ("admin", "short", "weak_password"),
        ("admin", "password", "weak_password"),
        ("x", SECRET, "invalid_operator_name"),
        ("admin", "", "no password"),
    ],
)
def test_a_weak_password_or_a_bad_name_is_refused_without_echoing_it(
    db: Database, name: str, password: str, code: str
) -> None:
    refused = run(db, "create", name, "--role", "admin", "--password-stdin", stdin=password + "\n")
    assert refused.exit_code == 2
    said = output_of(refused)
    assert code in said
    if password:
        assert password not in said.replace("password", "")  # the word, not the secret
    assert listed(db) == []


def test_nothing_logged_carries_the_password(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(observability.LOG_LEVEL_ENV, "debug")
    made = make_admin(db)
    assert made.exit_code == 0, made.output
    assert SECRET not in made.stdout + made.stderr


def test_an_unmigrated_database_is_refused(database_url: str) -> None:
    result = CliRunner().invoke(app, ["--database-url", database_url, "operators", "list"])
    assert result.exit_code != 0
    assert isinstance(result.exception, DatabaseNotMigrated)


def test_only_the_system_makes_the_first_admin_and_lists_without_a_login(db: Database) -> None:
    keyring = Keyring.generate()
    with unit_of_work(db) as uow:
        admin = operators.create_first_admin(Context(uow, keyring, SYSTEM), "root", SECRET)
    as_admin = Actor("operator", admin.id)
    with unit_of_work(db) as uow, pytest.raises(PermissionDenied):
        operators.create_first_admin(Context(uow, keyring, as_admin), "other", SECRET)
    with unit_of_work(db) as uow, pytest.raises(Conflict) as exists:
        operators.create_first_admin(Context(uow, keyring, SYSTEM), "other", SECRET)
    assert exists.value.code == "operators_exist"
    with read_only(db) as uow:
        assert [o.name for o in operators.list_operators(Context(uow, keyring, as_admin))] == [
            "root"
        ]
        with pytest.raises(PermissionDenied):
            operators.list_operators(Context(uow, keyring, Actor("user", "usr_x")))


def test_the_first_admin_gets_an_enrolment_code_and_a_fresh_one_on_demand(db: Database) -> None:
    """Printed once, kept only as its hash, and the earlier one stops working."""
    import re

    from guardpay.services.auth import operator_login

    made = make_admin(db)
    first = re.search(r"enrolment code \(valid a day, shown once\): (\S+)", output_of(made))
    assert first, made.stdout
    again = run(db, "enrolment", "admin")
    assert again.exit_code == 0, again.output
    second = re.search(r"\(valid a day, shown once\): (\S+)", output_of(again))
    assert second
    with db.read() as conn:
        stored = conn.execute(text("SELECT code_hash FROM auth_operator_enrolments")).all()
    assert len(stored) == 1
    assert second.group(1) not in str(stored)
    keyring = Keyring.generate()
    with unit_of_work(db) as uow:
        step = operator_login.password_step(Context(uow, keyring, SYSTEM), "admin", SECRET)
    with (
        pytest.raises(AuthenticationFailed, match="enrolment code is wrong"),
        unit_of_work(db) as uow,
    ):
        operator_login.enrol(Context(uow, keyring, SYSTEM), step.issued.token, first.group(1))
    with unit_of_work(db) as uow:
        operator_login.enrol(Context(uow, keyring, SYSTEM), step.issued.token, second.group(1))
    assert run(db, "enrolment", "nobody").exit_code == 2


def test_the_only_admin_who_lost_the_authenticator_is_reset_from_the_server(
    db: Database,
) -> None:
    """Nobody else could sign in to reset it: the CLI (the system) does, with a reason."""
    import re

    from guardpay.services.auth import operator_login

    made = make_admin(db)
    first = re.search(r"\(valid a day, shown once\): (\S+)", output_of(made))
    assert first
    keyring = Keyring.generate()
    with unit_of_work(db) as uow:
        ctx = Context(uow, keyring, SYSTEM)
        step = operator_login.password_step(ctx, "admin", SECRET)
        uri = operator_login.enrol(ctx, step.issued.token, first.group(1)).provisioning_uri
        secret = parse_qs(urlparse(uri).query)["secret"][0]
        operator_login.second_step(ctx, step.issued.token, pyotp.TOTP(secret).now())
    refused = run(db, "enrolment", "admin")
    assert refused.exit_code == 2
    assert "reset it if the phone is lost" in output_of(refused)
    reset = run(db, "enrolment", "admin", "--reset", "phone lost on 2026-12-07")
    assert reset.exit_code == 0, reset.output
    code = re.search(r"\(valid a day, shown once\): (\S+)", output_of(reset))
    assert code
    with unit_of_work(db) as uow:
        ctx = Context(uow, keyring, SYSTEM)
        step = operator_login.password_step(ctx, "admin", SECRET)
        assert not step.enrolled
        operator_login.enrol(ctx, step.issued.token, code.group(1))
        [entry] = [e for e in uow.audit.entries() if e.action == "operator.totp_reset"]
    assert "phone lost" in entry.details
