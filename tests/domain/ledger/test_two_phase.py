"""Two-phase transfers: a hold, then post (all or part), void, or expiry.

ALICE (50,000 fen) holds money for BOB under HOLD; the tests post, void or let it expire.
"""

from __future__ import annotations

import pytest

from guardpay.domain.ledger.chart import TransferCode
from guardpay.domain.ledger.engine import apply_batch
from guardpay.domain.ledger.model import (
    INT32_MAX,
    INT64_MAX,
    PendingState,
    PendingStatus,
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
    SECOND,
    Ledger,
    assert_nothing_written,
    bank,
    freeze,
    funded,
    make_view,
    only,
    opened,
    pending,
    stored,
    top_up,
    unfreeze,
)
from tests.factories import USD, post, transfer, void, wallet

HOLD = 100


def refuse(ledger: Ledger, event: Transfer, expected: Result) -> None:
    out = apply_batch(ledger.view(), [[event]])
    assert only(out) == expected
    assert_nothing_written(out, failed=[(event.id, expected)] if expected in TRANSIENT else [])
    ledger.persist(out)


def held(amount: int = 30_000, *, timeout: int = 0) -> Ledger:
    """ALICE has 50,000 fen and holds `amount` of it for BOB."""
    ledger = funded({ALICE: 50_000})
    assert ledger.submit(pending(HOLD, ALICE, BOB, amount, timeout=timeout)) == [Result.ok]
    return ledger


def test_a_hold_takes_money_out_of_what_alice_can_spend_but_not_out_of_her_balance() -> None:
    ledger = held(30_000)
    assert ledger.counters(ALICE) == (30_000, 0, 0, 50_000)
    assert ledger.counters(BOB) == (0, 0, 30_000, 0)
    assert ledger.balance(ALICE) == 50_000
    assert ledger.available(ALICE) == 20_000
    assert ledger.pending[HOLD] == PendingState(HOLD, PendingStatus.PENDING, 0)
    assert ledger.problems() == []


@pytest.mark.parametrize("amount", [0, 30_000], ids=["amount 0", "full amount"])
def test_posting_a_hold_in_full(amount: int) -> None:
    ledger = held(30_000)
    out = ledger.apply([post(1, HOLD, amount)])
    assert out.results == [[Result.ok]]
    assert out.pending_resolved == [(HOLD, PendingStatus.POSTED)]
    assert out.transfers == [
        Transfer(
            1,
            ALICE,
            BOB,
            30_000,
            HOLD,
            0,
            0,
            0,
            156,
            TransferCode.ESCROW_HOLD,
            TransferFlags.POST_PENDING,
            out.last_timestamp,
        )
    ]
    assert ledger.counters(ALICE) == (0, 30_000, 0, 50_000)
    assert ledger.counters(BOB) == (0, 0, 0, 30_000)
    assert ledger.status(HOLD) == PendingStatus.POSTED
    assert ledger.problems() == []


def test_posting_part_of_a_hold_releases_the_rest() -> None:
    ledger = held(30_000)
    out = ledger.apply([post(1, HOLD, 12_000)])
    assert out.results == [[Result.ok]]
    assert out.transfers[0].amount == 12_000
    assert ledger.counters(ALICE) == (0, 12_000, 0, 50_000)
    assert ledger.counters(BOB) == (0, 0, 0, 12_000)
    assert ledger.available(ALICE) == 38_000
    assert ledger.problems() == []


def test_voiding_a_hold_gives_the_money_back() -> None:
    ledger = held(30_000)
    out = ledger.apply([void(1, HOLD)])
    assert out.results == [[Result.ok]]
    assert out.pending_resolved == [(HOLD, PendingStatus.VOIDED)]
    assert out.transfers[0].amount == 30_000
    assert out.transfers[0].flags == TransferFlags.VOID_PENDING
    assert ledger.counters(ALICE) == (0, 0, 0, 50_000)
    assert ledger.counters(BOB) == (0, 0, 0, 0)
    assert ledger.problems() == []


