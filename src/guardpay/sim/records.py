"""The output: one row per attempted money-moving request, the population, a manifest.

Columns (`TX_COLUMNS`) are a superset of `RiskRequest`'s fields, so an evaluation can
rebuild each request and replay it, plus what the platform answered (status, decision,
score) and the ground truth (labels and the case that made the request). Ids in the
outputs are the simulation's own (`P000123`, `M00042`, `tx_0000001`, `C...` cases),
deterministic for a seed; the platform's random ids (`usr_...`, `pay_...`) are mapped to
them, except `payment_id`, which is the platform's and so differs between runs.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from guardpay.sim.config import FRAUD_TYPOLOGIES, LAUNDERING_TYPOLOGIES

TX_SCHEMA: dict[str, Any] = {
    "tx_id": pl.Utf8,
    "ts": pl.Utf8,
    "day": pl.Int64,
    "kind": pl.Utf8,
    "channel": pl.Utf8,
    "user_id": pl.Utf8,
    "payee_id": pl.Utf8,
    "payee_is_merchant": pl.Boolean,
    "merchant_id": pl.Utf8,
    "amount": pl.Int64,
    "currency": pl.Utf8,
    "device_id": pl.Utf8,
    "ip": pl.Utf8,
    "lat": pl.Float64,
    "lon": pl.Float64,
    "account_created_at": pl.Utf8,
    "account_class": pl.Int64,
    "balance_before": pl.Int64,
    "credential_changed_at": pl.Utf8,
    "payee_created_at": pl.Utf8,
    "payment_id": pl.Utf8,
    "status": pl.Utf8,
    "decision": pl.Utf8,
    "score": pl.Int64,
    "is_fraud": pl.Int64,
    "fraud_typology": pl.Utf8,
    "is_laundering": pl.Int64,
    "laundering_typology": pl.Utf8,
    "case_id": pl.Utf8,
    "failure_code": pl.Utf8,
}
TX_COLUMNS = tuple(TX_SCHEMA)
#: columns that are the same in every run with the same seed (not payment_id)
DETERMINISTIC_COLUMNS = tuple(c for c in TX_COLUMNS if c != "payment_id")


@dataclass(frozen=True)
class Case:
    case_id: str
    typology: str
    family: str  # fraud | laundering
    day: int
    actors: tuple[str, ...]  # simulation ids of the accounts the case used


def tx_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return (
        pl.DataFrame(rows, schema=TX_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=TX_SCHEMA)
    )


def typology_counts(frame: pl.DataFrame, cases: list[Case]) -> dict[str, dict[str, int]]:
    """Per typology: cases opened, cases that made a request, requests made and succeeded."""
    made = Counter[str]()
    ok = Counter[str]()
    active: dict[str, set[str]] = {}
    for col in ("fraud_typology", "laundering_typology"):
        for typ, case, status in frame.select(col, "case_id", "status").iter_rows():
            if typ:
                made[typ] += 1
                ok[typ] += status == "succeeded"
                active.setdefault(typ, set()).add(case)
    opened = Counter(c.typology for c in cases)
    return {
        t: {
            "cases": opened[t],
            "active_cases": len(active.get(t, ())),
            "transactions": made[t],
            "succeeded": ok[t],
        }
        for t in FRAUD_TYPOLOGIES + LAUNDERING_TYPOLOGIES
    }


def write_outputs(
    out: Path,
    frame: pl.DataFrame,
    people: pl.DataFrame,
    merchants: pl.DataFrame,
    cases: list[Case],
    manifest: dict[str, Any],
) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(out / "transactions.parquet")
    frame.write_csv(out / "transactions.csv")
    people.write_parquet(out / "population.parquet")
    people.write_csv(out / "population.csv")
    merchants.write_parquet(out / "merchants.parquet")
    merchants.write_csv(out / "merchants.csv")
    case_rows = [
        {
            "case_id": c.case_id,
            "typology": c.typology,
            "family": c.family,
            "day": c.day,
            "actors": ",".join(c.actors),
        }
        for c in cases
    ]
    case_schema = {
        "case_id": pl.Utf8,
        "typology": pl.Utf8,
        "family": pl.Utf8,
        "day": pl.Int64,
        "actors": pl.Utf8,
    }
    case_frame = pl.DataFrame(case_rows, schema=case_schema, orient="row")
    case_frame.write_parquet(out / "cases.parquet")
    case_frame.write_csv(out / "cases.csv")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def totals(frame: pl.DataFrame, users: int) -> dict[str, Any]:
    n = frame.height
    fraud = int(frame["is_fraud"].sum()) if n else 0
    laundering = int(frame["is_laundering"].sum()) if n else 0
    statuses = dict(Counter(frame["status"].to_list()))
    return {
        "transactions": n,
        "fraud_transactions": fraud,
        "laundering_transactions": laundering,
        "fraud_share": round(fraud / n, 5) if n else 0.0,
        "laundering_share": round(laundering / n, 5) if n else 0.0,
        "users": users,
        "by_status": {k: int(v) for k, v in sorted(statuses.items())},
    }
