"""Single-phase transfers, accounts, idempotency, limits, overflow, freezing and closing.

Each refusal asserts its code and that the batch wrote nothing (a state-dependent refusal
only remembers the id as failed).
"""

from __future__ import annotations

import pytest

from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.engine import apply_batch
from guardpay.domain.ledger.model import (
    INT64_MAX,
    Account,
    AccountFlags,
    AccountFlagsChange,
    Transfer,
    TransferFlags,
)
from guardpay.domain.ledger.results import TRANSIENT, Result
from tests.domain.ledger.helpers import (
    ALICE,
    BANK,
    BOB,
    CAROL,
    NOW,
    NOWHERE,
    RESERVE,
    Ledger,
    assert_nothing_written,
    balancing_credit,
    balancing_debit,
    bank,
    close,
    freeze,
    funded,
    make_view,
    only,
    opened,
    pending,
    reserve,
    stored,
    top_up,
    unfreeze,
    with_fields,
)
from tests.factories import CNY, USD, account, post, transfer, wallet

DAVE = 13  # a USD wallet
BANK2 = 4  # a second bank channel, for overflow cases


def refuse(ledger: Ledger, event: Transfer | AccountFlagsChange, expected: Result) -> None:
    """`event` alone in a batch is refused with `expected` and writes nothing."""
    view = ledger.view()
    out = apply_batch(view, [[event]])
    assert only(out) == expected
    remembered = [(event.id, expected)] if isinstance(event, Transfer) else []
    assert_nothing_written(out, failed=remembered if expected in TRANSIENT else [])
    ledger.persist(out)


# -- money moves -----------------------------------------------------------------------------


def test_a_top_up_and_a_payment_move_money_between_wallets() -> None:
    ledger = opened(bank(), wallet(ALICE), wallet(BOB))
    assert ledger.submit(top_up(1, ALICE, 50_000)) == [Result.ok]
    assert ledger.submit(transfer(2, ALICE, BOB, 12_000)) == [Result.ok]
    assert ledger.balance(ALICE) == 38_000
    assert ledger.balance(BOB) == 12_000
    assert ledger.counters(BANK) == (0, 50_000, 0, 0)
    assert ledger.counters(ALICE) == (0, 12_000, 0, 50_000)
    assert ledger.transfers[2].amount == 12_000
    assert ledger.problems() == []


def test_a_stored_transfer_is_the_request_with_a_timestamp() -> None:
    ledger = funded()
    pay = transfer(2, ALICE, BOB, 1_234, code=TransferCode.P2P, user_data_64=77, user_data_32=5)
    out = apply_batch(ledger.view(), [[pay]])
    assert out.transfers == [pay._replace(timestamp=out.transfers[0].timestamp)]
    assert out.transfers[0].timestamp > ledger.last_timestamp


def test_timestamps_increase_and_start_after_the_clock_and_the_last_batch() -> None:
    ledger = opened(bank(), wallet(ALICE), wallet(BOB))
    stamps = [a.timestamp for a in ledger.accounts.values()]
    assert stamps == [NOW + 1, NOW + 2, NOW + 3]
    view = make_view(ledger.accounts.values(), now=NOW, last_timestamp=NOW + 1_000)
    out = apply_batch(view, [[top_up(1, ALICE, 10)], [transfer(2, ALICE, BOB, 5)]])
    assert [t.timestamp for t in out.transfers] == [NOW + 1_001, NOW + 1_002]
    assert out.last_timestamp == NOW + 1_002


def test_apply_batch_does_not_change_its_view() -> None:
    ledger = funded()
    view = ledger.view()
    snapshot = ledger.view()
    apply_batch(view, [[transfer(2, ALICE, BOB, 100), close(CAROL)], [wallet(20)]])
    assert view == snapshot


def test_wallets_with_history_get_a_balance_row_per_change() -> None:
    ledger = opened(account(BANK, code=AccountCode.BANK_IN_FLIGHT), wallet(ALICE))
    out = ledger.apply([top_up(1, ALICE, 50_000)])
    ts = out.transfers[0].timestamp
    assert out.history == [(ALICE, ts, 0, 0, 0, 50_000)]


