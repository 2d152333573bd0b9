"""The ledger state machine: `apply_batch(view, requests) -> BatchOutcome`.

Pure: it reads a `LedgerView` (the stored state the batch can touch, fetched by the
storage layer) and returns what to write, never mutating its input and doing no I/O.
Storage commits the whole outcome in one transaction, so a batch is all or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from guardpay.domain.ledger.fast import plain_transfer
from guardpay.domain.ledger.model import (
    Account,
    AccountFlags,
    AccountFlagsChange,
    Event,
    PendingState,
    PendingStatus,
    Transfer,
    TransferFlags,
)
from guardpay.domain.ledger.results import TRANSIENT, Result
from guardpay.domain.ledger.transfers import single_phase, two_phase
from guardpay.domain.ledger.validate import (
    check_account_exists,
    check_transfer_exists,
    validate_account,
    validate_flags_change,
    validate_transfer,
)
from guardpay.domain.ledger.work import (
    CP,
    CPO,
    DP,
    DPO,
    FLAGS,
    BatchOutcome,
    LedgerView,
    Work,
    to_account,
)

_RESOLVING = int(TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING)


def apply_event(w: Work, e: Event) -> Result:
    if isinstance(e, Transfer):
        r = validate_transfer(e)
        if r is not None:
            return r
        existing = w.transfer(e.id)
        if existing is not None:
            if e.flags & _RESOLVING:
                hold = w.transfer(e.pending_id)
                return check_transfer_exists(e, existing, hold.amount if hold else None)
            return check_transfer_exists(e, existing)
        if w.failure(e.id) is not None:
            return Result.id_already_failed
        if e.flags & _RESOLVING:
            return two_phase(w, e)
        return single_phase(w, e)
    if isinstance(e, Account):
        return _create_account(w, e)
    return _change_flags(w, e)


def _create_account(w: Work, a: Account) -> Result:
    r = validate_account(a)
    if r is not None:
        return r
    existing = w.account(a.id)
    if existing is not None:
        return check_account_exists(a, to_account(a.id, existing))
    w.add_account(a, w.next_ts())
    return Result.ok


def _change_flags(w: Work, c: AccountFlagsChange) -> Result:
    r = validate_flags_change(c)
    if r is not None:
        return r
    b = w.account(c.account_id)
    if b is None:
        return Result.account_not_found
    if b[FLAGS] & AccountFlags.CLOSED:
        return Result.account_closed
    if c.set_flags & AccountFlags.CLOSED and (b[DP] or b[CP] or b[DPO] != b[CPO]):
        return Result.account_balance_not_zero
    ts = w.next_ts()
    w.add_history_undo()
    w.touch(c.account_id, b)
    b[FLAGS] = (b[FLAGS] | c.set_flags) & ~c.clear_flags
    w.flag_changes.append((c.account_id, c.set_flags, c.clear_flags, ts))
    return Result.ok


def _expire(w: Work, expiring: Sequence[Transfer]) -> None:
    """Release holds whose timeout passed: the money returns to the debit account."""
    for p in expiring:
        state = w.pending_state(p.id)
        if state is None or state.status != PendingStatus.PENDING:
            continue
        dr, cr = w.account(p.debit_account_id), w.account(p.credit_account_id)
        assert dr is not None, "a pending transfer names stored accounts"
        assert cr is not None, "a pending transfer names stored accounts"
        ts = w.next_ts()
        w.touch(p.debit_account_id, dr)
        w.touch(p.credit_account_id, cr)
        dr[DP] -= p.amount
        cr[CP] -= p.amount
        w.record_history(p.debit_account_id, dr, ts)
        w.record_history(p.credit_account_id, cr, ts)
        w.set_pending(PendingState(p.id, PendingStatus.EXPIRED, state.expires_at), True)


def _event_id(e: Event) -> int:
    return e.account_id if isinstance(e, AccountFlagsChange) else e.id


def _record_failure(w: Work, e: Event, r: Result) -> None:
    if r in TRANSIENT and isinstance(e, Transfer):
        w.failed[e.id] = r


def _apply_chain(w: Work, chain: Sequence[Event]) -> list[Result]:
    """All or nothing: on the first failure every change the chain made is undone."""
    w.undo = []
    out: list[Result] = []
    for e in chain:
        r = apply_event(w, e)
        if not r.succeeded:
            break
        out.append(r)
    undo, w.undo = w.undo, None
    if len(out) == len(chain):
        return out
    for step in reversed(undo):
        step()
    failed_at = len(out)
    _record_failure(w, chain[failed_at], r)
    failed = [Result.linked_event_failed] * len(chain)
    failed[failed_at] = r
    return failed


def _is_linked(e: Event) -> bool:
    return e.linked


def apply_request(w: Work, events: Sequence[Event]) -> list[Result]:
    """Apply one caller's events in order; a `linked` run applies all-or-nothing."""
    out: list[Result] = []
    i, n = 0, len(events)
    while i < n:
        e = events[i]
        if not _is_linked(e):
            r = plain_transfer(w, e) or apply_event(w, e)
            if r is not Result.ok and r is not Result.exists:
                _record_failure(w, e, r)
            out.append(r)
            i += 1
            continue
        j = i
        while j < n and _is_linked(events[j]):
            j += 1
        if j == n:  # the caller's last event is linked: the chain never closes
            out.extend([Result.linked_event_failed] * (n - 1 - i))
            out.append(Result.linked_event_chain_open)
            break
        out.extend(_apply_chain(w, events[i : j + 1]))
        i = j + 1
    return out


def apply_batch(view: LedgerView, requests: Sequence[Sequence[Event]]) -> BatchOutcome:
    """Apply several callers' requests in order, as one batch, against `view`."""
    w = Work(view=view, ts=max(view.now, view.last_timestamp))
    _expire(w, view.expiring)
    expired = len(w.resolved)
    results = [apply_request(w, req) for req in requests]
    new = [p for key, p in w.pending.items() if key not in view.pending]
    return BatchOutcome(
        results=results,
        accounts_created=[to_account(i, w.bal[i]) for i in w.created],
        accounts_updated=[to_account(i, w.bal[i]) for i in w.dirty if i not in w.created],
        transfers=list(w.transfers.values()),
        after=list(w.after.values()),
        pending_created=new,
        pending_resolved=[(k, s) for k, s in w.resolved.items() if k in view.pending],
        failed=list(w.failed.items()),
        history=w.history,
        flag_changes=w.flag_changes,
        last_timestamp=w.ts,
        expired=expired,
    )
