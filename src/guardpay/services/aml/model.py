"""The AML model: a gradient-boosted classifier over the graph features of each account
(domain/aml/features.py), trained on labelled cases, whose score joins the scenarios'.

Why both: the scenarios are what an examiner can read (a typology and the values that
made it fire), and they miss what is a little off their shapes; the model weighs the
parts of every shape together, so it can catch some of those, and its explanation (the
features that pushed the score up, by their SHAP contributions) is evidence an analyst
can read too. Its probability, times `WEIGHT`, becomes one more finding (typology
`model`), which combines with the scenarios' as independent evidence (findings.combine).

At half weight the model alone never raises an alert: an alert must cite a typology an
examiner can explain to a regulator, and a model scoring a world it did not learn from
flags what was odd in its training world. On the standard simulated world, with a model
trained on another (seed 11), the scenarios already caught 57 of the 59 launderers;
trusted at full weight, the model added 8 false alarms and no catch (F1 0.905 -> 0.851),
and trained on a world with four times the laundering, 29 (F1 0.735). At half weight it
lifts a weak finding over the flag (a 0.4 finding with a model probability of 0.4
combines to 0.52) and orders the queue: average precision of the combined score 0.910,
of the scenarios' alone 0.834 (README "AML monitoring").

The model is trained with the risk model's trainer (ml/train.py: LightGBM, a stratified
split since accounts have no single time, early stopping on log loss); a directory
holds it (model.txt and meta.json, `kind: aml`), and a fraud model cannot be loaded in
its place.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import datetime
from pathlib import Path

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from guardpay.adapters.analytics import Engine
from guardpay.domain.aml import findings as found
from guardpay.domain.aml.features import FEATURES, WINDOW_DAYS, features
from guardpay.domain.aml.frame import Params
from guardpay.ml.artifacts import ModelUnavailable
from guardpay.ml.model import TrainedModel, load_model
from guardpay.ml.train import train_model

KIND = "aml"
TYPOLOGY = "model"
#: what a model probability counts for beside the scenarios (the module doc says why)
WEIGHT = 0.5
#: probabilities below this add no finding: they lift nothing over the flag
FLOOR = 0.2
#: a probability that rounds to 1 still counts below a scenario's flag: alone, the
#: model never raises an alert
_SUREST = 0.9999
#: the reasons an explanation gives
REASONS = 3
#: the end of an empty scan's window (it has no newest movement)
_EPOCH = datetime(1970, 1, 1)


def feature_rows(
    engine: Engine, table: ir.Table, data: pa.Table, findings: pa.Table | None, params: Params
) -> pa.Table:
    """Each account's features over `data` (already `table` on `engine`), with cycle
    membership from the scenarios' `findings` (None if the cycle scenario did not run).
    Device sharing is left missing when no movement says which device paid (payments
    recorded before migration 0019, or a CSV without a device column)."""
    end = pc.max(data["at"]).as_py() or _EPOCH
    on_cycle = None
    if findings is not None:
        cycles = findings.filter(pc.equal(findings["typology"], "cycle")).select(["account"])
        on_cycle = engine.table(cycles)
    devices = data["device"].null_count < data.num_rows
    return engine.run(features(table, params, end, on_cycle, devices=devices))


def matrix(rows: pa.Table) -> np.ndarray:
    """The FEATURES columns of `rows` as a float matrix, NaN where a feature is null."""
    if rows.num_rows == 0:
        return np.empty((0, len(FEATURES)), np.float64)
    return np.column_stack(
        [np.asarray(rows[name].to_numpy(zero_copy_only=False), np.float64) for name in FEATURES]
    )


def train(
    rows: pa.Table,
    laundering: Collection[str],
    seed: int = 7,
    source: str = "",
    currency: str = "CNY",
) -> TrainedModel:
    """A model of `rows` (feature_rows, amounts in `currency`) labelled by the
    `laundering` accounts; raises InvalidRequest (ml/train.py) when they cannot make one
    (too few, one class)."""
    accounts = rows["account"].to_pylist()
    labels = np.fromiter((a in laundering for a in accounts), np.int8, len(accounts))
    model = train_model(matrix(rows), labels, FEATURES, seed=seed)
    model.meta.update(kind=KIND, window_days=WINDOW_DAYS, trained_on=source, currency=currency)
    return model


def for_currency(model: TrainedModel | None, code: str) -> TrainedModel | None:
    """`model` if it was trained on amounts in `code`, else None: its amounts and
    thresholds mean nothing in another currency, so such a scan runs on scenarios only."""
    if model is None or model.meta.get("currency", "CNY") != code:
        return None
    return model


def load(directory: Path | str) -> TrainedModel:
    """The AML model saved in `directory` (ModelUnavailable if there is none, or if what
    is there is another kind of model)."""
    model = load_model(directory)
    if model.meta.get("kind") != KIND:
        raise ModelUnavailable(
            f"{directory} holds no AML model (make one with `guardpay aml train`)",
            code="model_not_aml",
        )
    if model.feature_names != FEATURES:
        raise ModelUnavailable(
            f"the AML model in {directory} reads other features than this version "
            "computes: train it again with `guardpay aml train`",
            code="model_features_differ",
        )
    return model


def judged(model: TrainedModel, rows: pa.Table, floor: float = FLOOR) -> pa.Table:
    """The model's findings: one per account whose probability is `floor` or more,
    scored at `WEIGHT` times it; the evidence gives the probability and the features
    that pushed it up (value and SHAP contribution in log-odds)."""
    values = matrix(rows)
    # explanations (a tree walk per feature) only for the few kept: on a million
    # accounts, scoring is seconds and explaining every one would be minutes
    keep = np.flatnonzero(model.score(values) >= floor)
    values = values[keep]
    scores, reasons = model.explain(values, REASONS)
    names = {name: i for i, name in enumerate(FEATURES)}
    evidence = [
        " ".join(
            [f"probability={scores[k]:.3f}"]
            + [f"{n}={_shown(values[k, names[n]])}({c:+.2f})" for n, c in reasons[k]]
        )
        for k in range(len(keep))
    ]
    picked = rows.take(pa.array(keep, pa.int64()))
    table = pa.table(
        {
            "account": picked["account"],
            "typology": pa.array([TYPOLOGY] * len(keep), pa.string()),
            "score": pa.array(WEIGHT * np.minimum(scores, _SUREST), pa.float64()),
            "transactions": picked["transactions"],
            "first_seen": picked["first_seen"],
            "last_seen": picked["last_seen"],
            "evidence": pa.array(evidence, pa.string()),
        }
    )
    return table.cast(found.SCHEMA.to_pyarrow())


def _shown(value: float) -> str:
    """A count or an amount (minor units) whole, a share or a duration to 4 digits."""
    if math.isnan(value):
        return "none"
    return str(int(value)) if value.is_integer() else f"{value:.4g}"
