"""Laundering detection, measured on the simulator's labelled world: every AML scenario
over the whole period, judged per account.

The simulator labels each laundering transaction with its typology; its laundering
accounts exist only for their case, so an account is laundering if it paid or was paid
in a laundering transaction. An account is caught if the scan flags it (any scenario,
combined score at least `scan.MIN_SCORE`). Precision, recall and F1 are over accounts;
recall is also given per typology, and precision per scenario (how many of the accounts
a scenario flags launder), because that is what an analyst's queue is made of. The cost
side is the number of alerts per 1,000 accounts a month, an alert being one group of
flagged accounts that moved money among themselves (a mule network is one case to
open, not sixteen); flagged accounts per 1,000 a month are given beside it. A false
alarm that took part in labelled fraud (a scam's cash-out mule) is counted apart: AML
is right to look at it, but the labels say it did not launder.

Only movements that happened count (status `succeeded`). A top-up comes from the
payer's card, a withdrawal goes to it (`card:<user>`), a refund goes back from the
merchant; card nodes are part of the graph but are not accounts to flag.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.metrics import average_precision_score

from guardpay.adapters.analytics import DuckDBEngine, Engine
from guardpay.domain.aml.frame import OUTSIDE, SCHEMA, Params
from guardpay.domain.aml.scenarios import by_typology
from guardpay.ml.model import TrainedModel
from guardpay.services.aml import model as aml_model
from guardpay.services.aml.scan import flag, scan, scored

#: the targets of the standard world (10,000 users, 30 days)
F1_TARGET = 0.8
ALERTS_TARGET = 5.0


def transactions(frame: pl.DataFrame) -> pa.Table:
    """The simulator's succeeded movements as AML transactions."""
    done = frame.filter(pl.col("status") == "succeeded") if "status" in frame.columns else frame
    payee = pl.coalesce(
        pl.when(pl.col("payee_id") != "").then(pl.col("payee_id")),
        pl.when(pl.col("merchant_id") != "").then(pl.col("merchant_id")),
    )
    card = pl.lit(OUTSIDE) + pl.col("user_id")
    kind = pl.col("kind")
    source = (
        pl.when(kind == "topup")
        .then(card)
        .when(kind == "refund")
        .then(payee)
        .otherwise(pl.col("user_id"))
    )
    target = (
        pl.when(kind == "topup")
        .then(pl.col("user_id"))
        .when(kind == "withdrawal")
        .then(card)
        .when(kind == "refund")
        .then(pl.col("user_id"))
        .otherwise(payee)
    )
    moved = done.select(
        id=pl.col("tx_id"),
        source=source,
        target=target,
        amount=pl.col("amount").cast(pl.Int64),
        at=pl.col("ts").dt.replace_time_zone(None).dt.cast_time_unit("us"),
        device=pl.col("device_id"),
    ).filter(pl.col("source").is_not_null() & pl.col("target").is_not_null())
    return moved.to_arrow().cast(SCHEMA.to_pyarrow())


def laundering_accounts(frame: pl.DataFrame) -> dict[str, str]:
    """Each laundering account and the typology of its case."""
    rows = frame.filter(pl.col("is_laundering") == 1)
    found: dict[str, str] = {}
    for r in rows.select(
        "user_id", "payee_id", "payee_is_merchant", "laundering_typology"
    ).iter_rows():
        payer, payee, merchant, typology = r
        found.setdefault(payer, typology)
        if payee and not merchant:
            found.setdefault(payee, typology)
    return found


def train(
    frame: pl.DataFrame, seed: int = 7, source: str = "", params: Params = Params()
) -> TrainedModel:
    """An AML model (services/aml/model.py) trained on a simulated world's labelled
    laundering: every account's features, cycle membership from the cycle scenario."""
    engine = DuckDBEngine()
    try:
        moved = transactions(frame)
        table = engine.table(moved)
        cycles = scan(engine, moved, params, by_typology(["cycle"])).findings
        rows = aml_model.feature_rows(engine, table, moved, cycles, params)
    finally:
        engine.close()
    return aml_model.train(rows, laundering_accounts(frame).keys(), seed, source)


def evaluate(
    frame: pl.DataFrame,
    engine: Engine | None = None,
    params: Params = Params(),
    model: TrainedModel | None = None,
) -> dict[str, Any]:
    """Account-level detection of the labelled laundering (`frame` as `data.prepare`
    gives it); with a `model`, the scenarios and the model combined, and beside them
    what each alone would have flagged."""
    own = engine is None
    runner = engine or DuckDBEngine()
    truth = laundering_accounts(frame)
    days = max(1, frame["day"].n_unique())
    people = set(frame["user_id"].unique().to_list())
    per_month = 1_000 * 30 / days / max(1, len(people))
    try:
        moved = transactions(frame)
        result = scan(runner, moved, params, model=model)
        alone = {} if model is None else _alone(runner, result.findings, moved, truth, per_month)
    finally:
        if own:
            runner.close()
    flagged = set(result.flagged["account"].to_pylist())
    groups = alert_groups(moved, flagged)
    fraud = set(frame.filter(pl.col("is_fraud") == 1)["user_id"].to_list())
    fraud |= set(frame.filter(pl.col("is_fraud") == 1)["payee_id"].to_list())
    wrong = flagged - truth.keys()
    return (
        _figures(truth, flagged, len(groups) * per_month)
        | alone
        | {
            "accounts": len(people),
            "alerts": len(groups),
            "flagged_accounts_per_1000_month": round(len(flagged) * per_month, 2),
            "false_alarms_in_fraud": len(wrong & fraud),
            "per_scenario": _per_scenario(result.findings, truth),
            "scan": result.as_dict(),
        }
    )


