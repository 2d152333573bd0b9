"""`guardpay bench aml`: every AML scenario over a generated history of N transactions
among M accounts, on DuckDB (or Spark, to compare), with the rows per second of each.

The history is ordinary life with laundering planted in it. Each ordinary account has a
few regular counterparties it pays again and again (a household's shops, friends and
bills), at log-normal amounts (rarely a round sum), at any time of 30 days; a share of
payments go to a stranger. Into that go `cases` cases of each planted typology
(structuring, a mule's fan-in then fan-out, rapid pass-through, scatter-gather, a cycle,
a dormant account woken, an account farm on one phone, layering through a layer of
intermediaries, a merchant's false trade), drawn from accounts of their own, so the
report can also say how many planted accounts their scenario found (a check that the
scan still sees what it should at size, not a measure of accuracy: `guardpay evaluate`
measures that on the simulator's labelled world).

The baseline, in the same run on the same engine and table: one pass that groups every
transaction by its payer (count and sum), the least any scan over the table must do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from guardpay.adapters.analytics import Engine, make_engine
from guardpay.domain.aml.frame import OUTSIDE, SCHEMA, Params
from guardpay.services.aml import model as aml_model
from guardpay.services.aml.scan import scan

START = datetime(2024, 3, 1)
DAYS = 30
#: the target: every scenario over 10 million transactions within a minute (DuckDB)
TARGET_SECONDS = 60.0

Rows = list[dict[str, Any]]


def ordinary(transactions: int, accounts: int, seed: int = 7) -> pa.Table:
    """`transactions` payments among `accounts` people: four in five to one of the
    payer's five regular counterparties, the rest to anyone."""
    rng = np.random.default_rng(seed)
    payer = rng.integers(0, accounts, transactions)
    regular = (payer * 7_919 + rng.integers(1, 6, transactions) * 104_729) % accounts
    anyone = rng.integers(0, accounts, transactions)
    payee = np.where(rng.random(transactions) < 0.8, regular, anyone)
    payee = np.where(payee == payer, (payee + 1) % accounts, payee)
    amount = np.clip(rng.lognormal(8.5, 1.3, transactions), 100, 2_000_000).astype(np.int64)
    seconds = rng.integers(0, DAYS * 86_400, transactions)
    at = np.datetime64(START, "us") + seconds.astype("timedelta64[s]")
    return pa.table(
        {
            "id": _names("t", np.arange(transactions)),
            "source": _names("a", payer),
            "target": _names("a", payee),
            "amount": pa.array(amount, pa.int64()),
            "at": pa.array(at, pa.timestamp("us")),
            "device": pa.nulls(transactions, pa.string()),
        },
        schema=SCHEMA.to_pyarrow(),
    )


def _names(prefix: str, numbers: np.ndarray[Any, Any]) -> pa.Array:
    text = pc.cast(pa.array(numbers), pa.string())
    return pc.binary_join_element_wise(prefix, text, "")


def planted(cases: int, p: Params, seed: int = 11) -> tuple[pa.Table, dict[str, set[str]]]:
    """`cases` cases of each planted typology, and the accounts each one's scenario
    should flag."""
    rng = np.random.default_rng(seed)
    rows: Rows = []
    expected: dict[str, set[str]] = {}
    for typology, plant in PLANTS.items():
        expected[typology] = set()
        for case in range(cases):
            day = float(rng.integers(1, DAYS - 5))
            flagged = plant(rows, f"{typology}{case}", day, p)
            expected[typology].add(flagged)
    for i, row in enumerate(rows):
        row["id"] = f"p{i}"
    return pa.Table.from_pylist(rows, schema=SCHEMA.to_pyarrow()), expected


def _move(
    rows: Rows, source: str, target: str, amount: int, days: float, device: str | None = None
) -> None:
    at = START + timedelta(days=days)
    rows.append({"source": source, "target": target, "amount": amount, "at": at, "device": device})


def _structuring(rows: Rows, name: str, day: float, p: Params) -> str:
    below = min(p.thresholds) - min(p.thresholds) * p.near_bp // 20_000
    for k in range(4):
        _move(rows, f"{name}s", f"{name}c{k}", below - 100 * k, day + k)
    return f"{name}s"


def _mule(rows: Rows, name: str, day: float, p: Params) -> str:
    for k in range(p.fan_degree + 2):
        _move(rows, f"{name}in{k}", f"{name}m", 300_000, day + k / 100)
    for k in range(p.fan_degree + 2):
        _move(rows, f"{name}m", f"{name}out{k}", 290_000, day + 0.5 + k / 100)
    return f"{name}m"