def test_several_callers_in_one_batch_get_their_own_results() -> None:
    ledger = funded()
    out = ledger.apply(
        [transfer(2, ALICE, BOB, 100_000)],
        [transfer(3, ALICE, BOB, 10_000), transfer(4, BOB, CAROL, 4_000)],
        [wallet(20)],
    )
    assert out.results == [[Result.exceeds_credits], [Result.ok, Result.ok], [Result.ok]]
    assert (ledger.balance(ALICE), ledger.balance(BOB), ledger.balance(CAROL)) == (
        40_000,
        6_000,
        4_000,
    )


# -- accounts ----------------------------------------------------------------------------------


def test_opening_an_account_records_it_with_a_timestamp() -> None:
    out = apply_batch(make_view(), [[wallet(ALICE, ledger=CNY)]])
    assert out.results == [[Result.ok]]
    assert out.accounts_created == [with_fields(wallet(ALICE), timestamp=NOW + 1)]


def test_opening_the_same_account_twice_answers_exists() -> None:
    ledger = opened(bank(), wallet(ALICE))
    assert ledger.submit(wallet(ALICE), wallet(ALICE)) == [Result.exists, Result.exists]
    out = apply_batch(make_view(), [[wallet(BOB), wallet(BOB)]])
    assert out.results == [[Result.ok, Result.exists]]
    assert len(out.accounts_created) == 1


def test_an_account_frozen_since_it_was_opened_still_answers_exists() -> None:
    ledger = opened(bank(), wallet(ALICE))
    assert ledger.submit(freeze(ALICE, debits=True, credits=True)) == [Result.ok]
    assert ledger.submit(wallet(ALICE)) == [Result.exists]


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        (account(ALICE, flags=AccountFlags.HISTORY), Result.exists_with_different_flags),
        (wallet(ALICE, ledger=USD), Result.exists_with_different_ledger),
        (
            with_fields(wallet(ALICE), code=AccountCode.MERCHANT_SETTLEMENT),
            Result.exists_with_different_code,
        ),
        (with_fields(wallet(ALICE), user_data_64=42), Result.exists_with_different_user_data_64),
        (with_fields(wallet(ALICE), user_data_32=42), Result.exists_with_different_user_data_32),
    ],
    ids=["flags", "ledger", "code", "user_data_64", "user_data_32"],
)
def test_opening_an_account_again_with_different_fields(retry: Account, expected: Result) -> None:
    ledger = opened(bank(), wallet(ALICE))
    out = apply_batch(ledger.view(), [[retry]])
    assert only(out) == expected
    assert_nothing_written(out)


# -- idempotency -------------------------------------------------------------------------------

PAY = transfer(2, ALICE, BOB, 12_000, user_data_64=7, user_data_32=3)


def test_sending_a_transfer_again_answers_exists_and_moves_nothing() -> None:
    ledger = funded()
    assert ledger.submit(PAY) == [Result.ok]
    refuse(ledger, PAY, Result.exists)
    assert ledger.balance(ALICE) == 38_000
    out = apply_batch(ledger.view(), [[PAY, PAY], [PAY]])
    assert out.results == [[Result.exists, Result.exists], [Result.exists]]
    assert_nothing_written(out)


def test_a_transfer_repeated_in_the_same_batch_moves_money_once() -> None:
    ledger = funded()
    out = ledger.apply([PAY], [PAY])
    assert out.results == [[Result.ok], [Result.exists]]
    assert ledger.balance(BOB) == 12_000


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        (PAY._replace(flags=TransferFlags.PENDING), Result.exists_with_different_flags),
        (PAY._replace(debit_account_id=CAROL), Result.exists_with_different_debit_account_id),
        (PAY._replace(credit_account_id=CAROL), Result.exists_with_different_credit_account_id),
        (PAY._replace(amount=12_001), Result.exists_with_different_amount),
        (PAY._replace(amount=11_999), Result.exists_with_different_amount),
        (PAY._replace(user_data_64=8), Result.exists_with_different_user_data_64),
        (PAY._replace(user_data_32=4), Result.exists_with_different_user_data_32),
        (PAY._replace(ledger=USD), Result.exists_with_different_ledger),
        (PAY._replace(code=TransferCode.REFUND), Result.exists_with_different_code),
    ],
    ids=lambda v: v.value if isinstance(v, Result) else "",
)
def test_sending_a_transfer_again_with_a_different_field(retry: Transfer, expected: Result) -> None:
    ledger = funded()
    assert ledger.submit(PAY) == [Result.ok]
    refuse(ledger, retry, expected)
    assert ledger.balance(BOB) == 12_000


