"""Written once, run on two engines: every registered scenario, and the second look
around what they flag, finds exactly the same accounts, scores and evidence on Spark as
on DuckDB, over a world where each of them has something to find."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from guardpay.adapters.analytics import DuckDBEngine, SparkEngine
from guardpay.bench.aml import ordinary, planted
from guardpay.domain.aml.frame import Params
from guardpay.domain.aml.scenarios import SCENARIOS
from guardpay.services.aml.model import feature_rows
from guardpay.services.aml.scan import scan

pytestmark = pytest.mark.xdist_group("spark")


@pytest.fixture(scope="module")
def world() -> pa.Table:
    cases, _ = planted(3, Params())
    return pa.concat_tables([ordinary(3_000, 400), cases])


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    found = table.to_pylist()
    return sorted(
        tuple(round(v, 9) if isinstance(v, float) else v for v in r.values()) for r in found
    )


def test_every_scenario_finds_the_same_on_spark_as_on_duckdb(
    world: pa.Table, duckdb: DuckDBEngine, spark: SparkEngine
) -> None:
    embedded = scan(duckdb, world)
    distributed = scan(spark, world)

    fired = {r.typology for r in embedded.runs if r.findings}
    assert fired == {s.typology for s in SCENARIOS} | {"network"}  # nothing vacuous
    assert rows(distributed.findings) == rows(embedded.findings)
    assert rows(distributed.flagged) == rows(embedded.flagged)


def test_the_models_features_are_the_same_on_spark_as_on_duckdb(
    world: pa.Table, duckdb: DuckDBEngine, spark: SparkEngine
) -> None:
    findings = scan(duckdb, world).findings
    embedded = feature_rows(duckdb, duckdb.table(world), world, findings, Params())
    distributed = feature_rows(spark, spark.table(world), world, findings, Params())
    assert embedded.num_rows > 500  # the accounts active in the last 30 days
    assert distributed.num_rows == embedded.num_rows
    assert pc.sum(embedded["in_cycle"]).as_py() > 0  # the planted cycles are known
    assert rows(distributed.sort_by("account")) == rows(embedded.sort_by("account"))
