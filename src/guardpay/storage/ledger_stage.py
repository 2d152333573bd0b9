"""Ledger work not yet written: batches in flight, and a unit of work's staged steps.

`InFlight` is what a batch computed on another connection must see of batches handed
to the database but not yet committed (the pipelined writer, bench/ledger_writer.py).

`LedgerStage` is the same idea inside one unit of work. A micro-batch of payments moves
money once per payment (api/batching.py); written one at a time, each move cost about a
dozen statements: its accounts read, the open part listed twice, expiring holds looked
for, each account's row and balance history written, the part's count moved. The ledger
step (services/ledger/books.py `execute`) instead computes each outcome against the
stored state with the outcomes staged before it laid over (`inflight`), and stages it;
the unit of work writes them all as one outcome (`LedgerRepository.write`) among its last
writes (`UnitOfWork.flush`). What the payments of a batch read twice is read once: the
accounts as stored (read under the ledger lock, so nobody else can change them, or read
ahead before it and kept only if the clock has not moved since), the list of parts, the
holds that expire.

Nothing else reads the ledger tables past the stage: the unit of work writes what is
staged before it hands out a ledger repository or the ledger's queries
(storage/uow.py), and an account's balance is read through the stage
(`UnitOfWork.ledger_account`). A savepoint remembers what was staged at it (`snapshot`);
rolling back to it restores exactly that, whether or not the stage was written since
(the SQL rollback undoes the write, the restore stages the earlier outcomes again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from guardpay.domain.ledger.model import Account, PendingState, Transfer
from guardpay.domain.ledger.results import Result
from guardpay.domain.ledger.work import BatchOutcome

if TYPE_CHECKING:
    from guardpay.storage.ledger_parts import Part

V = TypeVar("V")
#: an outcome staged, with the time (ns) it was computed at (the stage, written, dates
#: every failure it records with the latest of them)
Staged = tuple[BatchOutcome, int]


@dataclass(frozen=True)
class InFlight:
    """Batches computed but not yet written or committed: what the next batch, computed
    meanwhile, must see of them (`accounts` only where the caller keeps no account cache
    of its own: the staged steps of a unit of work)."""

    clock: int
    transfers: dict[int, Transfer]
    failed: dict[int, Result]
    pending: dict[int, PendingState]
    accounts: dict[int, Account] = field(default_factory=dict)

    @classmethod
    def empty(cls, clock: int) -> InFlight:
        return cls(clock, {}, {}, {})

    @classmethod
    def of(cls, outs: Sequence[BatchOutcome]) -> InFlight:
        """The outcomes laid over each other, oldest first."""
        fly = cls.empty(outs[-1].last_timestamp)
        for out in outs:
            fly.transfers.update({t.id: t for t in out.transfers})
            fly.failed.update(out.failed)
            fly.pending.update({p.transfer_id: p for p in out.pending_created})
            # Only the status of a resolved hold is read again (it is no longer pending).
            fly.pending.update(
                {tid: PendingState(tid, status, 0) for tid, status in out.pending_resolved}
            )
        return fly

    @staticmethod
    def over(stored: dict[int, V], flying: dict[int, V]) -> dict[int, V]:
        """`stored` with what is in flight laid over it (the engine looks up by id, so
        entries it does not ask for are harmless)."""
        stored.update(flying)
        return stored


class LedgerStage:
    """A unit of work's ledger outcomes, staged until it writes them (module docstring)."""

    def __init__(self) -> None:
        self.outcomes: list[Staged] = []
        #: each account the staged outcomes opened or moved, as they left it
        self.accounts: dict[int, Account] = {}
        #: accounts as stored, read under the ledger lock in this unit
        self.stored: dict[int, Account] = {}
        #: the transfer parts and the expiring holds, read once under the lock
        self.parts: list[Part] | None = None
        self.expiring: list[Transfer] | None = None
        #: accounts read ahead before the lock, and the clock they were read at
        self.speculated: tuple[int, dict[int, Account]] | None = None

    def speculate(self, clock: int, accounts: dict[int, Account]) -> None:
        """Accounts read before the ledger lock, at `clock`: trusted once the lock is
        taken only if the clock still reads the same (nobody moved the ledger between:
        every write advances it), as the pipelined writer trusts its speculation."""
        self.speculated = (clock, accounts)

    def locked(self, clock: int) -> None:
        """The ledger lock was taken and the clock read `clock`."""
        if self.speculated is not None and self.speculated[0] == clock:
            self.stored.update(self.speculated[1])
        self.speculated = None

    def add(self, outcome: BatchOutcome, now: int) -> None:
        self.outcomes.append((outcome, now))
        self._account(outcome)

    def _account(self, outcome: BatchOutcome) -> None:
        for a in outcome.accounts_created:
            self.accounts[a.id] = a
        for a in outcome.accounts_updated:
            self.accounts[a.id] = a

    def known(self, account_id: int) -> Account | None:
        """The account as this unit has it: staged, else as stored (if read already)."""
        staged = self.accounts.get(account_id)
        return staged if staged is not None else self.stored.get(account_id)

    def inflight(self, clock: int) -> InFlight:
        """The staged outcomes, accounts included, for the engine's next view."""
        if not self.outcomes:
            return InFlight.empty(clock)
        fly = InFlight.of([out for out, _now in self.outcomes])
        return InFlight(clock, fly.transfers, fly.failed, fly.pending, dict(self.accounts))

    def snapshot(self) -> tuple[Staged, ...]:
        return tuple(self.outcomes)

    def restore(self, snapshot: tuple[Staged, ...]) -> None:
        """What was staged at a savepoint rolled back to: the stored state read since
        may have seen a write the rollback undid, so it is read again."""
        self.outcomes = list(snapshot)
        self.accounts = {}
        for out, _now in self.outcomes:
            self._account(out)
        self.forget()

    def forget(self) -> None:
        self.stored.clear()
        self.parts = self.expiring = self.speculated = None

    def merged(self) -> tuple[BatchOutcome, int] | None:
        """The staged outcomes as one, to write (None: nothing is staged); an account
        moved by several is written once, as the last left it."""
        if not self.outcomes:
            return None
        latest: dict[int, Account] = {}
        out = BatchOutcome([], [], [], [], [], [], [], [], [])
        for one, _now in self.outcomes:
            out.accounts_created.extend(one.accounts_created)
            latest.update((a.id, a) for a in one.accounts_updated)
            out.transfers.extend(one.transfers)
            out.pending_created.extend(one.pending_created)
            out.pending_resolved.extend(one.pending_resolved)
            out.failed.extend(one.failed)
            out.history.extend(one.history)
            out.flag_changes.extend(one.flag_changes)
        out.accounts_updated.extend(latest.values())
        last, now = self.outcomes[-1][0].last_timestamp, max(n for _o, n in self.outcomes)
        return replace(out, last_timestamp=last), now

    def written(self) -> None:
        """The staged outcomes were written: what they left is now stored."""
        self.stored.update(self.accounts)
        self.outcomes, self.accounts = [], {}
        self.parts = self.expiring = None
