"""Checks that need only the event itself (or the stored event with the same id).

Each returns the first failing `Result`, or None. The order of checks is part of the
contract: the same malformed event always gets the same code.
"""

from __future__ import annotations

from guardpay.domain.ledger.model import (
    CHANGEABLE_FLAGS,
    CREATION_FLAGS,
    INT32_MAX,
    INT64_MAX,
    KNOWN_TRANSFER_FLAGS,
    Account,
    AccountFlags,
    AccountFlagsChange,
    Transfer,
    TransferFlags,
)
from guardpay.domain.ledger.results import Result

# Plain ints: IntFlag arithmetic costs microseconds per operation on the hot path.
_PHASE = int(TransferFlags.PENDING | TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING)
_RESOLVING = int(TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING)
_BALANCING = int(TransferFlags.BALANCING_DEBIT | TransferFlags.BALANCING_CREDIT)
_LIMITS = int(
    AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
)
# `~` on an IntFlag inverts only the defined bits, so reserved bits must be masked as ints.
_KNOWN = int(KNOWN_TRANSFER_FLAGS)
_CREATION = int(CREATION_FLAGS)
_CHANGEABLE = int(CHANGEABLE_FLAGS)
_PENDING = int(TransferFlags.PENDING)


def _check_id(event_id: int) -> Result | None:
    if event_id == 0:
        return Result.id_must_not_be_zero
    if event_id == INT64_MAX:
        return Result.id_must_not_be_int_max
    if not 0 < event_id < INT64_MAX:
        return Result.id_out_of_range
    return None


def validate_transfer(t: Transfer) -> Result | None:
    r = _check_id(t.id)
    if r is not None:
        return r
    flags = t.flags
    if flags & ~_KNOWN or flags < 0:
        return Result.reserved_flag
    phase = flags & _PHASE
    if phase & (phase - 1) or (flags & _BALANCING and flags & _RESOLVING):
        return Result.flags_are_mutually_exclusive
    if not 0 <= t.amount <= INT64_MAX:
        return Result.amount_out_of_range
    wide = t.debit_account_id | t.credit_account_id | t.pending_id | t.user_data_64
    narrow = t.ledger | t.code | t.user_data_32 | t.timeout
    if not (0 <= wide <= INT64_MAX and 0 <= narrow <= INT32_MAX):
        return Result.field_out_of_range
    if t.timestamp != 0:
        return Result.timestamp_must_be_zero
    if flags & _RESOLVING:
        return _validate_resolving(t)
    return _validate_new(t, flags)


def _validate_resolving(t: Transfer) -> Result | None:
    if t.pending_id == 0:
        return Result.pending_id_must_not_be_zero
    if t.pending_id == t.id:
        return Result.pending_id_must_be_different
    if t.timeout != 0:
        return Result.timeout_reserved_for_pending_transfer
    return None


def _validate_new(t: Transfer, flags: int) -> Result | None:
    if t.debit_account_id == 0:
        return Result.debit_account_id_must_not_be_zero
    if t.credit_account_id == 0:
        return Result.credit_account_id_must_not_be_zero
    if t.debit_account_id == t.credit_account_id:
        return Result.accounts_must_be_different
    if t.pending_id != 0:
        return Result.pending_id_must_be_zero
    if t.timeout != 0 and not flags & _PENDING:
        return Result.timeout_reserved_for_pending_transfer
    if t.amount == 0:
        return Result.amount_must_not_be_zero
    if t.ledger == 0:
        return Result.ledger_must_not_be_zero
    if t.code == 0:
        return Result.code_must_not_be_zero
    return None


def check_transfer_exists(t: Transfer, e: Transfer, hold_amount: int | None = None) -> Result:
    """Same id seen before: `exists` only if every field the caller set matches.

    Post/void may leave accounts, ledger and code at 0 ("take them from the pending
    transfer"), so only the fields given are compared; an amount of 0 means the whole
    hold (`hold_amount`), so a partial post sent again as a full one is a different
    transfer. A balancing transfer stores the amount it could move, which may be less
    than the amount asked for.
    """
    if t.flags != e.flags:
        return Result.exists_with_different_flags
    resolving = t.flags & _RESOLVING
    if t.pending_id != e.pending_id:
        return Result.exists_with_different_pending_id
    if (t.debit_account_id or not resolving) and t.debit_account_id != e.debit_account_id:
        return Result.exists_with_different_debit_account_id
    if (t.credit_account_id or not resolving) and t.credit_account_id != e.credit_account_id:
        return Result.exists_with_different_credit_account_id
    if _amount_differs(t, e, resolving, hold_amount):
        return Result.exists_with_different_amount
    if t.user_data_64 != e.user_data_64:
        return Result.exists_with_different_user_data_64
    if t.user_data_32 != e.user_data_32:
        return Result.exists_with_different_user_data_32
    if t.timeout != e.timeout:
        return Result.exists_with_different_timeout
    if (t.ledger or not resolving) and t.ledger != e.ledger:
        return Result.exists_with_different_ledger
    if (t.code or not resolving) and t.code != e.code:
        return Result.exists_with_different_code
    return Result.exists


def _amount_differs(t: Transfer, e: Transfer, resolving: int, hold_amount: int | None) -> bool:
    if resolving:
        asked = t.amount or hold_amount
        return asked is not None and asked != e.amount
    if t.flags & _BALANCING:
        return t.amount < e.amount
    return t.amount != e.amount


def validate_account(a: Account) -> Result | None:
    r = _check_id(a.id)
    if r is not None:
        return r
    if a.flags & ~_CREATION or a.flags < 0:
        return Result.reserved_flag
    if a.flags & _LIMITS == _LIMITS:
        return Result.flags_are_mutually_exclusive
    if not (
        0 <= a.user_data_64 <= INT64_MAX and 0 <= a.ledger | a.code | a.user_data_32 <= INT32_MAX
    ):
        return Result.field_out_of_range
    if a.ledger == 0:
        return Result.ledger_must_not_be_zero
    if a.code == 0:
        return Result.code_must_not_be_zero
    if a.debits_pending or a.debits_posted or a.credits_pending or a.credits_posted:
        return Result.balances_must_be_zero
    if a.timestamp != 0:
        return Result.timestamp_must_be_zero
    return None


def check_account_exists(a: Account, e: Account) -> Result:
    if (a.flags ^ e.flags) & ~int(AccountFlags.LINKED | CHANGEABLE_FLAGS):
        return Result.exists_with_different_flags
    if a.ledger != e.ledger:
        return Result.exists_with_different_ledger
    if a.code != e.code:
        return Result.exists_with_different_code
    if a.user_data_64 != e.user_data_64:
        return Result.exists_with_different_user_data_64
    if a.user_data_32 != e.user_data_32:
        return Result.exists_with_different_user_data_32
    return Result.exists


def validate_flags_change(c: AccountFlagsChange) -> Result | None:
    if not 0 < c.account_id < INT64_MAX:
        return Result.account_not_found
    if (c.set_flags | c.clear_flags) & ~_CHANGEABLE or min(c.set_flags, c.clear_flags) < 0:
        return Result.flag_not_changeable
    if c.clear_flags & AccountFlags.CLOSED:
        return Result.flag_not_changeable
    if c.set_flags & c.clear_flags:
        return Result.flags_are_mutually_exclusive
    return None
