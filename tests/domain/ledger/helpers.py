"""Ledger test helpers: extra typed factories, hand-built views, and an in-memory "storage"
that persists a `BatchOutcome` the way `storage/ledger.py` does and builds the next view.

Names read like a ledger: BANK is the bank-channel account (no limits), RESERVE the asset
that must cover customer money (credits may not exceed debits), ALICE/BOB/CAROL customer
wallets (debits may not exceed credits). Amounts are fen (CNY minor units).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TypeVar

from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.engine import apply_batch
from guardpay.domain.ledger.model import (
    NANOS_PER_SECOND,
    Account,
    AccountFlags,
    AccountFlagsChange,
    Event,
    PendingState,
    PendingStatus,
    Transfer,
    TransferFlags,
)
from guardpay.domain.ledger.results import Result
from guardpay.domain.ledger.verify import Counters, Problem, check_ledger
from guardpay.domain.ledger.work import BatchOutcome, LedgerView
from tests.factories import CNY, account, transfer, wallet

BANK, RESERVE, FEES = 1, 2, 3
ALICE, BOB, CAROL = 10, 11, 12
NOWHERE = 999  # an account id nobody opened

R = TypeVar("R")
SECOND = NANOS_PER_SECOND
#: 2023-11-14T22:13:20Z, in nanoseconds: the ledger clock of the tests.
NOW = 1_700_000_000 * SECOND


# -- factories -----------------------------------------------------------------------------


def with_fields(record: R, **changes: int) -> R:
    """`record` with some fields changed, whether it is a NamedTuple or a dataclass."""
    replace = getattr(record, "_replace", None)
    if replace is not None:
        changed: R = replace(**changes)
        return changed
    return dataclasses.replace(record, **changes)  # type: ignore[type-var]


def bank(id: int = BANK, *, ledger: int = CNY) -> Account:
    """The bank-channel in-flight account: runs either way, no limit flags."""
    return account(id, ledger=ledger, code=AccountCode.BANK_IN_FLIGHT, flags=AccountFlags.HISTORY)


def reserve(id: int = RESERVE, *, ledger: int = CNY) -> Account:
    """Customer funds at the custodian bank: credits may never exceed debits."""
    return account(
        id,
        ledger=ledger,
        code=AccountCode.RESERVE,
        flags=AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS | AccountFlags.HISTORY,
    )


def fees(id: int = FEES) -> Account:
    return account(
        id, code=AccountCode.FEE_REVENUE, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
    )


def stored(
    a: Account,
    *,
    debits_pending: int = 0,
    debits_posted: int = 0,
    credits_pending: int = 0,
    credits_posted: int = 0,
    flags: int = 0,
    timestamp: int = 1,
) -> Account:
    """`a` as storage returns it: with balances, extra (freeze/close) flags and a timestamp."""
    return with_fields(
        a,
        flags=a.flags | flags,
        debits_pending=debits_pending,
        debits_posted=debits_posted,
        credits_pending=credits_pending,
        credits_posted=credits_posted,
        timestamp=timestamp,
    )


def pending(
    id: int,
    debit: int,
    credit: int,
    amount: int,
    *,
    timeout: int = 0,
    code: int = TransferCode.ESCROW_HOLD,
    flags: int = 0,
) -> Transfer:
    """A hold: `amount` leaves `debit`'s available balance until posted, voided or expired."""
    return transfer(
        id, debit, credit, amount, code=code, timeout=timeout, flags=flags | TransferFlags.PENDING
    )


def top_up(id: int, wallet_id: int, amount: int, *, flags: int = 0) -> Transfer:
    return transfer(id, BANK, wallet_id, amount, code=TransferCode.TOP_UP, flags=flags)


def balancing_debit(id: int, debit: int, credit: int, amount: int) -> Transfer:
    return transfer(id, debit, credit, amount, flags=TransferFlags.BALANCING_DEBIT)


def balancing_credit(id: int, debit: int, credit: int, amount: int) -> Transfer:
    return transfer(id, debit, credit, amount, flags=TransferFlags.BALANCING_CREDIT)


def freeze(account_id: int, *, debits: bool = True, credits: bool = False) -> AccountFlagsChange:
    flags = (AccountFlags.DEBITS_FROZEN if debits else 0) | (
        AccountFlags.CREDITS_FROZEN if credits else 0
    )
    return AccountFlagsChange(account_id, set_flags=flags)


def unfreeze(account_id: int, *, debits: bool = True, credits: bool = False) -> AccountFlagsChange:
    flags = (AccountFlags.DEBITS_FROZEN if debits else 0) | (
        AccountFlags.CREDITS_FROZEN if credits else 0
    )
    return AccountFlagsChange(account_id, clear_flags=flags)


def close(account_id: int) -> AccountFlagsChange:
    return AccountFlagsChange(account_id, set_flags=AccountFlags.CLOSED)