def test_a_hold_sent_again_with_another_timeout() -> None:
    ledger = funded()
    hold = pending(2, ALICE, BOB, 1_000, timeout=60)
    assert ledger.submit(hold) == [Result.ok]
    refuse(ledger, hold._replace(timeout=120), Result.exists_with_different_timeout)
    refuse(ledger, hold, Result.exists)


def test_a_post_sent_again_for_another_hold() -> None:
    ledger = funded()
    holds = [pending(2, ALICE, BOB, 1_000), pending(3, ALICE, BOB, 1_000)]
    assert ledger.submit(*holds, post(4, 2)) == [Result.ok] * 3
    refuse(ledger, post(4, 3), Result.exists_with_different_pending_id)
    refuse(ledger, post(4, 2), Result.exists)


def test_a_flags_difference_is_reported_before_any_other() -> None:
    ledger = funded()
    assert ledger.submit(PAY) == [Result.ok]
    retry = PAY._replace(flags=TransferFlags.PENDING, amount=1, code=1, debit_account_id=BANK)
    refuse(ledger, retry, Result.exists_with_different_flags)


def test_a_transient_failure_burns_the_id_even_after_the_wallet_is_topped_up() -> None:
    ledger = funded({ALICE: 10_000})
    big = transfer(2, ALICE, BOB, 30_000)
    refuse(ledger, big, Result.exceeds_credits)
    assert ledger.failed == {2: Result.exceeds_credits}
    assert ledger.submit(top_up(3, ALICE, 100_000)) == [Result.ok]
    refuse(ledger, big, Result.id_already_failed)
    refuse(ledger, big._replace(amount=1), Result.id_already_failed)
    assert ledger.submit(big._replace(id=4)) == [Result.ok]


def test_id_already_failed_within_the_same_batch() -> None:
    ledger = funded({ALICE: 10_000})
    out = apply_batch(
        ledger.view(),
        [
            [transfer(2, ALICE, BOB, 30_000), top_up(3, ALICE, 50_000)],
            [transfer(2, ALICE, BOB, 30_000)],
        ],
    )
    assert out.results == [[Result.exceeds_credits, Result.ok], [Result.id_already_failed]]
    assert [t.id for t in out.transfers] == [3]
    assert out.failed == [(2, Result.exceeds_credits)]


def test_id_already_failed_across_batches_through_the_failed_map() -> None:
    """The second view is built by hand: only `outcome.failed` carries the memory."""
    accounts = [
        stored(bank(), debits_posted=10_000),
        stored(wallet(ALICE), credits_posted=10_000),
        stored(wallet(BOB)),
    ]
    first = apply_batch(make_view(accounts), [[transfer(2, ALICE, BOB, 30_000)]])
    assert only(first) == Result.exceeds_credits
    assert_nothing_written(first, failed=[(2, Result.exceeds_credits)])
    richer = [accounts[0], stored(wallet(ALICE), credits_posted=1_000_000), accounts[2]]
    second = apply_batch(
        make_view(richer, failed=dict(first.failed)), [[transfer(2, ALICE, BOB, 30_000)]]
    )
    assert only(second) == Result.id_already_failed
    assert_nothing_written(second)
    without_memory = apply_batch(make_view(richer), [[transfer(2, ALICE, BOB, 30_000)]])
    assert only(without_memory) == Result.ok


def test_a_transfer_from_an_account_not_yet_open_is_remembered_as_failed() -> None:
    ledger = opened(bank(), wallet(BOB))
    refuse(ledger, transfer(2, ALICE, BOB, 10), Result.debit_account_not_found)
    refuse(ledger, transfer(3, BOB, ALICE, 10), Result.credit_account_not_found)
    assert ledger.submit(wallet(ALICE), top_up(4, ALICE, 1_000)) == [Result.ok, Result.ok]
    refuse(ledger, transfer(2, ALICE, BOB, 10), Result.id_already_failed)
    refuse(ledger, transfer(3, BOB, ALICE, 10), Result.id_already_failed)


def test_a_failure_the_state_cannot_cure_is_not_remembered() -> None:
    ledger = opened(bank(), wallet(ALICE), wallet(DAVE, ledger=USD))
    cross = transfer(2, ALICE, DAVE, 10)
    refuse(ledger, cross, Result.accounts_must_have_the_same_ledger)
    refuse(ledger, cross, Result.accounts_must_have_the_same_ledger)
    assert ledger.failed == {}


# -- ledgers, limits and balancing ---------------------------------------------------------------


