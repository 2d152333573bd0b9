"""How much `guardpay serve` logs, and how: quiet by default (warnings), a line per request
and audited action at `--log-level info`, JSON for a log pipeline, the choice handed to
worker processes through the environment, and an unknown value refused by name."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from guardpay import observability
from guardpay.cli import serve as serve_module
from guardpay.cli.main import app
from guardpay.config import Settings, SettingsError
from guardpay.storage.engine.db import Database

log = structlog.get_logger()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever serve writes to the environment is undone after the test."""
    monkeypatch.delenv(observability.LOG_LEVEL_ENV, raising=False)
    monkeypatch.delenv(observability.LOG_FORMAT_ENV, raising=False)


def configure_from_environment() -> None:
    """Logging as the environment says, read as the CLI reads it (config.py)."""
    settings = Settings.from_environment()
    observability.configure_named(settings.log_level, settings.log_format)


def test_by_default_only_warnings_are_written(capsys: pytest.CaptureFixture[str]) -> None:
    configure_from_environment()
    log.info("http_request", path="/v1/transfers")
    log.warning("fake_adapters_in_use")
    written = capsys.readouterr().err
    assert "fake_adapters_in_use" in written
    assert "http_request" not in written


def test_info_as_json_is_one_scrubbed_object_a_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(observability.LOG_LEVEL_ENV, "INFO")
    monkeypatch.setenv(observability.LOG_FORMAT_ENV, "json")
    configure_from_environment()
    log.info("http_request", path="/v1/transfers", status=201, password="hunter2")
    line = json.loads(capsys.readouterr().err.strip())
    assert (line["event"], line["level"], line["status"]) == ("http_request", "info", 201)
    assert line["password"] == observability.REDACTED


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        (observability.LOG_LEVEL_ENV, "loud"),
        (observability.LOG_FORMAT_ENV, "xml"),
    ],
)
def test_an_unknown_value_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        configure_from_environment()
    with pytest.raises(ValueError, match=variable):  # the names alone, too
        observability.configure_named(
            value if variable == observability.LOG_LEVEL_ENV else "warning",
            value if variable == observability.LOG_FORMAT_ENV else "console",
        )


def test_serve_configures_logging_for_itself_and_its_workers(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[dict[str, Any]] = []

    def run(app_: object, **options: Any) -> None:  # instead of serving: log, and note
        log.info("probe", path="/healthz")
        served.append(options)

    monkeypatch.setattr(serve_module.uvicorn, "run", run)
    argv = [
        "--database-url",
        sqlite_db.url,
        "serve",
        "--log-level",
        "info",
        "--log-format",
        "json",
        "--port",
        "0",
    ]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert served  # the app was built and handed to uvicorn
    probe = next(json.loads(x) for x in result.stderr.splitlines() if '"probe"' in x)
    assert probe["level"] == "info"
    # what a worker process started now would inherit
    assert os.environ[observability.LOG_LEVEL_ENV] == "info"
    assert os.environ[observability.LOG_FORMAT_ENV] == "json"


def test_serve_refuses_an_unknown_level(sqlite_db: Database) -> None:
    argv = ["--database-url", sqlite_db.url, "serve", "--log-level", "loud"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    assert observability.LOG_LEVEL_ENV in result.output
