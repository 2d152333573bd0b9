"""Applying a valid, new transfer to the working balances.

`single_phase` covers plain, pending and balancing transfers; `two_phase` posts or voids
a pending one. Both check everything before changing anything, so a failure leaves the
balances as they were.
"""

from __future__ import annotations

from guardpay.domain.ledger.model import (
    INT64_MAX,
    NANOS_PER_SECOND,
    AccountFlags,
    PendingState,
    PendingStatus,
    Transfer,
    TransferFlags,
)
from guardpay.domain.ledger.results import Result
from guardpay.domain.ledger.work import CP, CPO, DP, DPO, FLAGS, LEDGER, Bal, Work

_CLOSED = int(AccountFlags.CLOSED)
_DR_FROZEN = int(AccountFlags.DEBITS_FROZEN)
_CR_FROZEN = int(AccountFlags.CREDITS_FROZEN)
_DR_LIMIT = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CR_LIMIT = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_PENDING = int(TransferFlags.PENDING)
_POST = int(TransferFlags.POST_PENDING)
_BAL_DR = int(TransferFlags.BALANCING_DEBIT)
_BAL_CR = int(TransferFlags.BALANCING_CREDIT)


def _account_state(dr: Bal, cr: Bal, t: Transfer) -> Result | None:
    if dr[LEDGER] != cr[LEDGER]:
        return Result.accounts_must_have_the_same_ledger
    if t.ledger != dr[LEDGER]:
        return Result.transfer_must_have_the_same_ledger_as_accounts
    if dr[FLAGS] & _CLOSED:
        return Result.debit_account_closed
    if cr[FLAGS] & _CLOSED:
        return Result.credit_account_closed
    if dr[FLAGS] & _DR_FROZEN:
        return Result.debit_account_frozen
    if cr[FLAGS] & _CR_FROZEN:
        return Result.credit_account_frozen
    return None


def _balanced_amount(dr: Bal, cr: Bal, flags: int, amount: int) -> int:
    """A balancing transfer moves at most what the limited side still allows."""
    if flags & _BAL_DR:
        amount = min(amount, max(0, dr[CPO] - dr[DPO] - dr[DP]))
    if flags & _BAL_CR:
        amount = min(amount, max(0, cr[DPO] - cr[CPO] - cr[CP]))
    return amount


def _overflow(dr: Bal, cr: Bal, amount: int, pending: int) -> Result | None:
    if pending:
        if dr[DP] + amount > INT64_MAX:
            return Result.overflows_debits_pending
        if cr[CP] + amount > INT64_MAX:
            return Result.overflows_credits_pending
    else:
        if dr[DPO] + amount > INT64_MAX:
            return Result.overflows_debits_posted
        if cr[CPO] + amount > INT64_MAX:
            return Result.overflows_credits_posted
    if dr[DP] + dr[DPO] + amount > INT64_MAX:
        return Result.overflows_debits
    if cr[CP] + cr[CPO] + amount > INT64_MAX:
        return Result.overflows_credits
    return None


def _limits(dr: Bal, cr: Bal, amount: int, flags: int) -> Result | None:
    if dr[FLAGS] & _DR_LIMIT and dr[DP] + dr[DPO] + amount > dr[CPO]:
        return Result.exceeds_credits
    if cr[FLAGS] & _CR_LIMIT and cr[CP] + cr[CPO] + amount > cr[DPO]:
        return Result.exceeds_debits
    if flags & (_BAL_DR | _BAL_CR) and amount == 0:
        return Result.exceeds_credits if flags & _BAL_DR else Result.exceeds_debits
    return None


_DR_BLOCK = _CLOSED | _DR_FROZEN
_CR_BLOCK = _CLOSED | _CR_FROZEN
_HISTORY = int(AccountFlags.HISTORY)
_new_transfer = tuple.__new__


def single_phase(w: Work, t: Transfer) -> Result:
    """The hot path: the common case passes a few inline checks; only a failing event
    pays for the detailed checks that name the exact reason."""
    dr = w.account(t.debit_account_id)
    if dr is None:
        return Result.debit_account_not_found
    cr = w.account(t.credit_account_id)
    if cr is None:
        return Result.credit_account_not_found
    flags, amount, ledger = t.flags, t.amount, t.ledger
    if flags & (_BAL_DR | _BAL_CR):
        amount = _balanced_amount(dr, cr, flags, amount)
    pending = flags & _PENDING
    if (
        dr[LEDGER] != ledger
        or cr[LEDGER] != ledger
        or dr[FLAGS] & _DR_BLOCK
        or cr[FLAGS] & _CR_BLOCK
        or dr[DP] + dr[DPO] + amount > INT64_MAX
        or cr[CP] + cr[CPO] + amount > INT64_MAX
        or (dr[FLAGS] & _DR_LIMIT and dr[DP] + dr[DPO] + amount > dr[CPO])
        or (cr[FLAGS] & _CR_LIMIT and cr[CP] + cr[CPO] + amount > cr[DPO])
        or amount == 0
    ):
        r = (
            _account_state(dr, cr, t)
            or _overflow(dr, cr, amount, pending)
            or _limits(dr, cr, amount, flags)
        )
        assert r is not None, "the inline checks and the detailed ones agree"
        return r
    ts = w.ts + 1
    if pending:
        expires = ts + t.timeout * NANOS_PER_SECOND if t.timeout else 0
        if expires > INT64_MAX:
            return Result.overflows_timeout
        w.set_pending(PendingState(t.id, PendingStatus.PENDING, expires), False)
    w.ts = ts
    _move(w, t.debit_account_id, dr, t.credit_account_id, cr, amount, DP if pending else DPO, ts)
    w.add_transfer(_new_transfer(Transfer, (*t[:3], amount, *t[4:11], ts)), dr, cr)
    return Result.ok


