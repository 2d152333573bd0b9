"""The AML model: trained on one labelled world, it scores another; its probability, at
half weight, joins the scenarios' findings with the features that pushed it up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import average_precision_score

from guardpay.adapters.analytics import DuckDBEngine
from guardpay.domain.aml.findings import SCHEMA as FINDINGS
from guardpay.domain.aml.findings import finding
from guardpay.domain.aml.frame import Params
from guardpay.domain.aml.registry import Scenario
from guardpay.ml.artifacts import ModelUnavailable
from guardpay.ml.model import TrainedModel
from guardpay.ml.train import train_model
from guardpay.services.aml import model as aml_model
from guardpay.services.aml.scan import scan
from tests.domain.aml.world import labelled_world as world


@pytest.fixture(scope="module")
def engine() -> Iterator[DuckDBEngine]:
    runner = DuckDBEngine()
    yield runner
    runner.close()


def rows_of(engine: DuckDBEngine, data: pa.Table) -> pa.Table:
    """Each account's features (no cycle scan: none is on a cycle)."""
    none = FINDINGS.to_pyarrow().empty_table()
    return aml_model.feature_rows(engine, engine.table(data), data, none, Params())


@pytest.fixture(scope="module")
def model(engine: DuckDBEngine) -> TrainedModel:
    data, mules = world(seed=1)
    return aml_model.train(rows_of(engine, data), mules, source="world 1")


def test_a_model_learnt_on_one_world_ranks_another_worlds_mules_first(
    engine: DuckDBEngine, model: TrainedModel
) -> None:
    data, mules = world(seed=2)
    rows = rows_of(engine, data)
    scores = model.score(aml_model.matrix(rows))
    labels = [a in mules for a in rows["account"].to_pylist()]
    assert average_precision_score(labels, scores) > 0.9
    assert model.meta["kind"] == "aml"
    assert model.meta["currency"] == "CNY"
    assert model.meta["trained_on"] == "world 1"


def test_a_finding_gives_the_probability_and_the_features_behind_it(
    engine: DuckDBEngine, model: TrainedModel
) -> None:
    data, mules = world(seed=2)
    judged = aml_model.judged(model, rows_of(engine, data)).to_pylist()
    by_account = {f["account"]: f for f in judged}
    assert mules <= by_account.keys()
    mule = by_account["m0"]
    assert mule["typology"] == "model"
    probability = float(mule["evidence"].split()[0].removeprefix("probability="))
    assert probability >= aml_model.FLOOR
    assert mule["score"] == pytest.approx(aml_model.WEIGHT * probability, abs=1e-3)
    assert "(+" in mule["evidence"]  # at least one feature pushed it up, with its push
    assert mule["transactions"] == 2
    assert all(f["score"] < 0.5 for f in judged)  # half weight: never a flag alone


def test_alone_the_model_flags_no_one(engine: DuckDBEngine, model: TrainedModel) -> None:
    data, _ = world(seed=2)
    result = scan(engine, data, scenarios=(), model=model)
    assert [r.typology for r in result.runs] == ["model"]
    assert result.findings.num_rows > 0
    assert result.flagged.num_rows == 0


def weak(tx: ir.Table, p: Params) -> ir.Table:
    """A scenario that finds m0 and o0 a little suspicious (0.4 each)."""
    picked = tx.filter(tx.source.isin(["m0", "o0"]))
    once = picked.group_by("source").aggregate(first=picked.at.min(), last=picked.at.max())
    return finding(
        once,
        "weak",
        account=once.source,
        score=ibis.literal(0.4),
        transactions=ibis.literal(1),
        first_seen=once.first,
        last_seen=once.last,
        evidence=ibis.literal("a little odd"),
    )


def test_a_weak_finding_the_model_backs_is_flagged(
    engine: DuckDBEngine, model: TrainedModel
) -> None:
    data, _ = world(seed=2)
    scenarios = (Scenario("weak", weak),)
    flagged = scan(engine, data, scenarios=scenarios, model=model).flagged.to_pylist()
    assert [f["account"] for f in flagged] == ["m0"]  # o0's 0.4 has no model behind it
    assert flagged[0]["typologies"] == "model,weak"
    assert scan(engine, data, scenarios=scenarios).flagged.num_rows == 0


def test_saved_and_loaded_it_scores_the_same(model: TrainedModel, tmp_path: Path) -> None:
    model.save(tmp_path / "aml")
    loaded = aml_model.load(tmp_path / "aml")
    assert loaded.version == model.version
    values = np.linspace(0, 3, len(aml_model.FEATURES)).reshape(1, -1)
    assert loaded.score(values)[0] == pytest.approx(model.score(values)[0])


def test_a_fraud_model_is_not_loaded_as_an_aml_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    X = rng.random((200, 3))
    y = (X[:, 0] > 0.8).astype(np.int8)
    train_model(X, y, ["amount", "hour", "new_device"]).save(tmp_path / "fraud")
    with pytest.raises(ModelUnavailable) as refused:
        aml_model.load(tmp_path / "fraud")
    assert refused.value.code == "model_not_aml"


def test_a_scan_in_another_currency_gets_no_model(model: TrainedModel) -> None:
    assert aml_model.for_currency(model, "CNY") is model
    assert aml_model.for_currency(model, "USD") is None
    assert aml_model.for_currency(None, "CNY") is None
