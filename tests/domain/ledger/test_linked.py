"""Linked chains apply all-or-nothing: a failure anywhere undoes every earlier event of the
chain; the failing event gets its own code, every other one `linked_event_failed`."""

from __future__ import annotations

from guardpay.domain.ledger.chart import TransferCode
from guardpay.domain.ledger.engine import apply_batch
from guardpay.domain.ledger.model import AccountFlags, Event, PendingStatus
from guardpay.domain.ledger.results import Result
from tests.domain.ledger.helpers import (
    ALICE,
    BANK,
    BOB,
    CAROL,
    FEES,
    assert_nothing_written,
    chain,
    close,
    fees,
    freeze,
    funded,
    open_chain,
    pending,
    top_up,
)
from tests.factories import post, transfer, void, wallet

FAILED = Result.linked_event_failed


def payment_with_fee(pay_id: int, amount: int, fee: int) -> list[Event]:
    return chain(
        transfer(pay_id, ALICE, BOB, amount, code=TransferCode.MERCHANT_PAYMENT),
        transfer(pay_id + 1, ALICE, FEES, fee, code=TransferCode.FEE),
    )


def test_a_payment_and_its_fee_apply_together() -> None:
    ledger = funded({ALICE: 10_000})
    assert ledger.submit(fees()) == [Result.ok]
    out = ledger.apply(payment_with_fee(1, 9_000, 60))
    assert out.results == [[Result.ok, Result.ok]]
    assert [t.id for t in out.transfers] == [1, 2]
    assert (ledger.balance(ALICE), ledger.balance(BOB), ledger.balance(FEES)) == (940, 9_000, 60)
    assert ledger.problems() == []


def test_a_fee_alice_cannot_afford_undoes_the_payment() -> None:
    ledger = funded({ALICE: 10_000})
    assert ledger.submit(fees()) == [Result.ok]
    out = apply_batch(ledger.view(), [payment_with_fee(1, 9_990, 60)])
    assert out.results == [[FAILED, Result.exceeds_credits]]
    assert_nothing_written(out, failed=[(2, Result.exceeds_credits)])


def test_a_failure_in_the_middle_undoes_the_earlier_events_and_skips_the_later() -> None:
    ledger = funded({ALICE: 10_000})
    events = chain(
        top_up(1, ALICE, 5_000),
        transfer(2, ALICE, BOB, 100_000),  # more than ALICE has, even after the top-up
        transfer(3, ALICE, CAROL, 1_000),
    )
    out = apply_batch(ledger.view(), [events])
    assert out.results == [[FAILED, Result.exceeds_credits, FAILED]]
    assert_nothing_written(out, failed=[(2, Result.exceeds_credits)])
    ledger.persist(out)
    # Only the failing id is burned; the others may be sent again.
    assert ledger.submit(top_up(1, ALICE, 5_000), transfer(3, ALICE, CAROL, 1_000)) == [
        Result.ok,
        Result.ok,
    ]
    assert ledger.submit(transfer(2, ALICE, BOB, 1)) == [Result.id_already_failed]


def test_a_later_event_may_spend_money_an_earlier_one_brought_in() -> None:
    ledger = funded({})
    out = ledger.apply(chain(top_up(1, ALICE, 5_000), transfer(2, ALICE, BOB, 5_000)))
    assert out.results == [[Result.ok, Result.ok]]
    assert (ledger.balance(ALICE), ledger.balance(BOB)) == (0, 5_000)


def test_a_chain_left_open_at_the_end_of_the_request_applies_nothing() -> None:
    ledger = funded({ALICE: 10_000})
    out = apply_batch(
        ledger.view(), [open_chain(transfer(1, ALICE, BOB, 100), transfer(2, ALICE, BOB, 100))]
    )
    assert out.results == [[FAILED, Result.linked_event_chain_open]]
    assert_nothing_written(out)


def test_a_single_linked_event_is_an_open_chain() -> None:
    ledger = funded()
    out = apply_batch(ledger.view(), [open_chain(transfer(1, ALICE, BOB, 100))])
    assert out.results == [[Result.linked_event_chain_open]]
    assert_nothing_written(out)


def test_an_open_chain_does_not_undo_the_events_before_it() -> None:
    ledger = funded({ALICE: 10_000})
    request = [
        transfer(1, ALICE, BOB, 100),
        *open_chain(transfer(2, ALICE, BOB, 100), transfer(3, ALICE, BOB, 100)),
    ]
    out = ledger.apply(request)
    assert out.results == [[Result.ok, FAILED, Result.linked_event_chain_open]]
    assert [t.id for t in out.transfers] == [1]
    assert ledger.balance(BOB) == 100


def test_the_open_chain_ends_only_its_own_request() -> None:
    ledger = funded({ALICE: 10_000})
    out = ledger.apply(open_chain(transfer(1, ALICE, BOB, 100)), [transfer(1, ALICE, BOB, 100)])
    assert out.results == [[Result.linked_event_chain_open], [Result.ok]]


def test_a_failed_chain_undoes_an_account_it_opened() -> None:
    ledger = funded({ALICE: 10_000})
    events = chain(wallet(20), transfer(1, ALICE, 20, 3_000), transfer(2, 20, BOB, 5_000))
    out = apply_batch(ledger.view(), [events])
    assert out.results == [[FAILED, FAILED, Result.exceeds_credits]]
    assert_nothing_written(out, failed=[(2, Result.exceeds_credits)])
    ledger.persist(out)
    assert 20 not in ledger.accounts
    assert ledger.submit(wallet(20)) == [Result.ok]