def _move(
    w: Work, dr_id: int, dr: Bal, cr_id: int, cr: Bal, amount: int, slot: int, ts: int
) -> None:
    """Add `amount` to the debit side's `slot` and the matching credit-side counter."""
    if w.undo is None:
        w.dirty[dr_id] = w.dirty[cr_id] = None
    else:
        w.touch(dr_id, dr)
        w.touch(cr_id, cr)
    dr[slot] += amount
    cr[slot + 2] += amount  # DP->CP, DPO->CPO
    if (dr[FLAGS] | cr[FLAGS]) & _HISTORY:
        w.add_history_undo()
        w.record_history(dr_id, dr, ts)
        w.record_history(cr_id, cr, ts)


def _pending_target(w: Work, t: Transfer) -> tuple[Transfer, PendingState] | Result:
    p = w.transfer(t.pending_id)
    if p is None:
        return Result.pending_transfer_not_found
    state = w.pending_state(p.id)
    if state is None or not p.flags & _PENDING:
        return Result.pending_transfer_not_pending
    if t.debit_account_id and t.debit_account_id != p.debit_account_id:
        return Result.pending_transfer_has_different_debit_account_id
    if t.credit_account_id and t.credit_account_id != p.credit_account_id:
        return Result.pending_transfer_has_different_credit_account_id
    if t.ledger and t.ledger != p.ledger:
        return Result.pending_transfer_has_different_ledger
    if t.code and t.code != p.code:
        return Result.pending_transfer_has_different_code
    return p, state


_RESOLVED = {
    PendingStatus.POSTED: Result.pending_transfer_already_posted,
    PendingStatus.VOIDED: Result.pending_transfer_already_voided,
    PendingStatus.EXPIRED: Result.pending_transfer_expired,
}


def _resolve_amount(t: Transfer, p: Transfer) -> int | Result:
    if t.flags & _POST:
        if t.amount > p.amount:
            return Result.exceeds_pending_transfer_amount
        return t.amount or p.amount
    if t.amount and t.amount != p.amount:
        return Result.pending_transfer_has_different_amount
    return p.amount


def two_phase(w: Work, t: Transfer) -> Result:
    """Post (all or part of) a hold, or void it; the rest of the hold is released."""
    target = _pending_target(w, t)
    if isinstance(target, Result):
        return target
    p, state = target
    if state.status != PendingStatus.PENDING:
        return _RESOLVED[state.status]
    if state.expires_at and state.expires_at <= w.now:
        return Result.pending_transfer_expired
    amount = _resolve_amount(t, p)
    if isinstance(amount, Result):
        return amount
    dr, cr = w.account(p.debit_account_id), w.account(p.credit_account_id)
    assert dr is not None, "a pending transfer names stored accounts"
    assert cr is not None, "a pending transfer names stored accounts"
    post = t.flags & _POST
    if post and dr[FLAGS] & _DR_FROZEN:
        return Result.debit_account_frozen
    if post and cr[FLAGS] & _CR_FROZEN:
        return Result.credit_account_frozen
    ts = w.next_ts()
    w.touch(p.debit_account_id, dr)
    w.touch(p.credit_account_id, cr)
    dr[DP] -= p.amount
    cr[CP] -= p.amount
    if post:
        dr[DPO] += amount
        cr[CPO] += amount
    status = PendingStatus.POSTED if post else PendingStatus.VOIDED
    w.set_pending(PendingState(p.id, status, state.expires_at), True)
    w.add_history_undo()
    w.record_history(p.debit_account_id, dr, ts)
    w.record_history(p.credit_account_id, cr, ts)
    stored = Transfer(
        t.id,
        p.debit_account_id,
        p.credit_account_id,
        amount,
        p.id,
        t.user_data_64,
        t.user_data_32,
        0,
        p.ledger,
        p.code,
        t.flags,
        ts,
    )
    w.add_transfer(stored, dr, cr)
    return Result.ok
