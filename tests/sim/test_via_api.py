"""`guardpay simulate --via-api`: the same population through the HTTP API. Deterministic
for a seed, every typology present, and the requests really went over HTTP: sessions,
Idempotency-Keys, merchant signatures and the bank's signed callbacks left their traces
in the database.

The two modes differ on purpose in one place: over HTTP the terminal's collect of a
payment code is the merchant's request, so risk control sees the terminal there, not the
payer's phone; decisions after a payer's first payment-code payment can therefore differ.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from guardpay.sim.config import TYPOLOGIES
from guardpay.sim.records import DETERMINISTIC_COLUMNS
from guardpay.sim.runner import Result, run
from guardpay.storage.engine.db import Database
from tests.sim.test_simulate import CFG

API_CFG = replace(CFG, via_api=True)


@pytest.fixture(scope="module")
def api_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result, Result]:
    first = tmp_path_factory.mktemp("via_api")
    return first, run(API_CFG, first), run(API_CFG, tmp_path_factory.mktemp("again"))


def test_a_seed_gives_the_same_run_through_the_api(api_runs: tuple[Path, Result, Result]) -> None:
    _, a, b = api_runs
    assert a.transactions.height == b.transactions.height > 200
    assert a.transactions.select(DETERMINISTIC_COLUMNS).equals(
        b.transactions.select(DETERMINISTIC_COLUMNS)
    )
    assert a.manifest["parameters"]["via_api"] is True
    assert "requests through the HTTP API" in a.manifest["notes"]


def test_every_typology_acts_through_the_api(api_runs: tuple[Path, Result, Result]) -> None:
    counts = api_runs[1].manifest["typologies"]
    for typology in TYPOLOGIES:
        assert counts[typology]["active_cases"] >= 1, typology
        assert counts[typology]["transactions"] >= counts[typology]["active_cases"], typology
    statuses = set(api_runs[1].transactions["status"].to_list())
    assert {"succeeded", "failed", "requires_action"} <= statuses


def test_the_requests_went_over_http(api_runs: tuple[Path, Result, Result]) -> None:
    out, result = api_runs[0], api_runs[1]
    db = Database(f"sqlite:///{out / 'simulation.db'}")
    try:
        with db.read() as conn:
            count = {
                t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in (
                    "idempotency_keys",
                    "merchant_api_keys",
                    "merchant_nonces",
                    "auth_sessions",
                    "bank_callbacks",
                )
            }
    finally:
        db.dispose()
    frame = result.transactions
    assert count["idempotency_keys"] >= frame.height  # a key on every POST
    assert count["merchant_api_keys"] >= 1
    assert count["merchant_nonces"] >= frame.filter(frame["channel"] == "payment_code").height
    assert count["auth_sessions"] >= 1
    settled = frame.filter(
        frame["kind"].is_in(["topup", "withdrawal"]) & (frame["status"] == "succeeded")
    ).height
    assert count["bank_callbacks"] >= settled > 0  # each answered through the endpoint
