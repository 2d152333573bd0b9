"""Ledger use cases: apply events inside a unit of work, and verify the invariants."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from guardpay.domain.ledger.engine import apply_batch
from guardpay.domain.ledger.model import Event
from guardpay.domain.ledger.results import Result
from guardpay.domain.ledger.verify import Problem, check_ledger
from guardpay.domain.ledger.work import BatchOutcome, LedgerView
from guardpay.storage.ledger import AccountCache, LedgerRepository
from guardpay.storage.uow import UnitOfWork

Clock = Callable[[], int]  # nanoseconds since the epoch
MAX_BATCH = 8190


def system_clock() -> int:
    return time.time_ns()


def apply_requests(
    uow: UnitOfWork,
    requests: Sequence[Sequence[Event]],
    now: int,
    cache: AccountCache | None = None,
) -> tuple[LedgerView, BatchOutcome]:
    """Apply several callers' requests as one batch in the caller's transaction, written
    now (the batching writer's path, bench/ledger_writer.py)."""
    repo = uow.ledger
    view, outcome = _applied(uow, repo, requests, now, cache)
    repo.write(outcome, now, clock=False)
    return view, outcome


def execute(
    uow: UnitOfWork, events: Sequence[Event], *, clock: Clock = system_clock
) -> list[Result]:
    """Apply one caller's events in the caller's unit of work (e.g. beside a payment row),
    so the ledger change commits or rolls back with the rest of the use case.

    Staged, not written (storage/ledger_stage.py): the unit writes every step it staged
    as one batch before it commits, so a micro-batch of payments writes the ledger once."""
    if len(events) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} events per request, got {len(events)}")
    now = clock()
    _view, outcome = _applied(uow, uow.staged_ledger, [events], now, None)
    uow.ledger_stage.add(outcome, now)
    return outcome.results[0]


def read_ahead(uow: UnitOfWork, account_ids: Sequence[int]) -> None:
    """The accounts the unit's ledger steps will move, read in one statement (a
    micro-batch of payments, services/payments/batch.py). Not under the ledger lock,
    which the first step takes: held from the batch's start, it made a PostgreSQL
    deadlock likelier (a request opening a wallet the batch opens too, waiting for the
    lock); so the accounts are kept only if the clock reads the same once locked
    (storage/ledger_stage.py `speculate`)."""
    repo = uow.staged_ledger
    if uow.ledger_clock is not None:  # locked already: what is read now is current
        repo.read_ahead(account_ids, uow.ledger_lag)
        return
    clock, lag = repo.lock_clock_and_lag(lock_it=False)
    uow.ledger_stage.speculate(clock, repo.accounts_by_id(account_ids, lag))


def _applied(
    uow: UnitOfWork,
    repo: LedgerRepository,
    requests: Sequence[Sequence[Event]],
    now: int,
    cache: AccountCache | None,
) -> tuple[LedgerView, BatchOutcome]:
    """The requests' outcome against what `repo` reads. The clock row is locked at the
    unit's first batch; after that the unit carries the clock (`UnitOfWork.ledger_clock`)
    and writes it once before it commits, so a micro-batch of payments, each applying its
    own transfers, moves it once."""
    if uow.ledger_clock is None:
        last, uow.ledger_lag = repo.lock_clock_and_lag()
        uow.ledger_stage.locked(last)
    else:
        last = uow.ledger_clock
    view = repo.read_view(requests, now, last, cache, lag=uow.ledger_lag)
    outcome = apply_batch(view, requests)
    uow.ledger_clock = outcome.last_timestamp
    return view, outcome


def fold(uow: UnitOfWork) -> int:
    """Bring account rows a bulk writer left behind up to date (storage/ledger.py,
    "Deferred accounts"); how many it wrote. Takes the ledger lock only when some lag."""
    if not uow.ledger.lag():
        return 0
    uow.ledger.lock_clock()
    return uow.ledger.fold()


@dataclass(frozen=True)
class VerifyReport:
    accounts: int
    transfers: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "accounts": self.accounts,
            "transfers": self.transfers,
            "problems": [p.as_dict() for p in self.problems],
        }


def verify(uow: UnitOfWork) -> VerifyReport:
    """Every ledger invariant, read in one consistent snapshot."""
    q = uow.ledger_queries
    accounts, transfers = q.counts()
    problems = check_ledger(q.all_accounts(), q.replay()) + q.structural_problems()
    return VerifyReport(accounts, transfers, problems)
