"""`guardpay serve` loads the bank adapter GUARDPAY_BANK_ADAPTER names
(`package.module:factory`) and hands it to the app; without one the fake bank runs in
process; a setting that names nothing usable is refused before anything is served."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from guardpay.adapters.bank import (
    ADAPTER_ENV,
    BankConfigError,
    BankInstruction,
    FakeBank,
    bank_from_settings,
)
from guardpay.cli import serve as serve_module
from guardpay.cli.main import app
from guardpay.config import Settings
from guardpay.storage.engine.db import Database


@dataclass
class RecordingBank:
    """A deployment's adapter as the factory builds it."""

    sent: list[BankInstruction] = field(default_factory=list)

    def submit(self, instruction: BankInstruction) -> str:
        self.sent.append(instruction)
        return f"ref-{len(self.sent)}"


def make_bank() -> RecordingBank:
    return RecordingBank()


def not_a_bank() -> object:
    return object()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[FastAPI]:
    apps: list[FastAPI] = []
    monkeypatch.setattr(serve_module.uvicorn, "run", lambda app_, **_: apps.append(app_))
    monkeypatch.delenv(ADAPTER_ENV, raising=False)
    return apps


def _serve(db: Database) -> Any:
    return CliRunner().invoke(app, ["--database-url", db.url, "serve", "--port", "0"])


def test_the_configured_adapter_reaches_the_app(
    sqlite_db: Database, served: list[FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ADAPTER_ENV, f"{__name__}:make_bank")
    result = _serve(sqlite_db)
    assert result.exit_code == 0, result.output
    assert isinstance(served[0].state.bank, RecordingBank)
    assert served[0].state.pump_bank is False  # a real bank calls back over HTTP


def test_without_one_the_fake_bank_runs(sqlite_db: Database, served: list[FastAPI]) -> None:
    result = _serve(sqlite_db)
    assert result.exit_code == 0, result.output
    assert isinstance(served[0].state.bank, FakeBank)
    assert served[0].state.pump_bank is True


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("no_colon_here", "package.module:factory"),
        ("no.such.module:make", "ModuleNotFoundError"),
        (f"{__name__}:no_such_factory", "AttributeError"),
        (f"{__name__}:not_a_bank", "did not return a bank channel"),
    ],
)
def test_a_bad_setting_is_refused_before_serving(
    sqlite_db: Database,
    served: list[FastAPI],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    says: str,
) -> None:
    with pytest.raises(BankConfigError, match=says):
        bank_from_settings(Settings.from_environment({ADAPTER_ENV: setting}))
    monkeypatch.setenv(ADAPTER_ENV, setting)
    result = _serve(sqlite_db)
    assert result.exit_code == 2
    assert ADAPTER_ENV in result.output
    assert served == []
