"""`guardpay bench risk` at a tiny size: the documented JSON comes out, every requested
decision was timed, and the model really took part (a timing target is not asserted:
that is what the full-size run is for)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from typer.testing import CliRunner

from guardpay.bench import risk
from guardpay.cli.main import app
from guardpay.domain.risk.features import RiskEvent

KEYS = {
    "decisions",
    "p50_ms",
    "p99_ms",
    "mean_ms",
    "max_ms",
    "history",
    "load_seconds",
    "baseline",
    "ratio_p99_to_baseline",
    "target_p99_ms",
    "met",
    "model_version",
    "store",
    "unit_of_work",
    "actions",
}


def test_tiny_run_reports_every_decision_with_the_model() -> None:
    report = risk.run(2_000, 200, users=300, merchants=30, show_progress=False)
    assert set(report) >= KEYS
    assert report["decisions"] == 200
    assert report["history"] == 2_000
    assert 0 < report["p50_ms"] <= report["p99_ms"] <= report["max_ms"]
    assert report["model_version"] is not None
    assert report["model_version"] == report["model_registered"]
    assert sum(report["actions"].values()) == 200
    base = report["baseline"]
    assert 0 < base["p50_ms"] <= base["p99_ms"]
    assert base["noop"]["p99_ms"] <= base["p99_ms"]
    assert report["target_p99_ms"] == 5.0
    assert report["met"] is (report["p99_ms"] <= 5.0)


def test_cli_passes_the_options_and_prints_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's wiring only (the run itself is the test above)."""
    seen: dict[str, Any] = {}

    def fake_run(history: int, decisions: int, **options: Any) -> dict[str, Any]:
        seen.update(options, history=history, decisions=decisions)
        return {"decisions": decisions, "p50_ms": 1.0, "p99_ms": 2.0}

    monkeypatch.setattr(risk, "run", fake_run)
    args = ["bench", "risk", "--history", "500", "--decisions", "50", "--redis", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"decisions": 50, "p50_ms": 1.0, "p99_ms": 2.0}
    assert seen["history"] == 500
    assert seen["use_redis"] is True
    assert seen["users"] == 20_000


def test_fast_event_equals_the_event_of_the_request() -> None:
    """The history skips the datetime round trip; it must record what the payment path
    would (hour of day in Asia/Shanghai included)."""
    pop = risk.population(50, 5, seed=1)
    rng = random.Random(3)
    for ts in range(risk.START, risk.START + 86_400, 3_599):
        t = risk.txn(pop, rng, ts)
        accepted = RiskEvent.from_request(risk.request(pop, t), accepted=t.accepted)
        assert risk.event(pop, t) == accepted
