"""`guardpay bench audit` (bench/audit.py): it writes the entries it says, archives all but
the newest tenth, and every check it times comes back clean. On both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardpay.bench import audit as audit_bench
from guardpay.storage.engine.db import Database


def test_the_audit_bench_fills_archives_and_verifies(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_bench, "CHUNK", 70)  # several units of work
    result = audit_bench.measure(db, 200, tmp_path / "archive")
    assert result["ok"] is True
    assert result["entries"] == 200
    assert result["archive"]["files"] == 1
    assert result["archive"]["bytes"] > 0
    # entries 1..180 are older than the cutoff (181 too, if the clock moved on since it
    # was written); the archive run adds one entry of its own
    archived = result["verify_files"]["archived_through"]
    assert archived in (180, 181)
    assert result["verify_registry"]["live"] == 201 - archived
    assert result["verify_files"]["read"] == 201
    assert [p.name for p in (tmp_path / "archive").iterdir()] == [
        f"audit-000000000001-{archived:012d}.jsonl.gz"
    ]