def test_a_failed_chain_undoes_a_freeze() -> None:
    ledger = funded({ALICE: 10_000})
    out = apply_batch(ledger.view(), [chain(freeze(BOB), transfer(1, ALICE, BOB, 20_000))])
    assert out.results == [[FAILED, Result.exceeds_credits]]
    assert_nothing_written(out, failed=[(1, Result.exceeds_credits)])


def test_a_failed_chain_undoes_a_close() -> None:
    ledger = funded({ALICE: 10_000})
    out = apply_batch(ledger.view(), [chain(close(CAROL), transfer(1, CAROL, BOB, 1))])
    assert out.results == [[FAILED, Result.debit_account_closed]]
    assert_nothing_written(out, failed=[(1, Result.debit_account_closed)])
    ledger.persist(out)
    assert not ledger.accounts[CAROL].flags & AccountFlags.CLOSED


def test_a_failed_chain_leaves_a_stored_hold_pending() -> None:
    ledger = funded({ALICE: 10_000})
    assert ledger.submit(pending(9, ALICE, BOB, 4_000)) == [Result.ok]
    out = apply_batch(ledger.view(), [chain(post(1, 9, 1_000), transfer(2, ALICE, BOB, 9_001))])
    assert out.results == [[FAILED, Result.exceeds_credits]]
    assert_nothing_written(out, failed=[(2, Result.exceeds_credits)])
    ledger.persist(out)
    assert ledger.status(9) == PendingStatus.PENDING
    assert ledger.submit(post(1, 9, 1_000)) == [Result.ok]


def test_a_failed_chain_undoes_a_hold_it_made_and_resolved() -> None:
    ledger = funded({ALICE: 10_000})
    events = chain(pending(9, ALICE, BOB, 4_000), void(1, 9), transfer(2, ALICE, BOB, 0))
    out = apply_batch(ledger.view(), [events])
    assert out.results == [[FAILED, FAILED, Result.amount_must_not_be_zero]]
    assert_nothing_written(out)


def test_a_post_undone_with_its_chain_leaves_the_hold_for_a_later_chain_in_the_batch() -> None:
    ledger = funded({ALICE: 10_000})
    assert ledger.submit(pending(9, ALICE, BOB, 4_000)) == [Result.ok]
    out = ledger.apply(
        chain(post(1, 9), transfer(2, ALICE, BOB, 9_000)),
        chain(void(3, 9), transfer(4, ALICE, BOB, 9_000)),
    )
    assert out.results == [[FAILED, Result.exceeds_credits], [Result.ok, Result.ok]]
    assert out.pending_resolved == [(9, PendingStatus.VOIDED)]
    assert ledger.balance(BOB) == 9_000
    assert ledger.problems() == []


def test_a_validation_failure_breaks_the_chain_and_is_not_remembered() -> None:
    ledger = funded({ALICE: 10_000})
    out = apply_batch(
        ledger.view(), [chain(transfer(1, ALICE, BOB, 100), transfer(0, ALICE, BOB, 100))]
    )
    assert out.results == [[FAILED, Result.id_must_not_be_zero]]
    assert_nothing_written(out)


def test_two_chains_in_one_request_stand_or_fall_alone() -> None:
    ledger = funded({ALICE: 10_000})
    request = [
        *chain(transfer(1, ALICE, BOB, 100), transfer(2, ALICE, BOB, 100_000)),
        *chain(transfer(3, ALICE, CAROL, 100), transfer(4, ALICE, CAROL, 200)),
        transfer(5, ALICE, BOB, 1),
    ]
    out = ledger.apply(request)
    assert out.results == [[FAILED, Result.exceeds_credits, Result.ok, Result.ok, Result.ok]]
    assert (ledger.balance(BOB), ledger.balance(CAROL)) == (1, 300)


def test_a_chain_sent_again_answers_exists_for_every_event() -> None:
    ledger = funded({ALICE: 10_000})
    assert ledger.submit(fees()) == [Result.ok]
    assert ledger.submit(*payment_with_fee(1, 5_000, 30)) == [Result.ok, Result.ok]
    out = apply_batch(ledger.view(), [payment_with_fee(1, 5_000, 30)])
    assert out.results == [[Result.exists, Result.exists]]
    assert_nothing_written(out)


def test_a_chain_that_mixes_a_retry_with_a_changed_event_fails_whole() -> None:
    ledger = funded({ALICE: 10_000})
    assert ledger.submit(fees()) == [Result.ok]
    assert ledger.submit(*payment_with_fee(1, 5_000, 30)) == [Result.ok, Result.ok]
    out = apply_batch(ledger.view(), [payment_with_fee(1, 5_000, 31)])
    assert out.results == [[FAILED, Result.exists_with_different_amount]]
    assert_nothing_written(out)


def test_a_failed_chain_writes_no_balance_history() -> None:
    ledger = funded({ALICE: 10_000})
    out = apply_batch(
        ledger.view(),
        [chain(top_up(1, BOB, 10), top_up(2, ALICE, 10), transfer(3, BOB, ALICE, 11))],
    )
    assert out.results == [[FAILED, FAILED, Result.exceeds_credits]]
    assert out.history == []
    assert ledger.accounts[BANK].debits_posted == 10_000
