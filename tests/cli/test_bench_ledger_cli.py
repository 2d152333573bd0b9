"""`guardpay bench ledger --database-url URL` takes the backend from the URL's scheme;
an explicit `--backend` that contradicts the URL is a usage error that says so."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner, Result

from guardpay.bench.ledger import backend_of_url
from guardpay.cli.main import app

TINY = ["--transfers", "300", "--accounts", "20", "--json"]


def bench(*args: str) -> Result:
    return CliRunner().invoke(app, ["bench", "ledger", *args])


def test_the_backend_comes_from_the_database_url(database_url: str) -> None:
    result = bench("--database-url", database_url, *TINY)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    expected = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    assert (report["backend"], report["transfers"], report["failed"]) == (expected, 300, 0)


def test_an_agreeing_backend_is_accepted(database_url: str) -> None:
    backend = "postgres" if database_url.startswith("postgresql") else "sqlite"
    result = bench("--backend", backend, "--database-url", database_url, *TINY)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("backend", "url", "scheme_is"),
    [
        ("sqlite", "postgresql://guardpay:s3cret@db.invalid/guardpay", "postgres"),
        ("sqlite", "postgres://db.invalid/guardpay", "postgres"),
        ("sqlite", "postgresql+psycopg://db.invalid/guardpay", "postgres"),
        ("postgres", "sqlite:///somewhere/guardpay.db", "sqlite"),
    ],
)
def test_a_conflicting_backend_is_a_usage_error(backend: str, url: str, scheme_is: str) -> None:
    result = bench("--backend", backend, "--database-url", url, *TINY)
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.replace("│", " ").split())  # rich's box, unwrapped
    assert f"--backend {backend}" in message
    assert f"a {scheme_is} URL" in message
    assert "s3cret" not in message  # the URL itself (a password, say) is never echoed
    assert result.stdout == ""


def test_an_unknown_scheme_is_a_usage_error() -> None:
    result = bench("--database-url", "mysql://db.invalid/guardpay", *TINY)
    assert result.exit_code == 2, result.output
    assert "sqlite" in result.output
    assert "postgresql" in result.output


def test_backend_of_url() -> None:
    assert backend_of_url("sqlite:///x.db") == "sqlite"
    assert backend_of_url("SQLite+pysqlite:///x.db") == "sqlite"
    for url in ("postgresql://h/d", "postgres://h/d", "postgresql+psycopg://u:p@h:5432/d"):
        assert backend_of_url(url) == "postgres"