def _pass_through(rows: Rows, name: str, day: float, p: Params) -> str:
    _move(rows, f"{name}src", f"{name}p", 3 * p.large_amount, day)
    _move(rows, f"{name}p", f"{name}dst", 3 * p.large_amount * 97 // 100, day + 0.1)
    return f"{name}p"


def _scatter_gather(rows: Rows, name: str, day: float, p: Params) -> str:
    for k in range(p.scatter_width + 1):
        _move(rows, f"{name}s", f"{name}i{k}", 900_000, day + k / 50)
        _move(rows, f"{name}i{k}", f"{name}g", 880_000, day + 0.5 + k / 50)
    return f"{name}s"


def _cycle(rows: Rows, name: str, day: float, p: Params) -> str:
    amount = 20 * p.cycle_min_amount
    hops = [f"{name}n{k}" for k in range(4)]
    for k, source in enumerate(hops):
        _move(rows, source, hops[(k + 1) % len(hops)], amount, day + k / 4)
        amount = amount * 97 // 100
    return hops[0]


def _dormant(rows: Rows, name: str, day: float, p: Params) -> str:
    _move(rows, f"{name}d", f"{name}old", 5_000, day - p.dormant_days - 30)
    _move(rows, f"{name}src", f"{name}d", 2 * p.reactivated_amount, day)
    _move(rows, f"{name}d", f"{name}dst", 2 * p.reactivated_amount - 1_000, day + 1)
    return f"{name}d"


def _farm(rows: Rows, name: str, day: float, p: Params) -> str:
    for k in range(p.farm_size + 1):
        _move(rows, f"{name}f{k}", f"{name}collector", 50_000, day + k / 24, f"{name}phone")
    return f"{name}collector"


def _layering(rows: Rows, name: str, day: float, p: Params) -> str:
    width = p.layer_width + 1
    for s in range(width):
        for i in range(width):
            _move(rows, f"{name}s{s}", f"{name}i{i}", 2 * p.flow_min_amount, day + (s + i) / 48)
    for i in range(width):
        for t in range(width):
            amount = 2 * p.flow_min_amount - 2_000
            _move(rows, f"{name}i{i}", f"{name}t{t}", amount, day + 0.5 + (i + t) / 48)
    return f"{name}i0"


def _false_trade(rows: Rows, name: str, day: float, p: Params) -> str:
    """A merchant paid round sums by two payers only, that banks the takings and then
    pays the payers back what they paid for all its sales but one, as refunds of sales
    already settled."""
    price = 50 * p.round_unit
    for k in range(p.trade_count + 1):
        _move(rows, f"{name}b{k % 2}", f"{name}shop", price, day + k / 8)
    _move(rows, f"{name}shop", f"{OUTSIDE}{name}", price * (p.trade_count + 1), day + 1)
    for k in range(p.trade_count):
        _move(rows, f"{name}shop", f"{name}b{k % 2}", price, day + 4 + k / 8)
    return f"{name}shop"


PLANTS: dict[str, Callable[[Rows, str, float, Params], str]] = {
    "structuring": _structuring,
    "fan_in": _mule,
    "rapid_pass_through": _pass_through,
    "scatter_gather": _scatter_gather,
    "cycle": _cycle,
    "dormant_reactivation": _dormant,
    "account_farm": _farm,
    "layering": _layering,
    "false_trade": _false_trade,
}


def run(
    transactions: int,
    accounts: int,
    cases: int = 100,
    engine_name: str = "duckdb",
    model_dir: Path | None = None,
) -> dict[str, Any]:
    """The benchmark end to end; the JSON the command prints. With `model_dir`, the
    AML model scores every account after the scenarios (its time is the `model` row)."""
    p = Params()
    model = None if model_dir is None else aml_model.load(model_dir)
    started = time.perf_counter()
    background = ordinary(transactions, accounts)
    planted_rows, expected = planted(cases, p)
    data = pa.concat_tables([background, planted_rows])
    generated = time.perf_counter() - started
    engine = make_engine(engine_name)
    try:
        baseline = _baseline(engine, data)
        started = time.perf_counter()
        result = scan(engine, data, p, model=model)
        seconds = time.perf_counter() - started
    finally:
        engine.close()
    found = _found(result.findings, expected)
    return {
        "engine": engine.name,
        "transactions": data.num_rows,
        "accounts": accounts,
        "generate_seconds": round(generated, 1),
        "baseline": baseline,
        "scan_seconds": round(seconds, 2),
        "rows_per_second": round(data.num_rows / seconds),
        "scan_per_baseline": round(seconds / baseline["seconds"], 1),
        "scenarios": [r.as_dict(data.num_rows) for r in result.runs],
        "flagged_accounts": result.flagged.num_rows,
        "planted": {k: len(v) for k, v in expected.items()},
        "planted_found": found,
        "target_seconds": TARGET_SECONDS,
        "target_met": seconds <= TARGET_SECONDS and engine.name == "duckdb",
    }


def _baseline(engine: Engine, data: pa.Table) -> dict[str, Any]:
    table = engine.table(data)
    started = time.perf_counter()
    engine.run(table.group_by("source").aggregate(n=table.count(), total=table.amount.sum()))
    seconds = time.perf_counter() - started
    return {
        "what": "group every transaction by payer (count, sum)",
        "seconds": round(seconds, 3),
        "rows_per_second": round(data.num_rows / seconds),
    }


def _found(findings: pa.Table, expected: dict[str, set[str]]) -> dict[str, int]:
    """How many planted accounts the scenario of their typology flagged."""
    rows = zip(findings["typology"].to_pylist(), findings["account"].to_pylist(), strict=True)
    flagged: dict[str, set[str]] = {}
    for typology, account in rows:
        flagged.setdefault(typology, set()).add(account)
    return {t: len(accounts & flagged.get(t, set())) for t, accounts in expected.items()}