def test_a_void_may_name_the_full_amount_but_no_other() -> None:
    ledger = held(30_000)
    refuse(
        ledger, void(1, HOLD)._replace(amount=29_999), Result.pending_transfer_has_different_amount
    )
    assert ledger.submit(void(2, HOLD)._replace(amount=30_000)) == [Result.ok]


def test_a_hold_posted_in_the_batch_that_made_it() -> None:
    ledger = funded()
    out = ledger.apply([pending(HOLD, ALICE, BOB, 1_000), post(1, HOLD, 400)])
    assert out.results == [[Result.ok, Result.ok]]
    assert out.pending_created == [PendingState(HOLD, PendingStatus.POSTED, 0)]
    assert out.pending_resolved == []
    assert ledger.balance(BOB) == 400
    assert ledger.problems() == []


def test_a_post_may_name_the_hold_s_own_accounts_ledger_and_code() -> None:
    ledger = held()
    full = Transfer(
        1,
        ALICE,
        BOB,
        0,
        HOLD,
        ledger=156,
        code=TransferCode.ESCROW_HOLD,
        flags=TransferFlags.POST_PENDING,
    )
    assert ledger.submit(full) == [Result.ok]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            post(1, HOLD)._replace(debit_account_id=CAROL),
            Result.pending_transfer_has_different_debit_account_id,
        ),
        (
            post(1, HOLD)._replace(credit_account_id=CAROL),
            Result.pending_transfer_has_different_credit_account_id,
        ),
        (void(1, HOLD)._replace(ledger=USD), Result.pending_transfer_has_different_ledger),
        (
            post(1, HOLD)._replace(code=TransferCode.REFUND),
            Result.pending_transfer_has_different_code,
        ),
        (post(1, HOLD, 30_001), Result.exceeds_pending_transfer_amount),
        (post(1, HOLD, INT64_MAX), Result.exceeds_pending_transfer_amount),
        (post(1, 777), Result.pending_transfer_not_found),
        (void(1, 777), Result.pending_transfer_not_found),
    ],
    ids=lambda v: v.value if isinstance(v, Result) else "",
)
def test_a_post_or_void_that_does_not_match_its_hold(event: Transfer, expected: Result) -> None:
    ledger = held(30_000)
    refuse(ledger, event, expected)
    assert ledger.status(HOLD) == PendingStatus.PENDING
    assert ledger.available(ALICE) == 20_000


def test_only_a_hold_can_be_posted() -> None:
    ledger = funded()
    assert ledger.submit(transfer(2, ALICE, BOB, 100)) == [Result.ok]
    refuse(ledger, post(3, 2), Result.pending_transfer_not_pending)
    refuse(ledger, void(4, 2), Result.pending_transfer_not_pending)


def test_a_post_for_a_hold_not_yet_made_burns_its_id() -> None:
    ledger = funded()
    refuse(ledger, post(1, HOLD), Result.pending_transfer_not_found)
    assert ledger.submit(pending(HOLD, ALICE, BOB, 1_000)) == [Result.ok]
    refuse(ledger, post(1, HOLD), Result.id_already_failed)
    assert ledger.submit(post(2, HOLD)) == [Result.ok]


def test_a_hold_resolves_only_once() -> None:
    ledger = held()
    assert ledger.submit(post(1, HOLD, 10_000)) == [Result.ok]
    refuse(ledger, post(2, HOLD), Result.pending_transfer_already_posted)
    refuse(ledger, void(3, HOLD), Result.pending_transfer_already_posted)
    voided = held()
    assert voided.submit(void(1, HOLD)) == [Result.ok]
    refuse(voided, post(2, HOLD), Result.pending_transfer_already_voided)
    refuse(voided, void(3, HOLD), Result.pending_transfer_already_voided)