def as_linked(e: Event) -> Event:
    if isinstance(e, Transfer):
        return e._replace(flags=e.flags | TransferFlags.LINKED)
    if isinstance(e, Account):
        return with_fields(e, flags=e.flags | AccountFlags.LINKED)
    return AccountFlagsChange(e.account_id, e.set_flags, e.clear_flags, linked=True)


def chain(*events: Event) -> list[Event]:
    """A linked chain: every event but the last carries the linked flag."""
    return [as_linked(e) for e in events[:-1]] + [events[-1]]


def open_chain(*events: Event) -> list[Event]:
    """Every event linked, so the chain is still open when the request ends."""
    return [as_linked(e) for e in events]


# -- views and outcomes --------------------------------------------------------------------


def make_view(
    accounts: Iterable[Account] = (),
    transfers: Iterable[Transfer] = (),
    pending: Iterable[PendingState] = (),
    failed: dict[int, Result] | None = None,
    *,
    now: int = NOW,
    last_timestamp: int = 0,
    expiring: Sequence[Transfer] = (),
) -> LedgerView:
    """A LedgerView built by hand."""
    return LedgerView(
        accounts={a.id: a for a in accounts},
        transfers={t.id: t for t in transfers},
        pending={p.transfer_id: p for p in pending},
        failed=dict(failed or {}),
        now=now,
        last_timestamp=last_timestamp,
        expiring=tuple(expiring),
    )


def assert_nothing_written(out: BatchOutcome, *, failed: Iterable[tuple[int, Result]] = ()) -> None:
    """No account, transfer, hold, history row or flag change; only the given failures."""
    assert out.accounts_created == []
    assert out.accounts_updated == []
    assert out.transfers == []
    assert out.pending_created == []
    assert out.pending_resolved == []
    assert out.history == []
    assert out.flag_changes == []
    assert out.failed == list(failed)


def assert_carried_balances(out: BatchOutcome) -> None:
    """Each transfer carries its accounts' counters right after it: so the last transfer
    of the batch to move an account carries what the batch left it with (expiries come
    first and flag changes move no counter), which a reader of a lagging row relies on."""
    assert len(out.after) == len(out.transfers)
    ended = {a.id: a for a in [*out.accounts_created, *out.accounts_updated]}
    last: dict[int, tuple[int, ...]] = {}
    for t, after in zip(out.transfers, out.after, strict=True):
        last[t.debit_account_id], last[t.credit_account_id] = after[:4], after[4:]
    for account_id, counters in last.items():
        a = ended[account_id]
        assert counters == (
            a.debits_pending,
            a.debits_posted,
            a.credits_pending,
            a.credits_posted,
        ), f"transfer carries stale balances of account {account_id}"


def only(out: BatchOutcome) -> Result:
    """The one result of a batch holding one request of one event."""
    assert len(out.results) == 1
    assert len(out.results[0]) == 1
    return out.results[0][0]


# -- in-memory storage ---------------------------------------------------------------------