def test_money_never_crosses_currencies() -> None:
    ledger = funded()
    assert ledger.submit(wallet(DAVE, ledger=USD)) == [Result.ok]
    refuse(ledger, transfer(2, ALICE, DAVE, 100), Result.accounts_must_have_the_same_ledger)
    refuse(
        ledger,
        transfer(3, ALICE, BOB, 100, ledger=USD),
        Result.transfer_must_have_the_same_ledger_as_accounts,
    )


def test_a_wallet_cannot_spend_more_than_it_holds() -> None:
    ledger = funded({ALICE: 10_000})
    refuse(ledger, transfer(2, ALICE, BOB, 10_001), Result.exceeds_credits)
    assert ledger.submit(transfer(3, ALICE, BOB, 10_000)) == [Result.ok]
    assert ledger.balance(ALICE) == 0
    refuse(ledger, transfer(4, ALICE, BOB, 1), Result.exceeds_credits)


def test_the_reserve_cannot_pay_out_more_than_came_in() -> None:
    """RESERVE is an asset: money deposited at the custodian debits it; credits (payouts)
    may never exceed what came in."""
    ledger = opened(bank(), reserve(), wallet(ALICE))
    assert ledger.submit(transfer(1, RESERVE, ALICE, 5_000, code=TransferCode.TOP_UP)) == [
        Result.ok
    ]
    refuse(
        ledger,
        transfer(2, ALICE, RESERVE, 5_001, code=TransferCode.WITHDRAWAL),
        Result.exceeds_credits,
    )
    assert ledger.submit(top_up(3, ALICE, 10_000)) == [Result.ok]
    refuse(
        ledger,
        transfer(4, ALICE, RESERVE, 5_001, code=TransferCode.WITHDRAWAL),
        Result.exceeds_debits,
    )
    assert ledger.submit(transfer(5, ALICE, RESERVE, 5_000, code=TransferCode.WITHDRAWAL)) == [
        Result.ok
    ]
    assert ledger.problems() == []


def test_a_hold_counts_against_what_a_wallet_can_spend() -> None:
    ledger = funded({ALICE: 50_000})
    assert ledger.submit(pending(2, ALICE, BOB, 40_000)) == [Result.ok]
    assert ledger.available(ALICE) == 10_000
    refuse(ledger, transfer(3, ALICE, BOB, 10_001), Result.exceeds_credits)
    assert ledger.submit(transfer(4, ALICE, BOB, 10_000)) == [Result.ok]


def test_balancing_debit_moves_what_the_wallet_has() -> None:
    ledger = funded({ALICE: 300})
    out = ledger.apply([balancing_debit(2, ALICE, BOB, 1_000)])
    assert out.results == [[Result.ok]]
    assert out.transfers[0].amount == 300
    assert (ledger.balance(ALICE), ledger.balance(BOB)) == (0, 300)
    refuse(ledger, balancing_debit(3, ALICE, BOB, 1_000), Result.exceeds_credits)


def test_balancing_debit_moves_the_amount_asked_when_the_wallet_has_more() -> None:
    ledger = funded({ALICE: 5_000})
    out = ledger.apply([balancing_debit(2, ALICE, BOB, 1_000)])
    assert out.transfers[0].amount == 1_000
    assert ledger.balance(ALICE) == 4_000


def test_balancing_debit_leaves_held_money_alone() -> None:
    ledger = funded({ALICE: 5_000})
    assert ledger.submit(pending(2, ALICE, CAROL, 4_500)) == [Result.ok]
    out = ledger.apply([balancing_debit(3, ALICE, BOB, 10_000)])
    assert out.transfers[0].amount == 500
    assert ledger.available(ALICE) == 0


def test_balancing_debit_works_without_a_limit_flag() -> None:
    """BANK has no limit, but balancing still moves at most its credit balance: none."""
    ledger = funded()
    refuse(ledger, balancing_debit(2, BANK, BOB, 1_000), Result.exceeds_credits)


def test_balancing_credit_fills_the_reserve_up_to_what_came_in() -> None:
    ledger = opened(bank(), reserve(), wallet(ALICE))
    assert ledger.submit(
        transfer(1, RESERVE, ALICE, 700, code=TransferCode.TOP_UP), top_up(2, ALICE, 5_000)
    ) == [Result.ok, Result.ok]
    out = ledger.apply([balancing_credit(3, ALICE, RESERVE, 2_000)])
    assert out.results == [[Result.ok]]
    assert out.transfers[0].amount == 700
    assert ledger.counters(RESERVE) == (0, 700, 0, 700)
    refuse(ledger, balancing_credit(4, ALICE, RESERVE, 2_000), Result.exceeds_debits)