def test_posting_again_with_the_same_id_answers_exists() -> None:
    ledger = held()
    assert ledger.submit(post(1, HOLD, 10_000)) == [Result.ok]
    refuse(ledger, post(1, HOLD, 10_000), Result.exists)
    refuse(ledger, post(1, HOLD, 9_000), Result.exists_with_different_amount)
    refuse(ledger, void(1, HOLD), Result.exists_with_different_flags)
    refuse(
        ledger,
        post(1, HOLD)._replace(debit_account_id=BOB),
        Result.exists_with_different_debit_account_id,
    )
    refuse(
        ledger,
        post(1, HOLD, 10_000)._replace(user_data_64=1),
        Result.exists_with_different_user_data_64,
    )
    assert ledger.balance(BOB) == 10_000


def test_a_full_post_sent_again_answers_exists() -> None:
    ledger = held(30_000)
    assert ledger.submit(post(1, HOLD)) == [Result.ok]
    refuse(ledger, post(1, HOLD), Result.exists)
    refuse(ledger, post(1, HOLD, 30_000), Result.exists)


def test_a_partial_post_sent_again_as_a_full_post_is_a_different_transfer() -> None:
    """Amount 0 on a post means "the full pending amount" (30,000), so a retry of the
    10,000 partial post with amount 0 asks for something else than what was stored.
    TigerBeetle answers exists_with_different_amount here (`post_or_void_pending_transfer_exists`:
    amount 0 compares the pending amount with the stored one); answering `exists` would tell
    the caller the whole hold was captured when only a third of it was."""
    ledger = held(30_000)
    assert ledger.submit(post(1, HOLD, 10_000)) == [Result.ok]
    refuse(ledger, post(1, HOLD), Result.exists_with_different_amount)
    assert ledger.balance(BOB) == 10_000


# -- freezing ----------------------------------------------------------------------------------


def test_a_hold_on_a_frozen_wallet_cannot_be_posted_but_can_be_voided() -> None:
    ledger = held(30_000)
    assert ledger.submit(freeze(ALICE)) == [Result.ok]
    refuse(ledger, post(1, HOLD), Result.debit_account_frozen)
    assert ledger.submit(void(2, HOLD)) == [Result.ok]
    assert ledger.counters(ALICE) == (0, 0, 0, 50_000)


def test_a_hold_for_a_credit_frozen_wallet_cannot_be_posted() -> None:
    ledger = held(30_000)
    assert ledger.submit(freeze(BOB, debits=False, credits=True)) == [Result.ok]
    refuse(ledger, post(1, HOLD), Result.credit_account_frozen)
    assert ledger.submit(unfreeze(BOB, debits=False, credits=True)) == [Result.ok]
    refuse(ledger, post(1, HOLD), Result.id_already_failed)
    assert ledger.submit(post(2, HOLD)) == [Result.ok]


# -- expiry ------------------------------------------------------------------------------------


def test_a_hold_expires_at_its_timestamp_plus_the_timeout() -> None:
    ledger = funded()
    out = ledger.apply([pending(HOLD, ALICE, BOB, 1_000, timeout=60)])
    assert out.pending_created == [
        PendingState(HOLD, PendingStatus.PENDING, out.transfers[0].timestamp + 60 * SECOND)
    ]


def test_a_hold_with_a_timeout_posted_in_part_before_it_expires_stays_posted() -> None:
    ledger = held(30_000, timeout=60)
    ledger.advance(30)
    assert ledger.submit(post(1, HOLD, 12_000)) == [Result.ok]
    ledger.advance(60)
    out = ledger.apply([transfer(2, ALICE, BOB, 38_000)])
    assert out.expired == 0
    assert out.results == [[Result.ok]]
    assert ledger.status(HOLD) == PendingStatus.POSTED
    assert (ledger.balance(ALICE), ledger.balance(BOB)) == (0, 50_000)
    assert ledger.problems() == []


