"""The fast path for the commonest event: a plain transfer between two known accounts.

A batch is mostly plain single-phase transfers (no flags, no hold, no timeout). This
function applies one in a single flat pass. It never decides a failure: anything out of
the ordinary (a flag, an unusual value, an id seen before, an account missing, frozen,
closed, over its limit or near overflow) returns None and the general path in
`engine.apply_event` decides, so both paths give the same result by construction. The
property-based state machine in the tests drives both.
"""

from __future__ import annotations

from guardpay.domain.ledger.model import INT32_MAX, INT64_MAX, AccountFlags, Transfer
from guardpay.domain.ledger.results import Result
from guardpay.domain.ledger.work import CP, CPO, DP, DPO, FLAGS, LEDGER, Work, to_bal

_DR_SLOW = int(AccountFlags.CLOSED | AccountFlags.DEBITS_FROZEN)
_CR_SLOW = int(AccountFlags.CLOSED | AccountFlags.CREDITS_FROZEN)
_DR_LIMIT = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CR_LIMIT = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_HISTORY = int(AccountFlags.HISTORY)
_new = tuple.__new__
_OK = Result.ok


def plain_transfer(w: Work, t: object) -> Result | None:
    """Apply `t` if it is a plain transfer that will succeed; else None (take the
    general path). Must only be called outside a linked chain."""
    if type(t) is not Transfer:
        return None
    tid, dr_id, cr_id, amount, pending_id, ud64, ud32, timeout, ledger, code, flags, ts = t
    if flags or pending_id or timeout or ts or dr_id == cr_id:
        return None
    if not (0 < tid < INT64_MAX and 0 < amount <= INT64_MAX and 0 <= ud64 <= INT64_MAX):
        return None
    if not (0 < dr_id <= INT64_MAX and 0 < cr_id <= INT64_MAX and 0 <= ud32 <= INT32_MAX):
        return None
    if not (0 < ledger <= INT32_MAX and 0 < code <= INT32_MAX):
        return None
    view = w.view
    if tid in w.transfers or tid in view.transfers or tid in w.failed or tid in view.failed:
        return None
    bal = w.bal
    dr = bal.get(dr_id)
    if dr is None:
        stored = view.accounts.get(dr_id)
        if stored is None:
            return None
        dr = bal[dr_id] = to_bal(stored)
    cr = bal.get(cr_id)
    if cr is None:
        stored = view.accounts.get(cr_id)
        if stored is None:
            return None
        cr = bal[cr_id] = to_bal(stored)
    drf, crf = dr[FLAGS], cr[FLAGS]
    dr_total = dr[DP] + dr[DPO] + amount
    cr_total = cr[CP] + cr[CPO] + amount
    if (
        dr[LEDGER] != ledger
        or cr[LEDGER] != ledger
        or drf & _DR_SLOW
        or crf & _CR_SLOW
        or dr_total > INT64_MAX
        or cr_total > INT64_MAX
        or (drf & _DR_LIMIT and dr_total > dr[CPO])
        or (crf & _CR_LIMIT and cr_total > cr[DPO])
    ):
        return None
    ts = w.ts = w.ts + 1
    w.dirty[dr_id] = w.dirty[cr_id] = None
    dr[DPO] += amount
    cr[CPO] += amount
    if (drf | crf) & _HISTORY:
        w.record_history(dr_id, dr, ts)
        w.record_history(cr_id, cr, ts)
    w.transfers[tid] = _new(
        Transfer, (tid, dr_id, cr_id, amount, 0, ud64, ud32, 0, ledger, code, 0, ts)
    )
    w.after[tid] = (dr[DP], dr[DPO], dr[CP], dr[CPO], cr[DP], cr[DPO], cr[CP], cr[CPO])
    return _OK