@dataclasses.dataclass
class Ledger:
    """Stored ledger state in dicts; `apply` runs a batch and persists its outcome.

    Persisting follows `LedgerRepository.write`: inserted rows must be new (transfers are
    immutable, failures are keyed by id), updated accounts change only flags and counters.
    `view` builds the next LedgerView; with `narrow=True` it holds only what
    `LedgerRepository.load_view` would fetch for the requests.
    """

    accounts: dict[int, Account] = dataclasses.field(default_factory=dict)
    transfers: dict[int, Transfer] = dataclasses.field(default_factory=dict)
    pending: dict[int, PendingState] = dataclasses.field(default_factory=dict)
    failed: dict[int, Result] = dataclasses.field(default_factory=dict)
    history: list[tuple[int, int, int, int, int, int]] = dataclasses.field(default_factory=list)
    flag_changes: list[tuple[int, int, int, int]] = dataclasses.field(default_factory=list)
    now: int = NOW
    last_timestamp: int = 0
    narrow: bool = False

    def expiring(self) -> list[Transfer]:
        due = [
            p
            for p in self.pending.values()
            if p.status == PendingStatus.PENDING and 0 < p.expires_at <= self.now
        ]
        due.sort(key=lambda p: (p.expires_at, p.transfer_id))
        return [self.transfers[p.transfer_id] for p in due]

    def view(self, requests: Sequence[Sequence[Event]] = ()) -> LedgerView:
        expiring = self.expiring()
        if not self.narrow:
            return LedgerView(
                accounts=dict(self.accounts),
                transfers=dict(self.transfers),
                pending=dict(self.pending),
                failed=dict(self.failed),
                now=self.now,
                last_timestamp=self.last_timestamp,
                expiring=expiring,
            )
        transfer_ids: set[int] = set()
        pending_ids: set[int] = set()
        account_ids: set[int] = set()
        for req in requests:
            for e in req:
                if isinstance(e, Transfer):
                    transfer_ids.add(e.id)
                    if e.flags & (TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING):
                        pending_ids.add(e.pending_id)
                    else:
                        account_ids.update((e.debit_account_id, e.credit_account_id))
                elif isinstance(e, Account):
                    account_ids.add(e.id)
                else:
                    account_ids.add(e.account_id)
        for p in expiring:
            account_ids.update((p.debit_account_id, p.credit_account_id))
        transfers = {
            i: self.transfers[i] for i in transfer_ids | pending_ids if i in self.transfers
        }
        for pid in pending_ids:
            hold = transfers.get(pid)
            if hold is not None:
                account_ids.update((hold.debit_account_id, hold.credit_account_id))
        holds = (pending_ids & transfers.keys()) | {p.id for p in expiring}
        return LedgerView(
            accounts={i: self.accounts[i] for i in account_ids if i in self.accounts},
            transfers=transfers,
            pending={i: self.pending[i] for i in holds if i in self.pending},
            failed={i: self.failed[i] for i in transfer_ids if i in self.failed},
            now=self.now,
            last_timestamp=self.last_timestamp,
            expiring=expiring,
        )

    def persist(self, out: BatchOutcome) -> None:
        assert_carried_balances(out)
        for a in out.accounts_created:
            assert a.id not in self.accounts, f"account {a.id} created twice"
            self.accounts[a.id] = a
        for a in out.accounts_updated:
            old = self.accounts[a.id]
            self.accounts[a.id] = with_fields(
                old,
                flags=a.flags,
                debits_pending=a.debits_pending,
                debits_posted=a.debits_posted,
                credits_pending=a.credits_pending,
                credits_posted=a.credits_posted,
            )
        for t in out.transfers:
            assert t.id not in self.transfers, f"transfer {t.id} written twice"
            self.transfers[t.id] = t
        for p in out.pending_created:
            assert p.transfer_id not in self.pending, f"hold {p.transfer_id} created twice"
            self.pending[p.transfer_id] = p
        for tid, status in out.pending_resolved:
            self.pending[tid] = with_fields(self.pending[tid], status=status)
        for fid, r in out.failed:
            assert fid not in self.failed, f"failure of {fid} recorded twice"
            self.failed[fid] = r
        self.history.extend(out.history)
        self.flag_changes.extend(out.flag_changes)
        assert out.last_timestamp >= self.last_timestamp, "the ledger clock went backwards"
        self.last_timestamp = out.last_timestamp

    def apply(self, *requests: Sequence[Event]) -> BatchOutcome:
        """One batch of several callers' requests, persisted."""
        out = apply_batch(self.view(requests), requests)
        self.persist(out)
        return out

    def submit(self, *events: Event) -> list[Result]:
        """One caller's request as its own batch; returns its results."""
        return self.apply(list(events)).results[0]

    def advance(self, seconds: int) -> None:
        self.now += seconds * SECOND

    # -- reading back --

    def balance(self, account_id: int) -> int:
        return self.accounts[account_id].balance

    def available(self, account_id: int) -> int:
        return self.accounts[account_id].available

    def counters(self, account_id: int) -> Counters:
        a = self.accounts[account_id]
        return (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)

    def status(self, hold_id: int) -> int:
        return self.pending[hold_id].status

    def replay(self) -> dict[int, Counters]:
        """Counters recomputed from the stored transfers and hold statuses alone."""
        sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for t in self.transfers.values():
            if t.flags & TransferFlags.PENDING:
                hold = self.pending[t.id]
                if hold.status == PendingStatus.PENDING:
                    sums[t.debit_account_id][0] += t.amount
                    sums[t.credit_account_id][2] += t.amount
            elif not t.flags & TransferFlags.VOID_PENDING:
                sums[t.debit_account_id][1] += t.amount
                sums[t.credit_account_id][3] += t.amount
        return {k: (v[0], v[1], v[2], v[3]) for k, v in sums.items()}

    def problems(self) -> list[Problem]:
        return check_ledger(self.accounts.values(), self.replay())


def opened(*accounts: Account, now: int = NOW) -> Ledger:
    """A ledger with these accounts open."""
    ledger = Ledger(now=now)
    results = ledger.submit(*accounts)
    assert results == [Result.ok] * len(accounts)
    return ledger


def funded(amounts: dict[int, int] | None = None) -> Ledger:
    """BANK, ALICE, BOB and CAROL open; wallets topped up from BANK (ALICE 50,000 fen)."""
    ledger = opened(bank(), wallet(ALICE), wallet(BOB), wallet(CAROL))
    amounts = {ALICE: 50_000} if amounts is None else amounts
    for n, (wallet_id, amount) in enumerate(amounts.items(), start=1):
        assert ledger.submit(top_up(900_000 + n, wallet_id, amount)) == [Result.ok]
    return ledger