def _alone(
    engine: Engine, findings: pa.Table, moved: pa.Table, truth: dict[str, str], per_month: float
) -> dict[str, dict[str, dict[str, Any]]]:
    """What the scenarios alone (with their second look), the model alone trusted at
    full weight, and both with the model at full weight would have flagged: precision,
    recall, F1 and alerts, as the combined figures are given; and how well the
    scenarios' and the combined score order the queue."""
    by_model = pc.equal(findings["typology"], aml_model.TYPOLOGY)
    modelled = findings.filter(by_model)
    full_score = pc.divide(modelled["score"], aml_model.WEIGHT)
    scenarios = findings.filter(pc.invert(by_model))
    score_at = modelled.schema.get_field_index("score")
    full = modelled.set_column(score_at, "score", full_score).cast(modelled.schema)
    parts = {
        "scenarios": scenarios,
        "model": full,
        "model_at_full_weight": pa.concat_tables([scenarios, full]),
    }
    out: dict[str, dict[str, Any]] = {}
    for name, part in parts.items():
        flagged = set(flag(engine, part)["account"].to_pylist())
        figures = _figures(truth, flagged, len(alert_groups(moved, flagged)) * per_month)
        out[name] = {k: figures[k] for k in _SHORT}
    accounts = sorted(_accounts(moved) | truth.keys())
    ranked = {"scenarios": parts["scenarios"], "combined": findings}
    for name, part in ranked.items():
        out.setdefault(name, {})["average_precision"] = _average_precision(
            scored(engine, part), accounts, truth
        )
    return {"alone": out}


def _accounts(moved: pa.Table) -> set[str]:
    ends = set(moved["source"].to_pylist()) | set(moved["target"].to_pylist())
    return {a for a in ends if not a.startswith(OUTSIDE)}


def _average_precision(combined: pa.Table, accounts: list[str], truth: dict[str, str]) -> float:
    """How well the score orders an analyst's queue: average precision over every
    account (an account with no finding scores 0)."""
    score = dict(zip(combined["account"].to_pylist(), combined["score"].to_pylist(), strict=True))
    labels = [a in truth for a in accounts]
    if not any(labels):
        return 0.0
    values = [score.get(a, 0.0) for a in accounts]
    return round(float(average_precision_score(labels, values)), 3)


_SHORT = (
    "flagged_accounts",
    "caught",
    "precision",
    "recall",
    "f1",
    "alerts_per_1000_accounts_month",
)


def alert_groups(moved: pa.Table, flagged: set[str]) -> list[set[str]]:
    """The flagged accounts in groups that moved money among themselves: one alert each,
    as an analyst would open one case for a mule network, not one per account."""
    parent = {a: a for a in flagged}

    def root(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for source, target in zip(
        moved["source"].to_pylist(), moved["target"].to_pylist(), strict=True
    ):
        if source in parent and target in parent:
            parent[root(source)] = root(target)
    groups: dict[str, set[str]] = {}
    for account in flagged:
        groups.setdefault(root(account), set()).add(account)
    return list(groups.values())


def _figures(truth: dict[str, str], flagged: set[str], alerts: float) -> dict[str, Any]:
    caught = flagged & truth.keys()
    precision = len(caught) / len(flagged) if flagged else 0.0
    recall = len(caught) / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if caught else 0.0
    per_typology: dict[str, dict[str, Any]] = {}
    for typology in sorted(set(truth.values())):
        accounts = {a for a, t in truth.items() if t == typology}
        found = accounts & flagged
        per_typology[typology] = {
            "accounts": len(accounts),
            "caught": len(found),
            "recall": round(len(found) / len(accounts), 3),
            "missed": sorted(accounts - found),
        }
    return {
        "available": True,
        "laundering_accounts": len(truth),
        "flagged_accounts": len(flagged),
        "caught": len(caught),
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "alerts_per_1000_accounts_month": round(alerts, 2),
        "targets": {"f1": F1_TARGET, "alerts_per_1000_accounts_month": ALERTS_TARGET},
        "target_met": f1 >= F1_TARGET and alerts <= ALERTS_TARGET,
        "per_typology": per_typology,
        "false_alarms": sorted(flagged - truth.keys())[:50],
    }


def _per_scenario(findings: pa.Table, truth: dict[str, str]) -> dict[str, dict[str, Any]]:
    by: dict[str, set[str]] = {}
    for typology, account in zip(
        findings["typology"].to_pylist(), findings["account"].to_pylist(), strict=True
    ):
        by.setdefault(typology, set()).add(account)
    return {
        name: {
            "flagged": len(accounts),
            "laundering": len(accounts & truth.keys()),
            "precision": round(len(accounts & truth.keys()) / len(accounts), 3),
        }
        for name, accounts in sorted(by.items())
    }
