"""Random ledger histories: the engine against a small, independent reference model.

A hypothesis state machine sends batches of every event kind (accounts, duplicates,
single-phase, holds with and without timeout, full and partial posts, voids, balancing
transfers, linked chains that succeed, fail or stay open, freezes, unfreezes, closes,
reused ids) through `apply_batch`, persisting each outcome in memory, and lets time pass
so holds expire. The reference model below re-implements the documented semantics in
the plainest way (whole-state snapshots for chains, seconds for deadlines) without using
any engine code. After every step the stored ledger must equal the model, `check_ledger`
must find nothing wrong with it, and no wallet may be below zero.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import (
    Account,
    AccountFlags,
    AccountFlagsChange,
    Event,
    PendingStatus,
    Transfer,
)
from guardpay.domain.ledger.results import Result
from tests.domain.ledger.helpers import NOW, SECOND, Ledger, as_linked, with_fields
from tests.factories import CNY, USD, account, transfer

# -- the reference model -----------------------------------------------------------------------

LINKED = 1
PENDING, POST, VOID = 2, 4, 8
BAL_DR, BAL_CR = 16, 32
DR_LIMIT, CR_LIMIT = 2, 4
DR_FROZEN, CR_FROZEN, CLOSED = 16, 32, 64

#: Failures that depend on the ledger's state; the id is burned (README "Idempotency").
STATE_DEPENDENT = {
    Result.debit_account_not_found,
    Result.credit_account_not_found,
    Result.pending_transfer_not_found,
    Result.debit_account_closed,
    Result.credit_account_closed,
    Result.debit_account_frozen,
    Result.credit_account_frozen,
    Result.exceeds_credits,
    Result.exceeds_debits,
}


@dataclass
class RefAccount:
    ledger: int
    code: int
    flags: int  # as opened
    user_data_64: int
    user_data_32: int
    frozen: int = 0  # DR_FROZEN | CR_FROZEN | CLOSED bits
    flag_changes: int = 0
    dp: int = 0
    dpo: int = 0
    cp: int = 0
    cpo: int = 0


class Fact(NamedTuple):
    """A stored transfer as the model sees it: what was asked, with the amount moved."""

    id: int
    dr: int
    cr: int
    amount: int
    pending_id: int
    user_data_64: int
    user_data_32: int
    timeout: int
    ledger: int
    code: int
    flags: int


@dataclass
class RefHold:
    dr: int
    cr: int
    amount: int
    deadline: int | None  # in whole seconds of model time; expired once time is past it
    status: str = "pending"


@dataclass
class Model:
    accounts: dict[int, RefAccount] = field(default_factory=dict)
    facts: dict[int, Fact] = field(default_factory=dict)
    holds: dict[int, RefHold] = field(default_factory=dict)
    failed: dict[int, Result] = field(default_factory=dict)
    seconds: int = 0

    # -- a batch --

    def batch(self, requests: list[list[Event]]) -> tuple[list[list[Result]], int]:
        expired = self.expire()
        return [self.request(r) for r in requests], expired

    def expire(self) -> int:
        n = 0
        for h in self.holds.values():
            if h.status == "pending" and h.deadline is not None and self.seconds > h.deadline:
                self.accounts[h.dr].dp -= h.amount
                self.accounts[h.cr].cp -= h.amount
                h.status = "expired"
                n += 1
        return n

    def request(self, events: list[Event]) -> list[Result]:
        out: list[Result] = []
        run: list[Event] = []
        for e in events:
            run.append(e)
            if is_linked(e):
                continue
            if len(run) == 1:
                r = self.event(e)
                self.remember(e, r)
                out.append(r)
            else:
                out.extend(self.chain(run))
            run = []
        if run:  # the request ended inside a chain
            out.extend([Result.linked_event_failed] * (len(run) - 1))
            out.append(Result.linked_event_chain_open)
        return out

    def chain(self, events: list[Event]) -> list[Result]:
        """All or nothing: on a failure the model goes back to its snapshot."""
        saved = copy.deepcopy((self.accounts, self.facts, self.holds))
        results: list[Result] = []
        for e in events:
            r = self.event(e)
            if r not in (Result.ok, Result.exists):
                self.accounts, self.facts, self.holds = saved
                self.remember(e, r)
                failed = [Result.linked_event_failed] * len(events)
                failed[len(results)] = r
                return failed
            results.append(r)
        return results

    def remember(self, e: Event, r: Result) -> None:
        if isinstance(e, Transfer) and r in STATE_DEPENDENT:
            self.failed[e.id] = r

    # -- one event --

    def event(self, e: Event) -> Result:
        if isinstance(e, Account):
            return self.open(e)
        if isinstance(e, AccountFlagsChange):
            return self.flags(e)
        return self.transfer(e)

    def open(self, a: Account) -> Result:
        known = self.accounts.get(a.id)
        if known is None:
            self.accounts[a.id] = RefAccount(
                a.ledger, a.code, a.flags, a.user_data_64, a.user_data_32
            )
            return Result.ok
        if (a.flags | LINKED) != (known.flags | LINKED):
            return Result.exists_with_different_flags
        if a.ledger != known.ledger:
            return Result.exists_with_different_ledger
        if a.code != known.code:
            return Result.exists_with_different_code
        if a.user_data_64 != known.user_data_64:
            return Result.exists_with_different_user_data_64
        if a.user_data_32 != known.user_data_32:
            return Result.exists_with_different_user_data_32
        return Result.exists

    def flags(self, c: AccountFlagsChange) -> Result:
        a = self.accounts.get(c.account_id)
        if a is None:
            return Result.account_not_found
        if a.frozen & CLOSED:
            return Result.account_closed
        if c.set_flags & CLOSED and (a.dp or a.cp or a.dpo != a.cpo):
            return Result.account_balance_not_zero
        a.frozen = (a.frozen | c.set_flags) & ~c.clear_flags
        a.flag_changes += 1
        return Result.ok

    def transfer(self, t: Transfer) -> Result:
        resolving = t.flags & (POST | VOID)
        if resolving and t.pending_id == t.id:
            return Result.pending_id_must_be_different
        if not resolving:
            if t.debit_account_id == t.credit_account_id:
                return Result.accounts_must_be_different
            if t.amount == 0:
                return Result.amount_must_not_be_zero
        known = self.facts.get(t.id)
        if known is not None:
            return same_transfer(t, known)
        if t.id in self.failed:
            return Result.id_already_failed
        return self.resolve(t) if resolving else self.move(t)

    def move(self, t: Transfer) -> Result:
        dr = self.accounts.get(t.debit_account_id)
        if dr is None:
            return Result.debit_account_not_found
        cr = self.accounts.get(t.credit_account_id)
        if cr is None:
            return Result.credit_account_not_found
        if dr.ledger != cr.ledger:
            return Result.accounts_must_have_the_same_ledger
        if t.ledger != dr.ledger:
            return Result.transfer_must_have_the_same_ledger_as_accounts
        if dr.frozen & CLOSED:
            return Result.debit_account_closed
        if cr.frozen & CLOSED:
            return Result.credit_account_closed
        if dr.frozen & DR_FROZEN:
            return Result.debit_account_frozen
        if cr.frozen & CR_FROZEN:
            return Result.credit_account_frozen
        amount = t.amount
        if t.flags & BAL_DR:
            amount = min(amount, max(0, dr.cpo - dr.dpo - dr.dp))
        if t.flags & BAL_CR:
            amount = min(amount, max(0, cr.dpo - cr.cpo - cr.cp))
        if dr.flags & DR_LIMIT and dr.dp + dr.dpo + amount > dr.cpo:
            return Result.exceeds_credits
        if cr.flags & CR_LIMIT and cr.cp + cr.cpo + amount > cr.dpo:
            return Result.exceeds_debits
        if amount == 0:  # a balancing transfer with nothing to move
            return Result.exceeds_credits if t.flags & BAL_DR else Result.exceeds_debits
        if t.flags & PENDING:
            dr.dp += amount
            cr.cp += amount
            deadline = self.seconds + t.timeout if t.timeout else None
            self.holds[t.id] = RefHold(t.debit_account_id, t.credit_account_id, amount, deadline)
        else:
            dr.dpo += amount
            cr.cpo += amount
        self.facts[t.id] = Fact(*t[:3], amount, *t[4:11])
        return Result.ok

    def resolve(self, t: Transfer) -> Result:
        p = self.facts.get(t.pending_id)
        if p is None:
            return Result.pending_transfer_not_found
        if not p.flags & PENDING:
            return Result.pending_transfer_not_pending
        if t.debit_account_id and t.debit_account_id != p.dr:
            return Result.pending_transfer_has_different_debit_account_id
        if t.credit_account_id and t.credit_account_id != p.cr:
            return Result.pending_transfer_has_different_credit_account_id
        if t.ledger and t.ledger != p.ledger:
            return Result.pending_transfer_has_different_ledger
        if t.code and t.code != p.code:
            return Result.pending_transfer_has_different_code
        hold = self.holds[p.id]
        if hold.status != "pending":
            return {
                "posted": Result.pending_transfer_already_posted,
                "voided": Result.pending_transfer_already_voided,
                "expired": Result.pending_transfer_expired,
            }[hold.status]
        post = t.flags & POST
        if post and t.amount > p.amount:
            return Result.exceeds_pending_transfer_amount
        if not post and t.amount not in (0, p.amount):
            return Result.pending_transfer_has_different_amount
        dr, cr = self.accounts[p.dr], self.accounts[p.cr]
        if post and dr.frozen & DR_FROZEN:
            return Result.debit_account_frozen
        if post and cr.frozen & CR_FROZEN:
            return Result.credit_account_frozen
        dr.dp -= p.amount
        cr.cp -= p.amount
        moved = (t.amount or p.amount) if post else p.amount
        if post:
            dr.dpo += moved
            cr.cpo += moved
        hold.status = "posted" if post else "voided"
        self.facts[t.id] = Fact(
            t.id,
            p.dr,
            p.cr,
            moved,
            p.id,
            t.user_data_64,
            t.user_data_32,
            0,
            p.ledger,
            p.code,
            t.flags,
        )
        return Result.ok


def same_transfer(t: Transfer, e: Fact) -> Result:
    """Idempotency: compare only the fields the caller set (README "Idempotency")."""
    resolving = t.flags & (POST | VOID)

    def given(v: int) -> bool:
        return bool(v) or not resolving

    if t.flags != e.flags:
        return Result.exists_with_different_flags
    if t.pending_id != e.pending_id:
        return Result.exists_with_different_pending_id
    if given(t.debit_account_id) and t.debit_account_id != e.dr:
        return Result.exists_with_different_debit_account_id
    if given(t.credit_account_id) and t.credit_account_id != e.cr:
        return Result.exists_with_different_credit_account_id
    if resolving:
        amount_differs = t.amount != 0 and t.amount != e.amount
    elif t.flags & (BAL_DR | BAL_CR):
        amount_differs = t.amount < e.amount  # asked at least what was moved
    else:
        amount_differs = t.amount != e.amount
    if amount_differs:
        return Result.exists_with_different_amount
    if t.user_data_64 != e.user_data_64:
        return Result.exists_with_different_user_data_64
    if t.user_data_32 != e.user_data_32:
        return Result.exists_with_different_user_data_32
    if t.timeout != e.timeout:
        return Result.exists_with_different_timeout
    if given(t.ledger) and t.ledger != e.ledger:
        return Result.exists_with_different_ledger
    if given(t.code) and t.code != e.code:
        return Result.exists_with_different_code
    return Result.exists


def is_linked(e: Event) -> bool:
    if isinstance(e, AccountFlagsChange):
        return e.linked
    return bool(e.flags & LINKED)


def unlinked(e: Event) -> Event:
    if isinstance(e, Transfer):
        return e._replace(flags=e.flags & ~LINKED)
    if isinstance(e, Account):
        return with_fields(e, flags=e.flags & ~LINKED)
    return AccountFlagsChange(e.account_id, e.set_flags, e.clear_flags, linked=False)


# -- the state machine ---------------------------------------------------------------------------

BANK, ALICE, BOB, CAROL, RESERVE, DAVE, ERIN = 1, 2, 3, 4, 5, 6, 7
NOBODY = 9  # never opened
OPENABLE = [BANK, ALICE, BOB, CAROL, RESERVE, DAVE, ERIN]  # ERIN opens only during a run
PARTIES = [BANK] * 3 + [ALICE] * 3 + [BOB] * 3 + [CAROL] * 2 + [RESERVE] * 2 + [DAVE, ERIN, NOBODY]
WALLET = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY
AMOUNTS = st.one_of(
    st.sampled_from([1, 100, 2_500, 10_000, 30_000, 50_000]), st.integers(0, 60_000)
)
CODES = st.sampled_from([c.value for c in TransferCode])


def natural(account_id: int) -> Account:
    """How each party is normally opened: BANK runs either way, RESERVE's credits may not
    exceed its debits, the others are wallets (DAVE's in USD)."""
    if account_id == BANK:
        return account(BANK, code=AccountCode.BANK_IN_FLIGHT, flags=AccountFlags.HISTORY)
    if account_id == RESERVE:
        return account(
            RESERVE, code=AccountCode.RESERVE, flags=AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
        )
    return account(account_id, ledger=USD if account_id == DAVE else CNY, flags=WALLET)


def shaped(events: list[Event], shape: str) -> list[Event]:
    events = [unlinked(e) for e in events]
    if shape == "chain":
        return [as_linked(e) for e in events[:-1]] + events[-1:]
    if shape == "open":
        return [as_linked(e) for e in events]
    return events


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger(narrow=True)
        self.model = Model()
        self.next_id = 1
        self.sent: list[Transfer] = []

    # -- plumbing --

    def fresh(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def send(self, requests: list[list[Event]]) -> None:
        out = self.ledger.apply(*requests)
        expected, expired = self.model.batch(requests)
        assert out.results == expected, requests
        assert out.expired == expired
        self.sent.extend(e for r in requests for e in r if isinstance(e, Transfer))

    # -- drawing events --

    def draw_event(self, data: st.DataObject) -> Event:
        kind = data.draw(
            st.sampled_from(
                ["pay"] * 3
                + ["top up"] * 2
                + ["hold"] * 3
                + ["post"] * 3
                + ["void", "balancing"]
                + ["open"]
                + ["flags"] * 2
                + ["retry"] * 2
                + ["retry changed"]
            ),
            label="kind",
        )
        if kind in ("retry", "retry changed") and not self.sent:
            kind = "pay"
        if kind == "open":
            return self.draw_account(data)
        if kind == "flags":
            return self.draw_flags(data)
        if kind == "retry":
            return data.draw(st.sampled_from(self.sent), label="retry")
        if kind == "retry changed":
            return self.draw_changed(data)
        if kind in ("post", "void"):
            return self.draw_resolution(data, kind)
        dr = BANK if kind == "top up" else data.draw(st.sampled_from(PARTIES), label="debit")
        others = [p for p in PARTIES if p != dr]
        if data.draw(st.sampled_from([False] * 19 + [True]), label="to oneself"):
            others = [dr]
        cr = data.draw(st.sampled_from(others), label="credit")
        flags, timeout = 0, 0
        if kind == "hold":
            flags = PENDING
            timeout = data.draw(st.sampled_from([0, 0, 1, 2, 5]), label="timeout")
        if kind == "balancing":
            flags = data.draw(st.sampled_from([BAL_DR, BAL_CR, BAL_DR | BAL_CR, BAL_DR | PENDING]))
        return transfer(
            self.fresh(),
            dr,
            cr,
            data.draw(AMOUNTS, label="amount"),
            ledger=data.draw(st.sampled_from([CNY] * 9 + [USD]), label="ledger"),
            code=data.draw(CODES, label="code"),
            flags=flags,
            timeout=timeout,
            user_data_64=data.draw(st.sampled_from([0, 0, 0, 7]), label="user_data_64"),
        )

    def draw_account(self, data: st.DataObject) -> Account:
        a = natural(data.draw(st.sampled_from(OPENABLE), label="open"))
        change = data.draw(
            st.sampled_from(["none"] * 6 + ["flags", "ledger", "code", "ud64", "ud32"])
        )
        if change == "flags":
            return with_fields(a, flags=a.flags ^ AccountFlags.HISTORY)
        if change == "ledger":
            return with_fields(a, ledger=USD if a.ledger == CNY else CNY)
        if change == "code":
            return with_fields(a, code=AccountCode.ESCROW)
        if change == "ud64":
            return with_fields(a, user_data_64=1)
        if change == "ud32":
            return with_fields(a, user_data_32=1)
        return a

    def draw_flags(self, data: st.DataObject) -> AccountFlagsChange:
        account_id = data.draw(st.sampled_from([*OPENABLE, NOBODY]), label="flags of")
        set_flags, clear_flags = data.draw(
            st.sampled_from(
                [
                    (DR_FROZEN, 0),
                    (CR_FROZEN, 0),
                    (DR_FROZEN | CR_FROZEN, 0),
                    (0, DR_FROZEN),
                    (0, CR_FROZEN),
                    (0, DR_FROZEN | CR_FROZEN),
                    (CLOSED, 0),
                    (CLOSED | DR_FROZEN, 0),
                ]
            ),
            label="change",
        )
        return AccountFlagsChange(account_id, set_flags, clear_flags)

    def draw_resolution(self, data: st.DataObject, kind: str) -> Transfer:
        holds = sorted(self.model.holds)
        open_holds = [i for i in holds if self.model.holds[i].status == "pending"]
        which = data.draw(st.integers(0, 9), label="which hold")
        if open_holds and which < 6:
            pending_id = data.draw(st.sampled_from(open_holds), label="open hold")
        elif holds and which < 9:
            pending_id = data.draw(st.sampled_from(holds), label="hold")
        else:
            pending_id = data.draw(st.integers(1, self.next_id + 2), label="pending id")
        held = self.model.facts[pending_id].amount if pending_id in self.model.holds else 100
        amount = data.draw(st.sampled_from([0, 0, 1, held // 2 or 1, held, held + 1]))
        flags = POST if kind == "post" else VOID
        if kind == "void":
            amount = data.draw(st.sampled_from([0, 0, 0, held, 1]), label="void amount")
        return Transfer(self.fresh(), amount=amount, pending_id=pending_id, flags=flags)

    def draw_changed(self, data: st.DataObject) -> Transfer:
        t = data.draw(st.sampled_from(self.sent), label="changed retry")
        field_name = data.draw(
            st.sampled_from(
                [
                    "amount",
                    "code",
                    "user_data_64",
                    "user_data_32",
                    "debit_account_id",
                    "credit_account_id",
                    "ledger",
                    "timeout",
                    "pending_id",
                ]
            )
        )
        if field_name == "timeout" and not t.flags & PENDING:
            field_name = "amount"
        if field_name == "pending_id" and not t.flags & (POST | VOID):
            field_name = "code"
        if field_name == "ledger":
            return t._replace(ledger=USD if t.ledger == CNY else CNY)
        if field_name in ("debit_account_id", "credit_account_id"):
            other = data.draw(st.sampled_from([a for a in OPENABLE if a != getattr(t, field_name)]))
            return t._replace(**{field_name: other})
        return t._replace(**{field_name: getattr(t, field_name) + 1})

    def draw_request(self, data: st.DataObject) -> list[Event]:
        n = data.draw(st.integers(1, 4), label="events")
        events = [self.draw_event(data) for _ in range(n)]
        shape = data.draw(st.sampled_from(["plain"] * 3 + ["chain"] * 3 + ["open"]), label="shape")
        return shaped(events, shape)

    # -- rules --

    @initialize()
    def open_the_books(self) -> None:
        opening: list[Event] = [natural(i) for i in (BANK, ALICE, BOB, CAROL, RESERVE, DAVE)]
        top_ups: list[Event] = [
            transfer(self.fresh(), BANK, ALICE, 50_000, code=TransferCode.TOP_UP),
            transfer(self.fresh(), BANK, BOB, 20_000, code=TransferCode.TOP_UP),
            transfer(self.fresh(), RESERVE, CAROL, 10_000, code=TransferCode.TOP_UP),
        ]
        self.send([opening, top_ups])

    @rule(data=st.data())
    def a_batch(self, data: st.DataObject) -> None:
        n = data.draw(st.integers(1, 3), label="requests")
        self.send([self.draw_request(data) for _ in range(n)])

    @rule(data=st.data())
    def a_payment_plan(self, data: st.DataObject) -> None:
        """A hold and what becomes of it, in one request or spread over two."""
        hold_id = self.fresh()
        payer = data.draw(st.sampled_from([ALICE, BOB, CAROL]), label="payer")
        payee = data.draw(st.sampled_from([p for p in (BOB, CAROL, RESERVE) if p != payer]))
        hold = transfer(
            hold_id,
            payer,
            payee,
            data.draw(AMOUNTS),
            flags=PENDING,
            timeout=data.draw(st.sampled_from([0, 1, 3])),
        )
        end = data.draw(st.sampled_from([POST, VOID]), label="end")
        amount = data.draw(st.sampled_from([0, 1, hold.amount // 3 or 1])) if end == POST else 0
        resolution = Transfer(self.fresh(), amount=amount, pending_id=hold_id, flags=end)
        if data.draw(st.booleans(), label="together"):
            self.send([shaped([hold, resolution], data.draw(st.sampled_from(["plain", "chain"])))])
        else:
            self.send([[hold]])
            self.send([[resolution]])

    @rule(seconds=st.integers(1, 4))
    def time_passes(self, seconds: int) -> None:
        self.ledger.advance(seconds)
        self.model.seconds += seconds

    @rule()
    def an_empty_batch(self) -> None:
        self.send([])

    # -- invariants --

    @invariant()
    def the_books_match_the_model(self) -> None:
        stored, model = self.ledger, self.model
        assert stored.accounts.keys() == model.accounts.keys()
        for account_id, ref in model.accounts.items():
            a = stored.accounts[account_id]
            assert stored.counters(account_id) == (ref.dp, ref.dpo, ref.cp, ref.cpo), account_id
            assert a.flags & ~LINKED == (ref.flags & ~LINKED) | ref.frozen
            assert (a.ledger, a.code, a.user_data_64, a.user_data_32) == (
                ref.ledger,
                ref.code,
                ref.user_data_64,
                ref.user_data_32,
            )
        assert {i: tuple(t[:11]) for i, t in stored.transfers.items()} == {
            i: tuple(f) for i, f in model.facts.items()
        }
        assert {i: p.status for i, p in stored.pending.items()} == {
            i: STATUS[h.status] for i, h in model.holds.items()
        }
        assert stored.failed == model.failed

    @invariant()
    def flag_changes_and_balance_history_are_recorded(self) -> None:
        changes = Counter(c[0] for c in self.ledger.flag_changes)
        assert changes == Counter(
            {i: a.flag_changes for i, a in self.model.accounts.items() if a.flag_changes}
        )
        last: dict[int, tuple[int, ...]] = {}
        for account_id, ts, *counters in self.ledger.history:
            assert ts > last.get(account_id, (0,))[0]
            last[account_id] = (ts, *counters)
        for account_id, a in self.ledger.accounts.items():
            now = self.ledger.counters(account_id)
            if not a.flags & AccountFlags.HISTORY:
                assert account_id not in last
            elif now != (0, 0, 0, 0) or account_id in last:
                assert last[account_id][1:] == now

    @invariant()
    def the_ledger_verifies(self) -> None:
        assert self.ledger.problems() == []

    @invariant()
    def no_wallet_is_below_zero(self) -> None:
        for a in self.ledger.accounts.values():
            if a.flags & DR_LIMIT:
                assert a.credits_posted - a.debits_posted - a.debits_pending >= 0, a

    @invariant()
    def time_only_moves_forward(self) -> None:
        stamps = [t.timestamp for t in self.ledger.transfers.values()]
        assert stamps == sorted(set(stamps))
        assert not stamps or stamps[-1] <= self.ledger.last_timestamp
        assert self.ledger.now == NOW + self.model.seconds * SECOND


STATUS = {
    "pending": PendingStatus.PENDING,
    "posted": PendingStatus.POSTED,
    "voided": PendingStatus.VOIDED,
    "expired": PendingStatus.EXPIRED,
}

LedgerMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestLedgerAgainstTheModel = LedgerMachine.TestCase
