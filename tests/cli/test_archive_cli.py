"""`guardpay archive run` and `archive verify`, and `audit verify --archive`, on both
backends: old audit entries go to files in a directory and the chain verifies through
them; a file lost from the directory fails verification."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from guardpay.cli.main import app
from guardpay.security.keys import MASTER_KEYS_ENV, Keyring
from guardpay.storage.engine.db import Database
from tests.services.platform.test_audit import write_entries


def invoke(url: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--database-url", url, *args])


def test_archive_run_then_verify(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MASTER_KEYS_ENV, Keyring.generate().to_config())
    write_entries(db, 5)  # written weeks before today
    folder = tmp_path / "archive"
    done = invoke(
        database_url, "archive", "run", "--to", str(folder), "--audit-days", "7", "--json"
    )
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["audit_entries"] == 5
    assert result["webhook_events"] == 0
    [name] = result["audit_files"]
    assert (folder / name).is_file()
    again = invoke(database_url, "archive", "run", "--to", str(folder), "--json")
    assert json.loads(again.stdout)["audit_entries"] == 0

    checked = invoke(database_url, "archive", "verify", "--from", str(folder), "--json")
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert report["ok"] is True
    assert report["audit"]["archived_through"] == 5
    assert report["audit"]["entries"] == 6  # five archived, and the archive's own entry
    plain = invoke(database_url, "audit", "verify", "--archive", str(folder))
    assert plain.exit_code == 0, plain.output
    assert "audit log ok" in plain.stdout

    (folder / name).unlink()
    lost = invoke(database_url, "archive", "verify", "--from", str(folder))
    assert lost.exit_code == 1
    assert f"archive {name} is missing" in lost.stdout
    assert invoke(database_url, "audit", "verify").exit_code == 0  # the registry still fits