def test_an_expired_hold_is_released_and_can_no_longer_be_posted() -> None:
    ledger = held(30_000, timeout=60)
    expires_at = ledger.pending[HOLD].expires_at
    ledger.now = expires_at
    view = ledger.view()
    assert [t.id for t in view.expiring] == [HOLD]
    out = apply_batch(view, [[post(1, HOLD)]])
    assert only(out) == Result.pending_transfer_expired
    assert out.expired == 1
    assert out.pending_resolved == [(HOLD, PendingStatus.EXPIRED)]
    assert out.transfers == []
    assert out.failed == []
    ledger.persist(out)
    assert ledger.counters(ALICE) == (0, 0, 0, 50_000)
    assert ledger.counters(BOB) == (0, 0, 0, 0)
    assert ledger.status(HOLD) == PendingStatus.EXPIRED
    refuse(ledger, post(2, HOLD), Result.pending_transfer_expired)
    refuse(ledger, void(3, HOLD), Result.pending_transfer_expired)
    assert ledger.problems() == []


def test_expiry_runs_even_in_a_batch_that_does_not_mention_the_hold() -> None:
    ledger = held(30_000, timeout=1)
    ledger.advance(2)
    out = ledger.apply([transfer(1, ALICE, BOB, 50_000)])
    assert out.expired == 1
    assert out.results == [[Result.ok]]  # the released money is spendable at once
    assert ledger.balance(BOB) == 50_000


def test_a_hold_can_be_posted_until_the_nanosecond_before_it_expires() -> None:
    ledger = held(30_000, timeout=60)
    ledger.now = ledger.pending[HOLD].expires_at - 1
    assert ledger.view().expiring == []
    assert ledger.submit(post(1, HOLD)) == [Result.ok]


def test_the_deadline_alone_refuses_a_post() -> None:
    """Even in a view whose `expiring` missed the hold, a post at its deadline is refused."""
    hold = pending(HOLD, ALICE, BOB, 30_000, timeout=60)._replace(timestamp=NOW + 5)
    view = make_view(
        [
            stored(wallet(ALICE), debits_pending=30_000, credits_posted=50_000),
            stored(wallet(BOB), credits_pending=30_000),
        ],
        [hold],
        [PendingState(HOLD, PendingStatus.PENDING, NOW + 5 + 60 * SECOND)],
        now=NOW + 5 + 60 * SECOND,
    )
    out = apply_batch(view, [[post(1, HOLD)]])
    assert only(out) == Result.pending_transfer_expired
    assert_nothing_written(out)


def test_a_hold_without_timeout_never_expires() -> None:
    ledger = held(30_000)
    ledger.advance(10 * 365 * 24 * 3600)
    assert ledger.view().expiring == []
    assert ledger.submit(post(1, HOLD)) == [Result.ok]


def test_an_expiring_hold_already_resolved_is_left_alone() -> None:
    """A stale `expiring` entry (the hold was voided meanwhile) releases nothing twice."""
    ledger = held(30_000, timeout=60)
    assert ledger.submit(void(1, HOLD)) == [Result.ok]
    ledger.advance(120)
    view = make_view(
        ledger.accounts.values(),
        ledger.transfers.values(),
        ledger.pending.values(),
        now=ledger.now,
        last_timestamp=ledger.last_timestamp,
        expiring=[ledger.transfers[HOLD]],
    )
    out = apply_batch(view, [])
    assert out.expired == 0
    assert_nothing_written(out)


def test_a_timeout_that_would_run_past_2_63_is_refused() -> None:
    """At 1,000 s before the end of 64-bit time, a 1,001 s hold cannot be dated."""
    now = INT64_MAX - 1_000 * SECOND
    ledger = opened(bank(), wallet(ALICE), wallet(BOB), now=now)
    assert ledger.submit(top_up(1, ALICE, 5_000)) == [Result.ok]
    refuse(ledger, pending(2, ALICE, BOB, 100, timeout=1_001), Result.overflows_timeout)
    assert ledger.submit(pending(3, ALICE, BOB, 100, timeout=999)) == [Result.ok]


def test_the_longest_timeout_fits_at_today_s_clock() -> None:
    ledger = funded()
    out = ledger.apply([pending(HOLD, ALICE, BOB, 100, timeout=INT32_MAX)])
    assert out.results == [[Result.ok]]
    assert out.pending_created[0].expires_at == out.transfers[0].timestamp + INT32_MAX * SECOND
    assert ledger.accounts[BANK].debits_posted == 50_000
