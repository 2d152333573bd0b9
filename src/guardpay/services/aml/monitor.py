"""`guardpay aml run`: AML monitoring of what the platform recorded, as a periodic job
and on demand.

Each run scans the movements recorded since the last run's watermark, reading back as
far as the scenarios look (a dormancy is only seen against the months before it), and
keeps the findings with activity after that watermark, so a rerun never reports the same
evidence twice. It works like an archive run: the movements are read and scanned outside
any write transaction (a live server goes on paying meanwhile), then the run and its
findings are written in one short unit of work, with an audit entry; the findings of the
accounts a scan flagged become alerts in their customers' cases there too
(services/cases/alerts.py). A run that finds another finished meanwhile is refused
(`aml_run_raced`, retryable) and keeps nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

import pyarrow as pa

from guardpay.adapters.analytics import Engine
from guardpay.clock import utc_now
from guardpay.domain.aml.frame import SCHEMA, Params
from guardpay.errors import Conflict
from guardpay.ml.model import TrainedModel
from guardpay.security.keys import Keyring
from guardpay.services.aml import model as aml_model
from guardpay.services.aml.scan import ScanResult, scan, scan_params
from guardpay.services.cases import alerts as case_alerts
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.services.platform.ids import timed_id
from guardpay.storage.aml import AmlFinding, AmlRun, Movement
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only, unit_of_work


@dataclass(frozen=True)
class Monitored:
    """A finished run: what it read and what it kept."""

    run: AmlRun
    kept: list[AmlFinding]
    scans: dict[str, ScanResult]
    alerts: int = 0  # alerts raised (or seen again) in the customers' cases

    def as_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run.id,
            "read_from": None if self.run.read_from is None else self.run.read_from.isoformat(),
            "watermark": self.run.watermark.isoformat(),
            "transactions": self.run.transactions,
            "findings_kept": len(self.kept),
            "alerts": self.alerts,
            "accounts": sorted({f.account for f in self.kept}),
            "scans": {code: result.as_dict() for code, result in self.scans.items()},
        }


def run(
    db: Database,
    keyring: Keyring,
    engine: Engine,
    now: datetime,
    params: Params = Params(),
    model: TrainedModel | None = None,
) -> Monitored:
    """Scan what was recorded since the last run, up to `now`, and keep what is new
    (with the AML `model`'s findings beside the scenarios', if one is given)."""
    with read_only(db) as uow:
        last = uow.aml.last_run()
        since = None if last is None else last.watermark
        read_from = None if since is None else since - params.lookback
        movements = {
            code: uow.aml.movements(read_from, now, code)
            for code in uow.aml.currencies(read_from, now)
        }
    started = now
    scans = _scans(engine, movements, params, model=model)
    # A scenario reports an account's strongest window, and over the whole read-back that
    # may be one already reported, hiding a new, weaker one: scanned again over what came
    # after the watermark alone, only new windows are seen. (A weaker window that began
    # before the watermark, beside a stronger older one, is still hidden.)
    # The model scores accounts, not windows, from 30 days of features: only the whole
    # read-back shows it what it learnt from (an hour after the watermark would not).
    recent = {} if since is None else _scans(engine, movements, params, since)
    aml_run = AmlRun(
        id=timed_id("amlrun", now),
        engine=engine.name,
        read_from=read_from,
        watermark=now,
        transactions=sum(len(rows) for rows in movements.values()),
        findings=0,
        started_at=started,
        finished_at=utc_now(),
    )
    pairs = _first_each(
        (code, f)
        for by_code in (scans, recent)
        for code, result in by_code.items()
        for f in _new(result, aml_run.id, since, now)
    )
    kept = [f for _, f in pairs]
    drafts = _alert_drafts(pairs, movements, [scans, recent])
    aml_run = replace(aml_run, findings=len(kept))
    with unit_of_work(db) as uow:
        uow.aml.lock_runs()
        again = uow.aml.last_run()
        if (again and again.id) != (last and last.id):
            raise Conflict(
                "another AML run finished while this one scanned; run it again",
                code="aml_run_raced",
                retryable=True,
            )
        uow.aml.add_run(aml_run, kept)
        ctx = Context(uow, keyring, SYSTEM, clock=lambda: now)
        alerts = len([case_alerts.raise_alert(ctx, d) for d in drafts])
        details = {"transactions": aml_run.transactions, "findings": len(kept), "alerts": alerts}
        ctx.audit("aml.run", subject=aml_run.id, details=details)
    return Monitored(aml_run, kept, scans, alerts)


def _alert_drafts(
    pairs: list[tuple[str, AmlFinding]],
    movements: dict[str, list[Movement]],
    scans: list[dict[str, ScanResult]],
) -> list[case_alerts.Draft]:
    """The kept findings of the accounts a scan flagged, as draft alerts in the currency
    of the scan that found each (services/cases/alerts.py), their paths drawn from that
    currency's movements; built before the run's write unit opens."""
    drafts = []
    for code, rows in movements.items():
        flagged = {a for by_code in scans if code in by_code for a in _flagged(by_code[code])}
        findings = [f for found_in, f in pairs if found_in == code and f.account in flagged]
        drafts += case_alerts.aml_drafts(code, findings, rows)
    return drafts


def _flagged(result: ScanResult) -> set[str]:
    return {str(a) for a in result.flagged["account"].to_pylist()}


def _scans(
    engine: Engine,
    movements: dict[str, list[Movement]],
    params: Params,
    start: datetime | None = None,
    model: TrainedModel | None = None,
) -> dict[str, ScanResult]:
    """A scan per currency, of the movements at or after `start` (all, if None)."""
    return {
        code: scan(
            engine,
            movement_table([m for m in rows if start is None or m[4] >= start]),
            scan_params(code, base=params),
            model=aml_model.for_currency(model, code),
        )
        for code, rows in movements.items()
    }


def _first_each(
    findings: Iterable[tuple[str, AmlFinding]],
) -> list[tuple[str, AmlFinding]]:
    """One finding per account and typology, with the currency of the scan that found
    it: the first (the whole read-back's)."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for code, f in findings:
        if (f.account, f.typology) not in seen:
            seen.add((f.account, f.typology))
            kept.append((code, f))
    return kept


def movement_table(rows: list[Movement]) -> pa.Table:
    """The movements as a scan reads them (frame.SCHEMA)."""
    ids, sources, targets, amounts, times, devices = (
        (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [], [], [])
    )
    return pa.table(
        {
            "id": ids,
            "source": sources,
            "target": targets,
            "amount": pa.array(amounts, pa.int64()),
            "at": pa.array([t.replace(tzinfo=None) for t in times], pa.timestamp("us")),
            "device": pa.array(devices, pa.string()),
        },
        schema=SCHEMA.to_pyarrow(),
    )


def _new(
    result: ScanResult, run_id: str, since: datetime | None, now: datetime
) -> list[AmlFinding]:
    """The findings with activity after the last watermark, as rows to keep. The
    model's are kept only for accounts the run flagged: the model scores every active
    account each run, and alone its score is no alert (services/aml/model.py)."""
    kept = []
    flagged = set(result.flagged["account"].to_pylist())
    for f in result.findings.to_pylist():
        last_seen = f["last_seen"].replace(tzinfo=now.tzinfo)
        if since is not None and last_seen < since:
            continue
        if f["typology"] == aml_model.TYPOLOGY and f["account"] not in flagged:
            continue
        kept.append(
            AmlFinding(
                id=timed_id("amlf", now),
                run_id=run_id,
                account=f["account"],
                typology=f["typology"],
                score_bp=round(f["score"] * 10_000),
                transactions=f["transactions"],
                first_seen=f["first_seen"].replace(tzinfo=now.tzinfo),
                last_seen=last_seen,
                evidence=f["evidence"],
            )
        )
    return kept
