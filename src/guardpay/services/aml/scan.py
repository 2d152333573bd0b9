"""A scan: every registered scenario (domain/aml/scenarios) over one table of
transactions, on one engine, folded into one row per flagged account.

Each scenario runs as its own query so the scan can say what each found and how fast it
went (rows of input per second, `guardpay bench aml`); the findings are then combined on
the same engine (domain/aml/findings.py `combine`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from guardpay.adapters.analytics import Engine
from guardpay.domain.aml import findings as found
from guardpay.domain.aml import network
from guardpay.domain.aml.frame import OUTSIDE, SCHEMA, THRESHOLDS, Params
from guardpay.domain.aml.registry import Scenario
from guardpay.domain.aml.scenarios import SCENARIOS
from guardpay.domain.money import currency
from guardpay.errors import InvalidRequest
from guardpay.ml.model import TrainedModel
from guardpay.services.aml import model as aml_model

#: accounts scored below this are not flagged (one weak finding alone is 0.5)
MIN_SCORE = 0.5


@dataclass(frozen=True)
class ScenarioRun:
    typology: str
    findings: int
    seconds: float
    skipped: str | None = None  # why it did not run

    def as_dict(self, rows: int) -> dict[str, object]:
        rate = round(rows / self.seconds) if self.seconds > 0 and self.skipped is None else None
        return {
            "typology": self.typology,
            "findings": self.findings,
            "seconds": round(self.seconds, 3),
            "rows_per_second": rate,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class ScanResult:
    """`flagged`: one row per account scored at least `MIN_SCORE` (account, score,
    typologies, first_seen, last_seen, explanation, transactions), highest first;
    `findings`: every scenario's rows."""

    engine: str
    transactions: int
    flagged: pa.Table
    findings: pa.Table
    runs: list[ScenarioRun] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "engine": self.engine,
            "transactions": self.transactions,
            "flagged_accounts": self.flagged.num_rows,
            "findings": self.findings.num_rows,
            "scenarios": [r.as_dict(self.transactions) for r in self.runs],
        }


def scan(
    engine: Engine,
    data: pa.Table,
    params: Params = Params(),  # frozen: one shared default is safe
    scenarios: Sequence[Scenario] = SCENARIOS,
    done: Callable[[ScenarioRun], None] = lambda _: None,
    model: TrainedModel | None = None,
) -> ScanResult:
    """Every scenario over `data` (frame.SCHEMA's columns), then the AML `model` if one
    is given (services/aml/model.py); `done` hears of each as it finishes (a progress
    bar). Accounts outside the platform (frame.OUTSIDE) are never flagged."""
    data = conform(data)
    table = engine.table(data)
    parts: list[pa.Table] = []
    runs: list[ScenarioRun] = []
    for scenario in scenarios:
        missing = [c for c in sorted(scenario.needs) if data[c].null_count == data.num_rows]
        if missing:
            run = ScenarioRun(scenario.typology, 0, 0.0, f"no {', '.join(missing)} column")
        else:
            started = time.perf_counter()
            rows = engine.run(scenario.run(table, params))
            parts.append(rows.select(list(found.COLUMNS)).cast(found.SCHEMA.to_pyarrow()))
            run = ScenarioRun(scenario.typology, rows.num_rows, time.perf_counter() - started)
        runs.append(run)
        done(run)
    findings = pa.concat_tables(parts) if parts else found.SCHEMA.to_pyarrow().empty_table()
    findings = findings.filter(pc.invert(pc.starts_with(findings["account"], OUTSIDE)))
    around = _around(engine, table, findings, params)
    if around is not None:
        findings = pa.concat_tables([findings, around[0]])
        runs.append(around[1])
        done(around[1])
    if model is not None:
        cycled = any(r.typology == "cycle" and r.skipped is None for r in runs)
        findings, run = _modelled(engine, table, data, findings, params, model, cycled)
        runs.append(run)
        done(run)
    return ScanResult(engine.name, data.num_rows, flag(engine, findings), findings, runs)


