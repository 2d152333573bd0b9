"""The platform's periodic jobs, in one registry: what runs on a schedule, and how often.

Each run of a job is one unit of work (one transaction) acting as the system, so a job
that fails changes nothing and the next run tries again; jobs are idempotent by
construction (each re-checks its rows under their locks), so two schedulers, or a
scheduler and `guardpay jobs run`, may overlap safely. `guardpay serve` runs them in a
background thread (`Scheduler`); `guardpay jobs run` runs them once, e.g. from cron.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from guardpay.config import Settings
from guardpay.security.keys import Keyring
from guardpay.services.ledger import books, parts
from guardpay.services.payments import escrow, red_packets
from guardpay.services.platform.context import DEFAULT_SETTINGS, SYSTEM, Context
from guardpay.services.reports import large_value
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work

log = structlog.get_logger("guardpay.jobs")

#: Idempotency keys are honoured at least this long (the API promises 24 hours).
IDEMPOTENCY_RETENTION = timedelta(hours=25)


@dataclass(frozen=True)
class Job:
    """`run` does its work in the unit of work it is given. A job that must not hold a
    write transaction while it works (a scan of the whole graph) sets `alone` instead:
    it opens its own units. `in_serve`: whether `guardpay serve` runs it (a heavy job
    runs from cron, `guardpay jobs run NAME`, in a process of its own)."""

    name: str
    every: timedelta
    run: Callable[[Context], int] | None  # how many things it did
    description: str
    alone: Callable[[Database, Keyring, datetime], int] | None = None
    in_serve: bool = True

    def __post_init__(self) -> None:
        if (self.run is None) == (self.alone is None):
            raise ValueError(f"job {self.name}: give it `run` or `alone`, one of them")


def _purge_idempotency(ctx: Context) -> int:
    return ctx.uow.idempotency.purge(ctx.now() - IDEMPOTENCY_RETENTION)


def _expire_reviews(ctx: Context) -> int:
    from guardpay.services.payments import (
        review as payments_review,  # it builds on payments, jobs do not
    )

    return len(payments_review.expire_overdue(ctx))


JOBS: list[Job] = [
    Job(
        "escrow_auto_confirm",
        timedelta(minutes=10),
        lambda c: len(escrow.auto_confirm_due(c)),
        "release escrow trades shipped more than the auto-confirm days ago",
    ),
    Job(
        "red_packet_expiry",
        timedelta(minutes=1),
        lambda c: len(red_packets.expire_red_packets(c)),
        "return the unclaimed rest of expired red packets to their senders",
    ),
    Job(
        "idempotency_purge",
        timedelta(hours=1),
        _purge_idempotency,
        "forget Idempotency-Keys older than 25 hours",
    ),
    Job(
        "ledger_fold",
        timedelta(minutes=1),
        lambda c: books.fold(c.uow),
        "write the balances a bulk ledger writer left behind into the account rows",
    ),
    Job(
        "risk_review_timeouts",
        timedelta(minutes=1),
        _expire_reviews,
        "decline held payments whose risk review deadline passed",
    ),
    Job(
        "large_value_report",
        timedelta(hours=1),
        large_value.file_due,
        "file yesterday's large-value transaction report per profile (PBOC 2016 No. 3), once a day",
    ),
]


def _aml_monitor(db: Database, keyring: Keyring, now: datetime) -> int:
    """With the AML model GUARDPAY_AML_MODEL names, if any (a model that cannot be read
    stops the run: scanning on without it would quietly lower what is caught)."""
    from guardpay.adapters.analytics import DuckDBEngine
    from guardpay.services.aml import model as aml_model  # DuckDB and Ibis load only here
    from guardpay.services.aml import monitor

    where = Settings.from_environment().aml_model
    model = None if where is None else aml_model.load(where)
    engine = DuckDBEngine()
    try:
        return len(monitor.run(db, keyring, engine, now, model=model).kept)
    finally:
        engine.close()


JOBS.append(
    Job(
        "aml_monitor",
        timedelta(hours=1),
        None,
        "scan the transaction graph since the last run for laundering (cron: `jobs run "
        "aml_monitor`; not run inside `serve`)",
        alone=_aml_monitor,
        in_serve=False,
    )
)


def _merge_ledger_parts(db: Database, _keyring: Keyring, _now: datetime) -> int:
    return sum(m.rows for m in parts.merge(db))


JOBS.append(
    Job(
        "ledger_merge",
        timedelta(hours=1),
        None,
        "merge sealed ledger transfer parts into larger ones, four of a tier into one of "
        "the next (cron: `jobs run ledger_merge`; not run inside `serve`)",
        alone=_merge_ledger_parts,
        in_serve=False,
    )
)


def register(job: Job) -> None:
    """Later layers (risk review timeouts) add their jobs here; names are unique."""
    if any(j.name == job.name for j in JOBS):
        raise ValueError(f"job {job.name} is already registered")
    JOBS.append(job)


def by_name(name: str) -> Job:
    for job in JOBS:
        if job.name == name:
            return job
    raise KeyError(name)


def run_job(
    db: Database,
    keyring: Keyring,
    clock: Callable[[], datetime],
    job: Job,
    settings: Settings = DEFAULT_SETTINGS,
) -> int:
    """One run of `job` in its own unit of work (its context carries the edge's
    `settings`); what it did is logged after commit."""
    if job.alone is not None:
        done = job.alone(db, keyring, clock())
    else:
        assert job.run is not None  # __post_init__: one of the two
        with unit_of_work(db) as uow:
            done = job.run(Context(uow, keyring, SYSTEM, clock, settings=settings))
    if done:
        log.info("job_ran", job=job.name, done=done)
    return done


class Scheduler:
    """Runs every job whose interval has passed; `run_once` is one tick (a DeliveryThread
    calls it periodically). A failing job is logged and retried at its next interval."""

    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        clock: Callable[[], datetime],
        settings: Settings = DEFAULT_SETTINGS,
    ) -> None:
        self.db, self.keyring, self.clock, self.settings = db, keyring, clock, settings
        self.last: dict[str, datetime] = {}

    def run_once(self) -> int:
        done = 0
        for job in [j for j in JOBS if j.in_serve]:
            now = self.clock()
            last = self.last.get(job.name)
            if last is not None and now - last < job.every:
                continue
            self.last[job.name] = now
            try:
                done += run_job(self.db, self.keyring, self.clock, job, self.settings)
            except Exception as exc:  # one job's failure must not stop the others
                log.error("job_failed", job=job.name, error_type=type(exc).__name__)
        return done