def test_a_balancing_transfer_sent_again_asking_at_least_what_it_moved_answers_exists() -> None:
    ledger = funded({ALICE: 300})
    asked = balancing_debit(2, ALICE, BOB, 1_000)
    assert ledger.submit(asked) == [Result.ok]
    refuse(ledger, asked, Result.exists)
    refuse(ledger, asked._replace(amount=300), Result.exists)
    refuse(ledger, asked._replace(amount=5_000), Result.exists)
    refuse(ledger, asked._replace(amount=299), Result.exists_with_different_amount)


# -- freezing and closing ------------------------------------------------------------------------


def test_a_debit_frozen_wallet_cannot_pay_but_can_be_paid() -> None:
    ledger = funded({ALICE: 10_000, BOB: 10_000})
    out = ledger.apply([freeze(ALICE)])
    assert out.results == [[Result.ok]]
    assert out.flag_changes == [(ALICE, AccountFlags.DEBITS_FROZEN, 0, out.last_timestamp)]
    assert ledger.accounts[ALICE].flags & AccountFlags.DEBITS_FROZEN
    refuse(ledger, transfer(2, ALICE, BOB, 100), Result.debit_account_frozen)
    assert ledger.submit(transfer(3, BOB, ALICE, 100)) == [Result.ok]
    assert ledger.submit(unfreeze(ALICE)) == [Result.ok]
    assert not ledger.accounts[ALICE].flags & AccountFlags.DEBITS_FROZEN
    refuse(ledger, transfer(2, ALICE, BOB, 100), Result.id_already_failed)
    assert ledger.submit(transfer(4, ALICE, BOB, 100)) == [Result.ok]


def test_a_credit_frozen_wallet_cannot_be_paid_but_can_pay() -> None:
    ledger = funded({ALICE: 10_000, BOB: 10_000})
    assert ledger.submit(freeze(BOB, debits=False, credits=True)) == [Result.ok]
    refuse(ledger, transfer(2, ALICE, BOB, 100), Result.credit_account_frozen)
    refuse(ledger, pending(3, ALICE, BOB, 100), Result.credit_account_frozen)
    assert ledger.submit(transfer(4, BOB, ALICE, 100)) == [Result.ok]


def test_a_frozen_wallet_checks_come_after_the_ledger_checks() -> None:
    ledger = funded()
    assert ledger.submit(freeze(ALICE), wallet(DAVE, ledger=USD)) == [Result.ok, Result.ok]
    refuse(ledger, transfer(2, ALICE, DAVE, 100), Result.accounts_must_have_the_same_ledger)


def test_closing_needs_a_zero_balance() -> None:
    ledger = funded({ALICE: 10_000})
    refuse(ledger, close(ALICE), Result.account_balance_not_zero)
    assert ledger.submit(transfer(2, ALICE, BOB, 10_000)) == [Result.ok]
    assert ledger.submit(close(ALICE)) == [Result.ok]
    assert ledger.accounts[ALICE].flags & AccountFlags.CLOSED


def test_closing_needs_nothing_held_on_either_side() -> None:
    ledger = funded({ALICE: 10_000})
    assert ledger.submit(pending(2, ALICE, CAROL, 10_000)) == [Result.ok]
    refuse(ledger, close(CAROL), Result.account_balance_not_zero)  # CAROL is owed a hold
    refuse(ledger, close(ALICE), Result.account_balance_not_zero)  # ALICE holds it


def test_a_closed_account_takes_no_money_and_no_further_changes() -> None:
    ledger = funded({ALICE: 10_000})
    assert ledger.submit(close(CAROL)) == [Result.ok]
    refuse(ledger, transfer(2, ALICE, CAROL, 100), Result.credit_account_closed)
    refuse(ledger, transfer(3, CAROL, ALICE, 100), Result.debit_account_closed)
    refuse(ledger, pending(4, ALICE, CAROL, 100), Result.credit_account_closed)
    refuse(ledger, freeze(CAROL), Result.account_closed)
    refuse(ledger, unfreeze(CAROL), Result.account_closed)
    refuse(ledger, close(CAROL), Result.account_closed)


