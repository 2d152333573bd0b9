"""`guardpay jobs list|run`: the registry, one run per job with counts, unknown names."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from guardpay.cli.main import app
from guardpay.services.jobs import scheduler as jobs
from guardpay.storage.engine.db import Database
from guardpay.storage.idempotency import IdempotencyRepository
from guardpay.storage.uow import unit_of_work
from tests.services.payments.test_core import World


def test_list_and_run_once(db: Database, database_url: str) -> None:
    listed = CliRunner().invoke(app, ["jobs", "list", "--json"])
    assert [j["name"] for j in json.loads(listed.stdout)] == [j.name for j in jobs.JOBS]
    world = World(db)
    world.clock.at = world.clock.at.replace(year=2020)  # a key from long ago
    with unit_of_work(db) as uow:
        IdempotencyRepository(uow.conn).claim("ip:-", "old", "POST /v1/x", "0" * 64, world.clock())
    ran = CliRunner().invoke(app, ["--database-url", database_url, "jobs", "run", "--json"])
    assert ran.exit_code == 0, ran.output
    # the due day's large-value report (none reportable) is filed once, then is not due
    expected = {job.name: 0 for job in jobs.JOBS} | {
        "idempotency_purge": 1,
        "large_value_report": 1,
    }
    assert json.loads(ran.stdout) == expected
    again = CliRunner().invoke(app, ["--database-url", database_url, "jobs", "run", "--json"])
    assert json.loads(again.stdout)["large_value_report"] == 0
    bad = CliRunner().invoke(app, ["--database-url", database_url, "jobs", "run", "nope"])
    assert bad.exit_code == 2
    assert "unknown job 'nope'" in bad.output
