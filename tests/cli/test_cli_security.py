"""`guardpay audit verify` and `guardpay keys rotate` from the command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from guardpay.cli.main import app
from guardpay.security.keys import MASTER_KEYS_ENV, Keyring
from guardpay.security.vault import Vault
from guardpay.services.platform.context import Actor, Context
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work

runner = CliRunner()


def run(db: Database, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--database-url", db.url, *args])
    return result.exit_code, result.stdout


def test_audit_verify_reports_the_chain_and_fails_on_tampering(db: Database) -> None:
    with unit_of_work(db) as uow:
        ctx = Context(uow, Keyring.generate(), Actor("operator", "op_1"))
        ctx.audit("pii.revealed", subject="usr_1", details={"field": "phone"})
        ctx.audit("pii.revealed", subject="usr_2", details={"field": "phone"})
    code, out = run(db, "audit", "verify", "--json")
    assert code == 0
    assert json.loads(out) | {"head_hash": "x"} == {
        "ok": True,
        "entries": 2,
        "head_seq": 2,
        "head_hash": "x",
        "first_bad_seq": None,
        "problem": None,
        "archived_through": 0,  # nothing archived to files (guardpay archive run)
        "archives_read": None,  # no --archive: no file read
    }
    with db.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_log_append_only ON audit_log")
        conn.exec_driver_sql("UPDATE audit_log SET subject = 'usr_9' WHERE seq = 1")
    code, out = run(db, "audit", "verify", "--json")
    assert code == 1
    assert json.loads(out)["first_bad_seq"] == 1


def test_keys_rotate_moves_data_keys_to_the_new_master_key(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Keyring.generate()
    with unit_of_work(db) as uow:
        token = Vault(uow.keys, old).encrypt("usr_1", "phone", "+8613800138000")
    new = old.with_new_version()
    monkeypatch.setenv(MASTER_KEYS_ENV, new.to_config())
    code, out = run(db, "keys", "rotate", "--data-keys", "--json")
    assert code == 0
    assert json.loads(out) == {
        "master_version": 2,
        "rewrapped": 1,
        "subjects": 1,
        "fields": 0,
        "retired_keys": 1,
    }
    with unit_of_work(db) as uow:
        ctx = Context(uow, Keyring({2: new.keys[2]}))
        assert ctx.vault.encrypt("usr_1", "phone", "+8613800138000").startswith("gpf1.2.")
        with pytest.raises(Exception, match="erased"):
            ctx.vault.decrypt("usr_1", "phone", token)  # unregistered copies retire with v1


def test_keys_rotate_qr_adds_a_key_version(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    keyring = Keyring.generate()
    monkeypatch.setenv(MASTER_KEYS_ENV, keyring.to_config())
    assert [json.loads(run(db, "keys", "rotate-qr", "--json")[1]) for _ in range(2)] == [
        {"qr_key_version": 2},
        {"qr_key_version": 3},
    ]
    with unit_of_work(db) as uow:
        versions = [k.version for k in uow.keys.keys_of("platform:qr")]
    assert versions == [1, 2, 3]
