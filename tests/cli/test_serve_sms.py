"""`guardpay serve` hands the SMS backend GUARDPAY_SMS_BACKEND names to the app, in one
process and in each worker; without a setting it uses the console backend and says so
in a warning line; a bad setting is refused before anything is served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from guardpay.adapters.sms import BACKEND_ENV, TWILIO_SID_ENV, ConsoleSms, FileSms
from guardpay.cli import serve as serve_module
from guardpay.cli.main import app
from guardpay.storage.engine.db import Database


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[FastAPI]:
    """What serve hands to uvicorn (nothing is served)."""
    apps: list[FastAPI] = []

    def run(app_: Any, **options: Any) -> None:
        apps.append(app_)

    monkeypatch.setattr(serve_module.uvicorn, "run", run)
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    return apps


def _serve(db: Database) -> Any:
    return CliRunner().invoke(app, ["--database-url", db.url, "serve", "--port", "0"])


def test_the_file_backend_reaches_the_app(
    sqlite_db: Database, served: list[FastAPI], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BACKEND_ENV, f"file:{tmp_path / 'sms.jsonl'}")
    result = _serve(sqlite_db)
    assert result.exit_code == 0, result.output
    sms = served[0].state.sms
    assert isinstance(sms, FileSms)
    assert sms.path == tmp_path / "sms.jsonl"
    assert "sms_console_backend" not in result.stderr


def test_without_a_setting_the_console_backend_is_used_and_said(
    sqlite_db: Database, served: list[FastAPI]
) -> None:
    result = _serve(sqlite_db)
    assert result.exit_code == 0, result.output
    assert isinstance(served[0].state.sms, ConsoleSms)
    warning = [line for line in result.stderr.splitlines() if "sms_console_backend" in line]
    assert len(warning) == 1
    assert BACKEND_ENV in warning[0]


@pytest.mark.parametrize(
    ("setting", "named"),
    [("carrier-pigeon", "console, file:PATH or twilio"), ("twilio", TWILIO_SID_ENV)],
)
def test_a_bad_setting_is_refused_before_serving(
    sqlite_db: Database,
    served: list[FastAPI],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    named: str,
) -> None:
    monkeypatch.setenv(BACKEND_ENV, setting)
    result = _serve(sqlite_db)
    assert result.exit_code == 2
    assert named in " ".join(result.stderr.split())  # rich wraps long lines
    assert served == []


def test_a_worker_builds_its_app_with_the_configured_backend(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(serve_module.DATABASE_ENV, sqlite_db.url)
    monkeypatch.setenv(BACKEND_ENV, f"file:{tmp_path / 'sms.jsonl'}")
    worker = serve_module.worker_app()
    assert isinstance(worker.state.sms, FileSms)
    worker.state.db.dispose()


def test_what_serve_builds_is_frozen_for_the_collector_while_it_serves(
    sqlite_db: Database, served: list[FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One process or each worker (api/app.py `_freeze_heap`)."""
    assert _serve(sqlite_db).exit_code == 0
    monkeypatch.setenv(serve_module.DATABASE_ENV, sqlite_db.url)
    worker = serve_module.worker_app()
    assert [a.state.freeze_heap for a in (served[0], worker)] == [True, True]
    worker.state.db.dispose()
