"""Ledger records: accounts, transfers and account flag changes.

The ledger follows TigerBeetle's model. Accounts carry four counters that only transfers
change; transfers are immutable facts whose id is the idempotency key.

`Account` and `Transfer` are NamedTuples rather than dataclasses on purpose: immutable,
cheap to build on the hot path (a frozen dataclass costs several times more per
instance), and their field order is the column order of their tables, so a batch is read
and written without copying into other shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag
from typing import NamedTuple

#: Largest value of any 64-bit counter or amount. Reserved as a sentinel for ids.
INT64_MAX = 2**63 - 1
#: Largest value of 32-bit fields (ledger, code, user_data_32, timeout).
INT32_MAX = 2**31 - 1
NANOS_PER_SECOND = 1_000_000_000


class AccountFlags(IntFlag):
    """Account flags. Limit and history flags are fixed at creation; the freeze and close
    flags are changed only by `AccountFlagsChange` events, so every change is recorded."""

    NONE = 0
    LINKED = 1 << 0
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1 << 1
    CREDITS_MUST_NOT_EXCEED_DEBITS = 1 << 2
    HISTORY = 1 << 3
    DEBITS_FROZEN = 1 << 4
    CREDITS_FROZEN = 1 << 5
    CLOSED = 1 << 6


#: Flags an account may be created with.
CREATION_FLAGS = (
    AccountFlags.LINKED
    | AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
    | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
    | AccountFlags.HISTORY
)
#: Flags an `AccountFlagsChange` may set or clear (CLOSED may only be set).
CHANGEABLE_FLAGS = AccountFlags.DEBITS_FROZEN | AccountFlags.CREDITS_FROZEN | AccountFlags.CLOSED


class TransferFlags(IntFlag):
    NONE = 0
    LINKED = 1 << 0
    PENDING = 1 << 1
    POST_PENDING = 1 << 2
    VOID_PENDING = 1 << 3
    BALANCING_DEBIT = 1 << 4
    BALANCING_CREDIT = 1 << 5


KNOWN_TRANSFER_FLAGS = (
    TransferFlags.LINKED
    | TransferFlags.PENDING
    | TransferFlags.POST_PENDING
    | TransferFlags.VOID_PENDING
    | TransferFlags.BALANCING_DEBIT
    | TransferFlags.BALANCING_CREDIT
)


class Account(NamedTuple):
    """An account and its balances. `ledger` names the currency (one currency per ledger);
    `code` is the account type from the chart of accounts.

    A NamedTuple for the same reason as `Transfer`: a batch reads and writes thousands,
    and the field order is the column order of `ledger_accounts`."""

    id: int
    ledger: int
    code: int
    flags: int = 0
    user_data_64: int = 0
    user_data_32: int = 0
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    timestamp: int = 0

    @property
    def linked(self) -> bool:
        return bool(self.flags & 1)  # AccountFlags.LINKED, as a plain int for speed

    @property
    def balance(self) -> int:
        """Posted credits minus posted debits: what a liability account (a wallet) holds."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """What a credit-normal account can still spend: holds are already counted out."""
        return self.credits_posted - self.debits_posted - self.debits_pending


class Transfer(NamedTuple):
    """A request to move `amount` from the debit to the credit account, and, once
    accepted, the stored fact (with `timestamp` set and `amount` the amount moved).

    For `post_pending` and `void_pending` the accounts, ledger and code may be left 0 to
    take them from the pending transfer, and an amount of 0 means the full pending amount.
    """

    id: int
    debit_account_id: int = 0
    credit_account_id: int = 0
    amount: int = 0
    pending_id: int = 0
    user_data_64: int = 0
    user_data_32: int = 0
    timeout: int = 0
    ledger: int = 0
    code: int = 0
    flags: int = 0
    timestamp: int = 0

    @property
    def linked(self) -> bool:
        return bool(self.flags & 1)  # TransferFlags.LINKED, as a plain int for speed


@dataclass(frozen=True, slots=True)
class AccountFlagsChange:
    """Freeze or unfreeze an account for debits and/or credits, or close it.

    Closing is final and needs zero balances with nothing pending, so a closed account
    can never hide money."""

    account_id: int
    set_flags: int = 0
    clear_flags: int = 0
    linked: bool = False


class PendingStatus:
    """Lifecycle of a pending transfer, kept beside the immutable transfer row."""

    PENDING = 1
    POSTED = 2
    VOIDED = 3
    EXPIRED = 4


@dataclass(frozen=True, slots=True)
class PendingState:
    transfer_id: int
    status: int
    expires_at: int  # nanoseconds since the epoch; 0 means the hold never expires


Event = Account | Transfer | AccountFlagsChange
