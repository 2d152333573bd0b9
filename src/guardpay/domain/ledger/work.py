"""Scratch state for one ledger batch, and the view of stored state it starts from.

Balances live in small mutable lists while a batch runs (the hot path: a few
microseconds per transfer); linked chains keep an undo log so a failed chain leaves no
trace. Nothing here escapes the batch: `engine.apply_batch` turns it into an immutable
`BatchOutcome`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from guardpay.domain.ledger.model import Account, AccountFlags, PendingState, Transfer
from guardpay.domain.ledger.results import Result

# Working-balance layout: one list per account touched by the batch.
LEDGER, CODE, FLAGS, UD64, UD32, DP, DPO, CP, CPO, TS = range(10)
Bal = list[int]
_HISTORY = int(AccountFlags.HISTORY)
#: A transfer's two accounts right after it: the debit account's debits pending, debits
#: posted, credits pending and credits posted, then the credit account's. Stored with the
#: transfer, it is the accounts' balance as of that transfer, so an account row need not
#: be rewritten for every batch that moves it (storage/ledger.py, "Deferred accounts").
After = tuple[int, int, int, int, int, int, int, int]


def after(dr: Bal, cr: Bal) -> After:
    return (dr[DP], dr[DPO], dr[CP], dr[CPO], cr[DP], cr[DPO], cr[CP], cr[CPO])


@dataclass(frozen=True)
class LedgerView:
    """Stored state a batch may read: accounts and transfers its events name, the status
    of referenced pending transfers, remembered failures, and holds that have timed out."""

    accounts: Mapping[int, Account]
    transfers: Mapping[int, Transfer]
    pending: Mapping[int, PendingState]
    failed: Mapping[int, Result]
    now: int
    last_timestamp: int
    expiring: Sequence[Transfer] = ()


@dataclass(frozen=True)
class BatchOutcome:
    """Everything a batch writes. Storage persists it in one transaction."""

    results: list[list[Result]]
    accounts_created: list[Account]
    accounts_updated: list[Account]
    transfers: list[Transfer]
    pending_created: list[PendingState]
    pending_resolved: list[tuple[int, int]]
    failed: list[tuple[int, Result]]
    history: list[tuple[int, int, int, int, int, int]]
    flag_changes: list[tuple[int, int, int, int]]
    last_timestamp: int = 0
    expired: int = 0
    #: each transfer's accounts right after it, in `transfers` order (`After`)
    after: Sequence[After] = ()


def to_bal(a: Account) -> Bal:
    """The account's fields after its id, in `Account` order (see the layout above).

    Flags become a plain int: an `AccountFlags` member would make every flag test on the
    hot path an enum operation (measured: the fast path took twice as long)."""
    b = list(a[1:])
    b[FLAGS] = int(b[FLAGS])
    return b


def to_account(account_id: int, b: Bal) -> Account:
    return Account(account_id, *b)


@dataclass
class Work:
    """Scratch state for one batch: overlays on the view plus what will be written."""

    view: LedgerView
    ts: int
    bal: dict[int, Bal] = field(default_factory=dict)
    created: dict[int, None] = field(default_factory=dict)
    dirty: dict[int, None] = field(default_factory=dict)
    transfers: dict[int, Transfer] = field(default_factory=dict)
    after: dict[int, After] = field(default_factory=dict)
    pending: dict[int, PendingState] = field(default_factory=dict)
    resolved: dict[int, int] = field(default_factory=dict)
    failed: dict[int, Result] = field(default_factory=dict)
    history: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)
    flag_changes: list[tuple[int, int, int, int]] = field(default_factory=list)
    undo: list[Callable[[], None]] | None = None

    @property
    def now(self) -> int:
        return self.view.now

    def next_ts(self) -> int:
        self.ts += 1
        return self.ts

    def account(self, account_id: int) -> Bal | None:
        b = self.bal.get(account_id)
        if b is None:
            a = self.view.accounts.get(account_id)
            if a is None:
                return None
            b = self.bal[account_id] = to_bal(a)
        return b

    def transfer(self, transfer_id: int) -> Transfer | None:
        t = self.transfers.get(transfer_id)
        return t if t is not None else self.view.transfers.get(transfer_id)

    def pending_state(self, transfer_id: int) -> PendingState | None:
        p = self.pending.get(transfer_id)
        return p if p is not None else self.view.pending.get(transfer_id)

    def failure(self, event_id: int) -> Result | None:
        f = self.failed.get(event_id)
        return f if f is not None else self.view.failed.get(event_id)

    def touch(self, account_id: int, b: Bal) -> None:
        """Call before changing `b`: marks it for writing and, in a chain, saves it."""
        if self.undo is not None:
            saved = b[:]
            was_dirty = account_id in self.dirty

            def restore() -> None:
                b[:] = saved
                if not was_dirty:
                    self.dirty.pop(account_id, None)

            self.undo.append(restore)
        self.dirty[account_id] = None

    def record_history(self, account_id: int, b: Bal, ts: int) -> None:
        if b[FLAGS] & _HISTORY:
            self.history.append((account_id, ts, b[DP], b[DPO], b[CP], b[CPO]))

    def add_account(self, a: Account, ts: int) -> None:
        self.bal[a.id] = to_bal(a)
        self.bal[a.id][TS] = ts
        self.created[a.id] = None
        if self.undo is not None:

            def forget() -> None:
                del self.bal[a.id]
                del self.created[a.id]

            self.undo.append(forget)

    def add_transfer(self, t: Transfer, dr: Bal, cr: Bal) -> None:
        """`t` applied, its accounts (`dr`, `cr`) already moved."""
        self.transfers[t.id] = t
        self.after[t.id] = after(dr, cr)
        if self.undo is not None:
            self.undo.append(lambda: self._forget_transfer(t.id))

    def _forget_transfer(self, transfer_id: int) -> None:
        del self.transfers[transfer_id]
        del self.after[transfer_id]

    def set_pending(self, state: PendingState, resolved: bool) -> None:
        key = state.transfer_id
        before = self.pending.get(key)
        self.pending[key] = state
        if resolved:
            self.resolved[key] = state.status
        if self.undo is not None:
            self.undo.append(lambda: self._unset_pending(key, before, resolved))

    def _unset_pending(self, key: int, before: PendingState | None, resolved: bool) -> None:
        if before is None:
            del self.pending[key]
        else:
            self.pending[key] = before
        if resolved:
            del self.resolved[key]

    def add_history_undo(self) -> None:
        if self.undo is not None:
            n_hist, n_flags = len(self.history), len(self.flag_changes)
            self.undo.append(lambda: self._truncate(n_hist, n_flags))

    def _truncate(self, n_hist: int, n_flags: int) -> None:
        del self.history[n_hist:]
        del self.flag_changes[n_flags:]
