"""`guardpay bench api`: a short run against a real server process answers the documented
JSON, made real payments, and none of them failed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from guardpay.cli.main import app

pytestmark = pytest.mark.slow

KEYS = {
    "payments_per_second",
    "p50_ms",
    "p99_ms",
    "errors",
    "seconds",
    "workers",
    "baseline",
    "risk_decisions",
    "authorisation",
}


def test_bench_api_short_run() -> None:
    result = CliRunner().invoke(app, ["bench", "api", "--seconds", "2", "--workers", "2",
                                      "--payers", "40", "--payees", "10", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= KEYS
    assert report["payments"] > 0
    assert report["payments_per_second"] > 0
    assert report["errors"] == 0
    assert 0 < report["p50_ms"] <= report["p99_ms"]
    assert report["workers"] == 2
    paid = report["payments"]
    assert report["payment_statuses"]["succeeded"] >= paid  # the database agrees
    assert report["risk_decisions"].get("allow", 0) >= paid  # risk control decided each one
    baseline = report["baseline"]
    assert baseline["what"] == "GET /healthz over the same client and server"
    assert baseline["requests_per_second"] > 0
    assert baseline["errors"] == 0
