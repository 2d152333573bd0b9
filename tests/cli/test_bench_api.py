"""`guardpay bench api`: a short run against a real server process answers the documented
JSON, made real payments, and none of them failed. Enough payers that none pays five
times a minute: more would be a velocity burst, which risk control rightly challenges."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from guardpay.bench import api as api_bench
from guardpay.cli.main import app
from guardpay.services.risk.engine import REDIS_ENV, REDIS_PREFIX_ENV
from guardpay.storage.engine.db import Database, normalize_url
from guardpay.storage.engine.scratch import throwaway_database
from tests.adapters.test_risk_state import redis_url, require_redis
from tests.conftest import postgres_url, require_postgres

pytestmark = pytest.mark.slow

KEYS = {
    "payments_per_second",
    "p50_ms",
    "p99_ms",
    "errors",
    "seconds",
    "workers",
    "baseline",
    "floor",
    "risk_decisions",
    "authorisation",
}


def test_bench_api_short_run() -> None:
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "api",
            "--seconds",
            "2",
            "--workers",
            "2",
            "--payers",
            "300",
            "--payees",
            "75",
            "--prefill",
            "500",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= KEYS
    # the books held 500 past payments before the server started: each payer's seeded
    # top-up, its prefill top-up, then the payments' own transfers
    assert report["prefill"]["payments"] == 500
    assert report["prefill"]["ledger_transfers"] == 300 + 300 + 500
    assert report["payments"] > 0
    assert report["payments_per_second"] > 0
    assert report["errors"] == 0
    assert 0 < report["p50_ms"] <= report["p99_ms"]
    assert report["workers"] == 2
    paid = report["payments"]
    assert report["payment_statuses"]["succeeded"] >= paid + 500  # the database agrees
    assert report["risk_decisions"].get("allow", 0) >= paid + 500  # decided each one
    baseline = report["baseline"]
    assert baseline["what"] == "GET /healthz over the same client and server"
    assert baseline["requests_per_second"] > 0
    assert baseline["errors"] == 0
    floor = report["floor"]  # the transfer route's own cost, refused before the database
    assert floor["what"].startswith("POST /v1/transfers without credentials")
    assert floor["requests_per_second"] > 0
    assert floor["errors"] == 0  # every one answered 401 authentication_required
    ratio = report["payments_per_second"] / floor["requests_per_second"]
    assert report["payments_per_floor_request"] == pytest.approx(ratio, abs=0.001)
    # the server's own CPU per request, read from /proc: a payment costs more than a
    # refusal before the database, which costs something
    per_payment, per_refusal = (
        report["server_cpu_ms_per_payment"],
        floor["server_cpu_ms_per_request"],
    )
    assert per_payment > per_refusal > 0
    assert baseline["server_cpu_ms_per_request"] > 0
    assert report["server_cpu_payment_per_floor_request"] == pytest.approx(
        per_payment / per_refusal, abs=0.01
    )
    # what the target would allow a payment, after the load generator's own CPU
    met = report["payments_per_second"] >= 1_000 and report["p99_ms"] < 100
    assert report["target_met"] is met
    spend = report["budget_at_target"]
    assert spend["server_cpu_ms_spent"] == pytest.approx(per_payment, abs=0.01)
    assert 0 < spend["client_cpu_ms_per_payment"] < spend["cpu_ms_per_payment_at_target"]
    allowed = spend["cpu_ms_per_payment_at_target"] - spend["client_cpu_ms_per_payment"]
    assert spend["server_cpu_ms_allowed"] == pytest.approx(allowed, abs=0.01)
    assert spend["server_spent_per_allowed"] == pytest.approx(per_payment / allowed, rel=0.02)


#: the runs that keep risk state in Redis check that no key of theirs is left under
#: `guardpay-bench:`; one at a time, so one never sees the other's keys mid-run
ONE_REDIS_RUN_AT_A_TIME = pytest.mark.xdist_group("bench_api_redis")


def record_redis_prefixes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Redis key prefixes the runs give their servers, as they are handed out."""
    prefixes: list[str] = []
    shared_state = api_bench._shared_state

    @contextmanager
    def recorded(shared: bool, url: str) -> Iterator[dict[str, str]]:
        with shared_state(shared, url) as env:
            prefixes.append(env[REDIS_PREFIX_ENV])
            yield env

    monkeypatch.setattr(api_bench, "_shared_state", recorded)
    return prefixes


def keys_left(prefixes: list[str]) -> list[bytes]:
    client = redis.Redis.from_url(redis_url())
    [prefix] = prefixes
    assert prefix.startswith("guardpay-bench:")
    return list(client.scan_iter(match=f"{prefix}:*", count=1_000))


@ONE_REDIS_RUN_AT_A_TIME
def test_bench_api_against_two_server_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve --workers 2` on one SQLite file: both workers pay (the writer lock queues
    them across processes), risk features are shared in Redis under the run's own
    prefix, and the prefix is gone afterwards."""
    require_redis()
    prefixes = record_redis_prefixes(monkeypatch)
    args = [
        "bench",
        "api",
        "--seconds",
        "2",
        "--workers",
        "4",
        "--payers",
        "300",
        "--payees",
        "75",
        "--server-workers",
        "2",
        "--redis-url",
        redis_url(),
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["server_workers"], report["risk_state"]) == (2, "redis")
    assert report["payments"] > 0
    assert report["errors"] == 0
    assert report["payment_statuses"]["succeeded"] >= report["payments"]
    assert keys_left(prefixes) == []


def test_several_workers_need_shared_risk_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REDIS_ENV, raising=False)
    result = CliRunner().invoke(
        app, ["--database-url", "sqlite:///unused.db", "serve", "--workers", "2"]
    )
    assert result.exit_code == 2
    assert REDIS_ENV in result.output


@ONE_REDIS_RUN_AT_A_TIME
def test_bench_api_on_postgresql_with_redis_risk_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--database-url postgresql://...`: the server pays in a scratch schema of its own
    on that server (the batching of payments runs there too), with its risk features in
    Redis; the schema and the Redis prefix are gone afterwards."""
    require_postgres()
    require_redis()
    prefixes = record_redis_prefixes(monkeypatch)
    schemas: list[str | None] = []

    @contextmanager
    def recorded(backend: str, url: str) -> Iterator[Database]:
        with throwaway_database(backend, url) as db:
            schemas.append(db.schema)
            yield db

    monkeypatch.setattr(api_bench, "throwaway_database", recorded)
    args = ["bench", "api", "--seconds", "2", "--workers", "4", "--payers", "300"]
    args += ["--payees", "75", "--redis-risk", "--redis-url", redis_url()]
    result = CliRunner().invoke(app, [*args, "--database-url", postgres_url(), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["database"], report["risk_state"]) == ("postgresql", "redis")
    assert report["payments"] > 0
    assert report["errors"] == 0
    assert report["payment_statuses"]["succeeded"] >= report["payments"]
    assert report["payment_batches"]["batches"] > 0
    [schema] = schemas
    assert schema is not None
    engine = create_engine(normalize_url(postgres_url()))
    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema}
        ).scalar_one()
    engine.dispose()
    assert left == 0
    assert keys_left(prefixes) == []


def test_bench_api_takes_only_a_postgresql_url() -> None:
    result = CliRunner().invoke(
        app, ["bench", "api", "--database-url", "sqlite:///elsewhere.db", "--json"]
    )
    assert result.exit_code == 2
    assert "PostgreSQL URL" in result.output