def test_closed_is_reported_before_frozen() -> None:
    ledger = funded({ALICE: 10_000})
    assert ledger.submit(freeze(CAROL, debits=True, credits=True), close(CAROL)) == [
        Result.ok,
        Result.ok,
    ]
    refuse(ledger, transfer(2, ALICE, CAROL, 100), Result.credit_account_closed)


def test_a_flag_change_on_an_account_never_opened() -> None:
    ledger = funded()
    refuse(ledger, freeze(NOWHERE), Result.account_not_found)


def test_closed_accounts_cannot_be_reopened() -> None:
    ledger = funded()
    assert ledger.submit(close(CAROL)) == [Result.ok]
    reopen = AccountFlagsChange(CAROL, clear_flags=AccountFlags.CLOSED)
    refuse(ledger, reopen, Result.flag_not_changeable)


# -- 64-bit limits -------------------------------------------------------------------------------


def test_the_largest_amount_moves_whole() -> None:
    ledger = opened(bank(), wallet(ALICE), wallet(BOB))
    assert ledger.submit(top_up(1, ALICE, INT64_MAX)) == [Result.ok]
    assert ledger.submit(transfer(2, ALICE, BOB, INT64_MAX)) == [Result.ok]
    assert ledger.counters(ALICE) == (0, INT64_MAX, 0, INT64_MAX)
    assert ledger.balance(BOB) == INT64_MAX
    refuse(ledger, top_up(3, BOB, 1), Result.overflows_debits_posted)
    assert ledger.problems() == []


def overflow_view(*, held: int = 0) -> Ledger:
    """BANK has paid ALICE all but 100 fen of 2^63-1 (BANK2 and BOB are empty); with `held`,
    another `held` fen of BANK's debits and ALICE's credits are still pending on top."""
    big = INT64_MAX - 100
    ledger = Ledger()
    for a in (
        stored(bank(), debits_posted=big - held, debits_pending=2 * held),
        stored(wallet(ALICE), credits_posted=big - held, credits_pending=2 * held),
        stored(wallet(BOB)),
        stored(bank(BANK2)),
    ):
        ledger.accounts[a.id] = a
    return ledger


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (top_up(1, BOB, 101), Result.overflows_debits_posted),
        (transfer(1, BANK2, ALICE, 101), Result.overflows_credits_posted),
        (pending(1, BANK, BOB, INT64_MAX), Result.overflows_debits),
        (pending(1, BANK2, ALICE, INT64_MAX), Result.overflows_credits),
    ],
    ids=["debits_posted", "credits_posted", "debits", "credits"],
)
def test_a_counter_past_2_63_is_refused(event: Transfer, expected: Result) -> None:
    refuse(overflow_view(), event, expected)


def test_the_last_fen_below_2_63_still_moves() -> None:
    ledger = overflow_view()
    assert ledger.submit(top_up(1, BOB, 100), transfer(2, BANK2, ALICE, 100)) == [Result.ok] * 2
    assert ledger.counters(BANK)[1] == INT64_MAX
    assert ledger.counters(ALICE)[3] == INT64_MAX


def test_pending_and_posted_together_overflow_the_debits() -> None:
    """BANK: 2^63-1 - 150 posted and 100 held; 51 more posted fits the posted counter
    but not the debits as a whole."""
    ledger = overflow_view(held=50)
    refuse(ledger, top_up(1, BOB, 51), Result.overflows_debits)
    assert ledger.submit(top_up(2, BOB, 50)) == [Result.ok]


def test_pending_and_posted_together_overflow_the_credits() -> None:
    ledger = overflow_view(held=50)
    refuse(ledger, transfer(1, BANK2, ALICE, 51), Result.overflows_credits)
    assert ledger.submit(transfer(2, BANK2, ALICE, 50)) == [Result.ok]


def test_holds_past_2_63_are_refused() -> None:
    ledger = Ledger()
    for a in (
        stored(bank(), debits_pending=INT64_MAX - 10),
        stored(wallet(ALICE), credits_pending=INT64_MAX - 10),
        stored(wallet(BOB)),
        stored(bank(BANK2)),
    ):
        ledger.accounts[a.id] = a
    refuse(ledger, pending(1, BANK, BOB, 11), Result.overflows_debits_pending)
    refuse(ledger, pending(2, BANK2, ALICE, 11), Result.overflows_credits_pending)
    assert ledger.submit(pending(3, BANK, BOB, 10)) == [Result.ok]
    assert ledger.counters(BANK)[0] == INT64_MAX
