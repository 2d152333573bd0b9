"""The one enum of ledger result codes: every event gets exactly one of these back.

Names follow TigerBeetle where it has one. Codes are checked in a fixed order, so the
same event against the same state always gets the same code. Codes in `TRANSIENT` depend
on the ledger's state at the time; an id that failed with one of them is remembered and
answers `id_already_failed` forever after, so a retry can never succeed later by surprise
(say, once the wallet has been topped up).
"""

from __future__ import annotations

from enum import StrEnum


class Result(StrEnum):
    # success
    ok = "ok"
    exists = "exists"
    # batch structure
    linked_event_failed = "linked_event_failed"
    linked_event_chain_open = "linked_event_chain_open"
    # field validation (the event itself is malformed; the same id may be sent again fixed)
    id_must_not_be_zero = "id_must_not_be_zero"
    id_must_not_be_int_max = "id_must_not_be_int_max"
    id_out_of_range = "id_out_of_range"
    flags_are_mutually_exclusive = "flags_are_mutually_exclusive"
    reserved_flag = "reserved_flag"
    ledger_must_not_be_zero = "ledger_must_not_be_zero"
    code_must_not_be_zero = "code_must_not_be_zero"
    field_out_of_range = "field_out_of_range"
    debit_account_id_must_not_be_zero = "debit_account_id_must_not_be_zero"
    credit_account_id_must_not_be_zero = "credit_account_id_must_not_be_zero"
    accounts_must_be_different = "accounts_must_be_different"
    pending_id_must_be_zero = "pending_id_must_be_zero"
    pending_id_must_not_be_zero = "pending_id_must_not_be_zero"
    pending_id_must_be_different = "pending_id_must_be_different"
    timeout_reserved_for_pending_transfer = "timeout_reserved_for_pending_transfer"
    amount_must_not_be_zero = "amount_must_not_be_zero"
    amount_out_of_range = "amount_out_of_range"
    balances_must_be_zero = "balances_must_be_zero"
    timestamp_must_be_zero = "timestamp_must_be_zero"
    # idempotency
    exists_with_different_flags = "exists_with_different_flags"
    exists_with_different_ledger = "exists_with_different_ledger"
    exists_with_different_code = "exists_with_different_code"
    exists_with_different_debit_account_id = "exists_with_different_debit_account_id"
    exists_with_different_credit_account_id = "exists_with_different_credit_account_id"
    exists_with_different_amount = "exists_with_different_amount"
    exists_with_different_pending_id = "exists_with_different_pending_id"
    exists_with_different_user_data_64 = "exists_with_different_user_data_64"
    exists_with_different_user_data_32 = "exists_with_different_user_data_32"
    exists_with_different_timeout = "exists_with_different_timeout"
    id_already_failed = "id_already_failed"
    # accounts
    debit_account_not_found = "debit_account_not_found"
    credit_account_not_found = "credit_account_not_found"
    account_not_found = "account_not_found"
    accounts_must_have_the_same_ledger = "accounts_must_have_the_same_ledger"
    transfer_must_have_the_same_ledger_as_accounts = (
        "transfer_must_have_the_same_ledger_as_accounts"
    )
    debit_account_closed = "debit_account_closed"
    credit_account_closed = "credit_account_closed"
    debit_account_frozen = "debit_account_frozen"
    credit_account_frozen = "credit_account_frozen"
    account_closed = "account_closed"
    account_balance_not_zero = "account_balance_not_zero"
    flag_not_changeable = "flag_not_changeable"
    # two-phase
    pending_transfer_not_found = "pending_transfer_not_found"
    pending_transfer_not_pending = "pending_transfer_not_pending"
    pending_transfer_has_different_debit_account_id = (
        "pending_transfer_has_different_debit_account_id"
    )
    pending_transfer_has_different_credit_account_id = (
        "pending_transfer_has_different_credit_account_id"
    )
    pending_transfer_has_different_ledger = "pending_transfer_has_different_ledger"
    pending_transfer_has_different_code = "pending_transfer_has_different_code"
    exceeds_pending_transfer_amount = "exceeds_pending_transfer_amount"
    pending_transfer_has_different_amount = "pending_transfer_has_different_amount"
    pending_transfer_already_posted = "pending_transfer_already_posted"
    pending_transfer_already_voided = "pending_transfer_already_voided"
    pending_transfer_expired = "pending_transfer_expired"
    # balances
    overflows_debits_pending = "overflows_debits_pending"
    overflows_credits_pending = "overflows_credits_pending"
    overflows_debits_posted = "overflows_debits_posted"
    overflows_credits_posted = "overflows_credits_posted"
    overflows_debits = "overflows_debits"
    overflows_credits = "overflows_credits"
    overflows_timeout = "overflows_timeout"
    exceeds_credits = "exceeds_credits"
    exceeds_debits = "exceeds_debits"

    @property
    def succeeded(self) -> bool:
        return self is Result.ok or self is Result.exists


#: Failures that depend on ledger state rather than on the event; remembered per id.
TRANSIENT: frozenset[Result] = frozenset(
    {
        Result.debit_account_not_found,
        Result.credit_account_not_found,
        Result.pending_transfer_not_found,
        Result.debit_account_closed,
        Result.credit_account_closed,
        Result.debit_account_frozen,
        Result.credit_account_frozen,
        Result.exceeds_credits,
        Result.exceeds_debits,
        Result.overflows_debits_pending,
        Result.overflows_credits_pending,
        Result.overflows_debits_posted,
        Result.overflows_credits_posted,
        Result.overflows_debits,
        Result.overflows_credits,
        Result.overflows_timeout,
    }
)
