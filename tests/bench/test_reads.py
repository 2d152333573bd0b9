"""`guardpay bench reads` on a kept database: it samples every part and times each
read, before and after the parts are merged; the report says how many parts it read."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from guardpay.bench import reads
from guardpay.cli.main import app
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.results import Result
from guardpay.services.ledger import parts as part_jobs
from guardpay.services.ledger.books import execute
from guardpay.storage import ledger_parts
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work
from tests.factories import account, transfer, wallet

READS = ("baseline", "latest_page", "page_of_100", "transfer_by_id")


def books_in_parts(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nine transfers, a part each after the first (parts sealed at one transfer)."""
    monkeypatch.setattr(ledger_parts, "TRANSFERS_PER_PART", 1)
    with unit_of_work(db) as uow:
        opened = execute(uow, [account(1, code=AccountCode.RESERVE), wallet(10), wallet(11)])
        assert opened == [Result.ok] * 3
    for n in range(100, 109):
        with unit_of_work(db) as uow:
            assert execute(uow, [transfer(n, 1, 10 + n % 2, 5)]) == [Result.ok]


def test_reads_sample_every_part_before_and_after_a_merge(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    books_in_parts(db, monkeypatch)
    before = reads.run(db, samples=20)
    assert (before["parts"], before["transfers"], before["accounts"]) == (9, 9, 3)
    assert all(before[name]["p99_ms"] >= before[name]["p50_ms"] > 0 for name in READS)
    assert len(part_jobs.merge(db)) == 1
    after = reads.run(db, samples=20)
    assert (after["parts"], after["transfers"]) == (6, 9)


def test_the_command_prints_the_report(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    books_in_parts(db, monkeypatch)
    result = CliRunner().invoke(
        app, ["--database-url", database_url, "bench", "reads", "--samples", "10", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["parts"] == 9
    assert set(READS) <= report.keys()