def flag(engine: Engine, findings: pa.Table) -> pa.Table:
    """The accounts `findings` flag: one row each, scored as combined evidence, at
    least `MIN_SCORE`, highest first."""
    combined = scored(engine, findings)
    return combined.filter(pc.greater_equal(combined["score"], MIN_SCORE))


def scored(engine: Engine, findings: pa.Table) -> pa.Table:
    """Every account `findings` name, one row each, scored as combined evidence."""
    return engine.run(found.combine(engine.table(findings)))


def _around(
    engine: Engine, table: ir.Table, findings: pa.Table, params: Params
) -> tuple[pa.Table, ScenarioRun] | None:
    """The second look (domain/aml/network.py): the accounts around what the scenarios
    flagged in a typology that spreads; None if none was."""
    spreading = pc.is_in(findings["typology"], pa.array(sorted(network.SPREADS)))
    flagged = pc.and_(spreading, pc.greater_equal(findings["score"], MIN_SCORE))
    core = (
        findings.filter(flagged)
        .group_by("account")  # one row per account, however many typologies flagged it
        .aggregate([("first_seen", "min"), ("last_seen", "max")])
        .select(["account", "first_seen_min", "last_seen_max"])
        .rename_columns(["account", "first_seen", "last_seen"])
    )
    if core.num_rows == 0:
        return None
    started = time.perf_counter()
    rows = engine.run(network.counterparties(table, engine.table(core), params))
    rows = rows.select(list(found.COLUMNS)).cast(found.SCHEMA.to_pyarrow())
    return rows, ScenarioRun("network", rows.num_rows, time.perf_counter() - started)


def _modelled(
    engine: Engine,
    table: ir.Table,
    data: pa.Table,
    findings: pa.Table,
    params: Params,
    model: TrainedModel,
    cycled: bool,
) -> tuple[pa.Table, ScenarioRun]:
    """`findings` with the model's added: the features computed on the engine, scored
    and explained here (cycle membership known if the cycle scenario ran: `cycled`)."""
    started = time.perf_counter()
    rows = aml_model.feature_rows(engine, table, data, findings if cycled else None, params)
    judged = aml_model.judged(model, rows)  # card nodes have no features: never judged
    run = ScenarioRun(aml_model.TYPOLOGY, judged.num_rows, time.perf_counter() - started)
    return pa.concat_tables([findings, judged]), run


def scan_params(code: str, thresholds: Sequence[int] = (), base: Params = Params()) -> Params:
    """The settings for a scan of amounts in `code`: its reporting thresholds (given in
    whole units, else the currency's own), the rest as `base` has them."""
    exponent = currency(code).exponent
    if thresholds:
        if min(thresholds) <= 0:
            raise InvalidRequest("a threshold must be positive", param="threshold")
        return replace(base, thresholds=tuple(t * 10**exponent for t in thresholds))
    return replace(base, thresholds=THRESHOLDS.get(code, base.thresholds))


def conform(data: pa.Table) -> pa.Table:
    """`data` with exactly frame.SCHEMA's columns and types (a missing optional column
    is added, all null); a missing required column or a null in one is an error."""
    schema = SCHEMA.to_pyarrow()
    columns = []
    for column in schema:
        if column.name not in data.column_names:
            if not column.nullable:
                raise InvalidRequest(
                    f"the transactions have no {column.name!r} column",
                    code="transactions_unreadable",
                    param=column.name,
                )
            columns.append(pa.nulls(data.num_rows, column.type))
            continue
        values = data[column.name]
        if not column.nullable and values.null_count:
            raise InvalidRequest(
                f"{values.null_count} transactions have no {column.name}",
                code="transactions_unreadable",
                param=column.name,
            )
        columns.append(values.cast(column.type))
    return pa.Table.from_arrays(columns, schema=schema)
