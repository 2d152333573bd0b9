"""Postings: the exact transfers each kind of money movement writes, and what they do to
the ledger.

Every test names the legs as (debit, credit, amount, code, flags), checks that the set
balances (each leg moves its amount out of one account into another, and a set of
several legs is one linked chain), then applies it to an in-memory ledger (the real
engine) and reads the balances back. Account names follow tests/domain/ledger/helpers.py:
ALICE, BOB and CAROL are customer wallets, SHOP a merchant's settlement account, FEES fee
revenue, BANK the bank channel in flight, RESERVE the custodian account; ESCROW and
PACKET are a trade's and a red packet's holding accounts. Amounts are fen.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from itertools import count

from hypothesis import given
from hypothesis import strategies as st

from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.chart import TransferCode as Code
from guardpay.domain.ledger.ids import new_transfer_id
from guardpay.domain.ledger.model import INT64_MAX, Account, PendingStatus, Transfer
from guardpay.domain.ledger.model import TransferFlags as F
from guardpay.domain.ledger.results import Result
from guardpay.domain.payments.fees import DEFAULT_RATE, merchant_fee
from guardpay.domain.payments.postings import escrow, payments, red_packets, refunds, review
from guardpay.domain.payments.postings import funding as bank
from guardpay.domain.payments.red_packets import Split, split
from guardpay.domain.payments.refunds import split_refund
from tests.domain.ledger.helpers import (
    ALICE,
    BANK,
    BOB,
    CAROL,
    FEES,
    RESERVE,
    Ledger,
    fees,
    funded,
    reserve,
)
from tests.factories import CNY, WALLET_FLAGS, account, transfer

SHOP, ESCROW, PACKET = 20, 30, 40
YUAN = 100
NONE = F.NONE
POSTED, LINKED = F.POST_PENDING, F.LINKED

Leg = tuple[int, int, int, int, int]


def legs(transfers: Sequence[Transfer]) -> list[Leg]:
    """The set as (debit, credit, amount, code, flags); a post or void names its hold by
    `pending_id` and takes accounts, code and amount from it (all 0 here)."""
    return [(t.debit_account_id, t.credit_account_id, t.amount, t.code, t.flags) for t in transfers]


def assert_balanced(transfers: Sequence[Transfer]) -> None:
    """Each leg moves a positive amount from one account to another, so the set's debits
    equal its credits; several legs are one linked chain (all but the last linked)."""
    moved: Counter[int] = Counter()
    for t in transfers:
        if t.flags & (F.POST_PENDING | F.VOID_PENDING):
            assert t.pending_id != 0  # the hold's accounts and amount, all of it
            assert t.amount == 0
            continue
        assert t.amount > 0
        assert t.debit_account_id != t.credit_account_id
        assert t.ledger == CNY
        moved[t.debit_account_id] -= t.amount
        moved[t.credit_account_id] += t.amount
    assert sum(moved.values()) == 0
    assert [t.linked for t in transfers] == [True] * (len(transfers) - 1) + [False]
    assert len({t.id for t in transfers}) == len(transfers)


def holding(id: int) -> Account:
    """A credit-normal settlement or holding account: may never go below zero."""
    return account(id, code=AccountCode.MERCHANT_SETTLEMENT, flags=WALLET_FLAGS)


def platform(wallets: dict[int, int]) -> Ledger:
    """Wallets funded from BANK, and SHOP, FEES, ESCROW, PACKET and RESERVE open."""
    ledger = funded(wallets)
    opened = ledger.submit(holding(SHOP), fees(), holding(ESCROW), holding(PACKET), reserve())
    assert opened == [Result.ok] * 5
    return ledger


def post(ledger: Ledger, transfers: Sequence[Transfer]) -> None:
    """Apply the set as one request: every leg applies, and the ledger stays consistent."""
    assert_balanced(transfers)
    assert ledger.submit(*transfers) == [Result.ok] * len(transfers)
    assert ledger.problems() == []


def balances(ledger: Ledger, *accounts: int) -> tuple[int, ...]:
    return tuple(ledger.balance(a) for a in accounts)


def shop_payment(amount: int, fee: int, ids: tuple[int, int] = (1, 2)) -> list[Transfer]:
    """ALICE pays SHOP `amount`, of which SHOP owes `fee` to FEES."""
    return payments.merchant(
        payer=ALICE,
        settlement=SHOP,
        fee_revenue=FEES,
        amount=amount,
        fee=fee,
        ledger=CNY,
        payment_id=ids[0],
        fee_id=ids[1],
    )


def shop_refund(amount: int, fee_returned: int, ids: tuple[int, int]) -> list[Transfer]:
    """SHOP refunds ALICE `amount`; FEES gives SHOP back `fee_returned` of its fee."""
    return refunds.refund(
        payer=ALICE,
        settlement=SHOP,
        fee_revenue=FEES,
        amount=amount,
        fee_returned=fee_returned,
        ledger=CNY,
        refund_id=ids[0],
        fee_id=ids[1],
    )


# -- payments ------------------------------------------------------------------------------


def test_a_p2p_payment_posts_one_transfer_from_wallet_to_wallet() -> None:
    sent = payments.p2p(payer=ALICE, payee=BOB, amount=25 * YUAN, ledger=CNY, transfer_id=1)
    assert legs(sent) == [(ALICE, BOB, 2_500, Code.P2P, NONE)]
    ledger = platform({ALICE: 100 * YUAN})
    post(ledger, sent)
    assert balances(ledger, ALICE, BOB) == (7_500, 2_500)


def test_a_100_yuan_qr_payment_with_a_0_6_pct_fee_posts_it_and_the_fee_linked() -> None:
    fee = merchant_fee(100 * YUAN, Decimal("0.006"))
    assert fee == 60
    paid = shop_payment(100 * YUAN, fee, ids=(1, 2))
    assert legs(paid) == [
        (ALICE, SHOP, 10_000, Code.MERCHANT_PAYMENT, LINKED),
        (SHOP, FEES, 60, Code.FEE, NONE),
    ]
    assert [t.id for t in paid] == [1, 2]
    ledger = platform({ALICE: 100 * YUAN})
    post(ledger, paid)
    assert balances(ledger, ALICE, SHOP, FEES) == (0, 9_940, 60)


def test_a_merchant_payment_without_a_fee_is_the_payment_alone() -> None:
    paid = shop_payment(99, fee=0)
    assert legs(paid) == [(ALICE, SHOP, 99, Code.MERCHANT_PAYMENT, NONE)]
    assert_balanced(paid)


def test_a_payment_and_its_fee_fail_together_when_the_wallet_is_short() -> None:
    ledger = platform({ALICE: 50 * YUAN})
    assert ledger.submit(*shop_payment(100 * YUAN, fee=60)) == [
        Result.exceeds_credits,
        Result.linked_event_failed,
    ]
    assert balances(ledger, ALICE, SHOP, FEES) == (5_000, 0, 0)


# -- a payment held for review -------------------------------------------------------------


def shop_hold(amount: int, hold_id: int = 7) -> Transfer:
    return review.hold(
        payer=ALICE, payee=SHOP, amount=amount, merchant=True, ledger=CNY, transfer_id=hold_id
    )


def test_a_review_hold_then_post_pays_the_merchant_and_takes_the_fee_linked() -> None:
    ledger = platform({ALICE: 100 * YUAN})
    held = shop_hold(100 * YUAN, hold_id=7)
    assert legs([held]) == [(ALICE, SHOP, 10_000, Code.MERCHANT_PAYMENT, F.PENDING)]
    assert held.timeout == 0  # the review's deadline lives with the decision
    post(ledger, [held])
    assert (ledger.available(ALICE), ledger.balance(ALICE), ledger.balance(SHOP)) == (0, 10_000, 0)

    approved = review.post(
        hold_id=7, settlement=SHOP, fee_revenue=FEES, fee=60, ledger=CNY, post_id=8, fee_id=9
    )
    assert legs(approved) == [(0, 0, 0, 0, POSTED | LINKED), (SHOP, FEES, 60, Code.FEE, NONE)]
    assert approved[0].pending_id == 7
    post(ledger, approved)
    assert ledger.status(7) == PendingStatus.POSTED
    assert balances(ledger, ALICE, SHOP, FEES) == (0, 9_940, 60)


def test_a_review_hold_then_void_gives_the_payer_everything_back() -> None:
    ledger = platform({ALICE: 100 * YUAN})
    post(ledger, [shop_hold(100 * YUAN, hold_id=7)])
    declined = review.void(hold_id=7, void_id=8)
    assert legs(declined) == [(0, 0, 0, 0, F.VOID_PENDING)]
    assert declined[0].pending_id == 7
    post(ledger, declined)
    assert ledger.status(7) == PendingStatus.VOIDED
    assert ledger.available(ALICE) == 10_000
    assert balances(ledger, ALICE, SHOP, FEES) == (10_000, 0, 0)


def test_a_p2p_review_hold_is_coded_p2p_and_its_post_takes_no_fee() -> None:
    held = review.hold(
        payer=ALICE, payee=BOB, amount=500, merchant=False, ledger=CNY, transfer_id=7
    )
    assert legs([held]) == [(ALICE, BOB, 500, Code.P2P, F.PENDING)]
    approved = review.post(
        hold_id=7, settlement=0, fee_revenue=0, fee=0, ledger=CNY, post_id=8, fee_id=9
    )
    assert legs(approved) == [(0, 0, 0, 0, POSTED)]
    ledger = platform({ALICE: 500})
    post(ledger, [held])
    post(ledger, approved)
    assert balances(ledger, ALICE, BOB) == (0, 500)


# -- refunds -------------------------------------------------------------------------------


def test_a_partial_refund_returns_the_fee_pro_rata_and_three_thirds_sum_exactly() -> None:
    ledger = platform({ALICE: 100 * YUAN})
    post(ledger, shop_payment(100 * YUAN, fee=60))
    ids = count(10)
    refunded, sets = 0, []
    for amount in (3_333, 3_333, 3_334):
        share = split_refund(10_000, 60, refunded, amount)
        refunded += amount
        sets.append(shop_refund(amount, share.fee, ids=(next(ids), next(ids))))
    # ceil(60 x 3,333 / 10,000) = 20 back with the first third, 40 after two, all 60 at last
    assert legs(sets[0]) == [
        (FEES, SHOP, 20, Code.REFUND, LINKED),
        (SHOP, ALICE, 3_333, Code.REFUND, NONE),
    ]
    assert [legs(s)[0][2] for s in sets] == [20, 20, 20]
    for s in sets:
        post(ledger, s)
    assert balances(ledger, ALICE, SHOP, FEES) == (10_000, 0, 0)


def test_a_refund_with_no_fee_share_is_the_refund_leg_alone() -> None:
    assert split_refund(250, 2, 1, 1).fee == 0  # cumulative ceil(2 x 2 / 250) is still 1
    back = shop_refund(1, 0, ids=(5, 6))
    assert legs(back) == [(SHOP, ALICE, 1, Code.REFUND, NONE)]
    assert_balanced(back)


def test_a_refund_the_merchant_cannot_cover_fails_on_its_last_leg_and_undoes_the_fee() -> None:
    ledger = platform({ALICE: 100 * YUAN})
    post(ledger, shop_payment(100 * YUAN, fee=60))
    post(ledger, [transfer(3, SHOP, BOB, 9_000)])  # the merchant spent most of it
    back = shop_refund(100 * YUAN, 60, ids=(4, 5))
    assert ledger.submit(*back) == [Result.linked_event_failed, Result.exceeds_credits]
    assert balances(ledger, SHOP, FEES) == (940, 60)


# -- escrow --------------------------------------------------------------------------------


def test_escrow_holds_then_releases_net_of_the_fee_and_the_holding_ends_at_zero() -> None:
    ledger = platform({ALICE: 100 * YUAN})
    paid_in = escrow.hold(buyer=ALICE, holding=ESCROW, amount=10_000, ledger=CNY, transfer_id=1)
    assert legs(paid_in) == [(ALICE, ESCROW, 10_000, Code.ESCROW_HOLD, NONE)]
    post(ledger, paid_in)
    released = escrow.release(
        holding=ESCROW,
        settlement=SHOP,
        fee_revenue=FEES,
        amount=10_000,
        fee=60,
        ledger=CNY,
        release_id=2,
        fee_id=3,
    )
    assert legs(released) == [
        (ESCROW, SHOP, 9_940, Code.ESCROW_RELEASE, LINKED),
        (ESCROW, FEES, 60, Code.FEE, NONE),
    ]
    post(ledger, released)
    assert balances(ledger, ESCROW, SHOP, FEES) == (0, 9_940, 60)


def test_escrow_refunded_before_release_returns_everything_and_takes_no_fee() -> None:
    ledger = platform({ALICE: 100 * YUAN})
    post(ledger, escrow.hold(buyer=ALICE, holding=ESCROW, amount=10_000, ledger=CNY, transfer_id=1))
    back = escrow.refund(holding=ESCROW, buyer=ALICE, amount=10_000, ledger=CNY, transfer_id=2)
    assert legs(back) == [(ESCROW, ALICE, 10_000, Code.REFUND, NONE)]
    post(ledger, back)
    assert balances(ledger, ALICE, ESCROW, FEES) == (10_000, 0, 0)


def test_an_escrow_release_leaves_out_a_leg_of_zero() -> None:
    def release(amount: int, fee: int) -> list[Transfer]:
        return escrow.release(
            holding=ESCROW,
            settlement=SHOP,
            fee_revenue=FEES,
            amount=amount,
            fee=fee,
            ledger=CNY,
            release_id=2,
            fee_id=3,
        )

    assert legs(release(50, fee=0)) == [(ESCROW, SHOP, 50, Code.ESCROW_RELEASE, NONE)]
    assert legs(release(1, fee=1)) == [(ESCROW, FEES, 1, Code.FEE, NONE)]  # alone, unlinked
    assert_balanced(release(50, fee=0))
    assert_balanced(release(1, fee=1))


# -- red packets ---------------------------------------------------------------------------


def test_a_red_packet_of_10_yuan_in_3_shares_posts_in_and_out_and_holds_nothing_after() -> None:
    ledger = platform({ALICE: 100 * YUAN})
    shares = split(10 * YUAN, 3, Split.FIXED)
    assert shares == [334, 333, 333]
    funding = red_packets.fund(
        sender=ALICE, holding=PACKET, amount=1_000, ledger=CNY, transfer_id=1
    )
    assert legs(funding) == [(ALICE, PACKET, 1_000, Code.RED_PACKET, NONE)]
    post(ledger, funding)
    bob = red_packets.claim(holding=PACKET, claimer=BOB, amount=334, ledger=CNY, transfer_id=2)
    carol = red_packets.claim(holding=PACKET, claimer=CAROL, amount=333, ledger=CNY, transfer_id=3)
    assert legs(bob + carol) == [
        (PACKET, BOB, 334, Code.RED_PACKET, NONE),
        (PACKET, CAROL, 333, Code.RED_PACKET, NONE),
    ]
    post(ledger, bob)
    post(ledger, carol)
    expired = red_packets.give_back(
        holding=PACKET, sender=ALICE, amount=333, ledger=CNY, transfer_id=4
    )
    assert legs(expired) == [(PACKET, ALICE, 333, Code.RED_PACKET, NONE)]
    post(ledger, expired)
    assert balances(ledger, ALICE, BOB, CAROL, PACKET) == (9_333, 334, 333, 0)


# -- top-up and withdrawal -----------------------------------------------------------------

ACCOUNTS = bank.Accounts(wallet=ALICE, reserve=RESERVE, in_flight=BANK, ledger=CNY)
TOP_UP, WITHDRAWAL = bank.Kind.TOP_UP, bank.Kind.WITHDRAWAL


def test_a_top_up_in_flight_is_pending_then_posted_with_the_reserve_moved_linked() -> None:
    ledger = platform({})
    held = bank.hold("fnd_1", TOP_UP, 5_000, ACCOUNTS)
    hold_id = bank.transfer_id("fnd_1", bank.Step.HOLD)
    assert legs(held) == [(BANK, ALICE, 5_000, Code.TOP_UP, F.PENDING)]
    assert held[0].id == hold_id
    post(ledger, held)
    assert ledger.balance(ALICE) == 0  # not spendable while the bank has not answered
    assert ledger.counters(BANK) == (5_000, 0, 0, 0)

    settled = bank.settle("fnd_1", TOP_UP, 5_000, ACCOUNTS)
    assert legs(settled) == [
        (0, 0, 0, 0, POSTED | LINKED),
        (RESERVE, BANK, 5_000, Code.TOP_UP, NONE),
    ]
    assert settled[0].pending_id == hold_id
    post(ledger, settled)
    assert ledger.balance(ALICE) == 5_000
    assert ledger.counters(RESERVE) == (0, 5_000, 0, 0)  # the cash is at the custodian
    assert ledger.counters(BANK) == (0, 5_000, 0, 5_000)  # the suspense is back at zero
    assert ledger.submit(*settled) == [Result.exists, Result.exists]  # a retried callback


def test_a_withdrawal_that_fails_at_the_bank_is_voided_and_the_money_is_back() -> None:
    ledger = platform({ALICE: 100 * YUAN})
    held = bank.hold("fnd_2", WITHDRAWAL, 4_000, ACCOUNTS)
    assert legs(held) == [(ALICE, BANK, 4_000, Code.WITHDRAWAL, F.PENDING)]
    post(ledger, held)
    assert ledger.available(ALICE) == 6_000
    voided = bank.void("fnd_2")
    assert legs(voided) == [(0, 0, 0, 0, F.VOID_PENDING)]
    assert voided[0].pending_id == held[0].id
    post(ledger, voided)
    assert (ledger.available(ALICE), ledger.balance(ALICE)) == (10_000, 10_000)


def test_a_settled_withdrawal_moves_the_suspense_back_to_the_reserve() -> None:
    ledger = platform({})
    post(ledger, bank.hold("fnd_1", TOP_UP, 9_000, ACCOUNTS))
    post(ledger, bank.settle("fnd_1", TOP_UP, 9_000, ACCOUNTS))
    post(ledger, bank.hold("fnd_2", WITHDRAWAL, 4_000, ACCOUNTS))
    settled = bank.settle("fnd_2", WITHDRAWAL, 4_000, ACCOUNTS)
    assert legs(settled)[1] == (BANK, RESERVE, 4_000, Code.WITHDRAWAL, NONE)
    post(ledger, settled)
    assert ledger.balance(ALICE) == 5_000
    assert ledger.counters(RESERVE) == (0, 9_000, 0, 4_000)


# -- ids -----------------------------------------------------------------------------------


def test_new_transfer_ids_are_never_zero_nor_int_max() -> None:
    drawn = {new_transfer_id() for _ in range(1_000)}
    assert len(drawn) == 1_000
    assert all(1 <= i < INT64_MAX for i in drawn)


# -- properties ----------------------------------------------------------------------------


@st.composite
def packets(draw: st.DrawFn) -> tuple[list[int], int]:
    """A packet's shares (any split) and how many of them are claimed before expiry."""
    n = draw(st.integers(1, 20))
    total = draw(st.integers(n, 10**9))
    mode = draw(st.sampled_from(list(Split)))
    shares = split(total, n, mode, random.Random(draw(st.integers(0, 2**32))))
    return shares, draw(st.integers(0, n))


@given(packets())
def test_any_red_packet_claimed_or_returned_empties_its_holding_exactly(
    packet: tuple[list[int], int],
) -> None:
    shares, claimed = packet
    total = sum(shares)
    ledger = platform({ALICE: total})
    ids = count(1)
    fund = partial(red_packets.fund, sender=ALICE, holding=PACKET, ledger=CNY)
    claim = partial(red_packets.claim, holding=PACKET, claimer=BOB, ledger=CNY)
    give_back = partial(red_packets.give_back, holding=PACKET, sender=ALICE, ledger=CNY)
    post(ledger, fund(amount=total, transfer_id=next(ids)))
    for share in shares[:claimed]:
        post(ledger, claim(amount=share, transfer_id=next(ids)))
    left = sum(shares[claimed:])
    if left:
        post(ledger, give_back(amount=left, transfer_id=next(ids)))
    assert ledger.balance(PACKET) == 0
    assert balances(ledger, BOB, ALICE) == (sum(shares[:claimed]), left)


@st.composite
def refund_sequences(draw: st.DrawFn) -> tuple[int, int, list[int]]:
    """A payment, its fee (the default rate's, or any up to the whole amount) and a
    sequence of partial refunds that never pass it."""
    paid = draw(st.integers(1, 10**8))
    fee = draw(st.one_of(st.just(merchant_fee(paid, DEFAULT_RATE)), st.integers(0, paid)))
    amounts, left = [], paid
    for _ in range(draw(st.integers(1, 8))):
        if left == 0:
            break
        amount = draw(st.one_of(st.just(left), st.integers(1, left)))
        amounts.append(amount)
        left -= amount
    return paid, fee, amounts


@given(refund_sequences())
def test_any_refund_sequence_returns_the_fee_pro_rata_and_sums_exactly(
    case: tuple[int, int, list[int]],
) -> None:
    paid, fee, amounts = case
    ledger = platform({ALICE: paid})
    ids = count(1)
    post(ledger, shop_payment(paid, fee, ids=(next(ids), next(ids))))
    refunded = fee_back = 0
    for amount in amounts:
        share = split_refund(paid, fee, refunded, amount)
        post(ledger, shop_refund(amount, share.fee, ids=(next(ids), next(ids))))
        refunded += amount
        fee_back += share.fee
    assert fee_back == -(-fee * refunded // paid)  # ceil(F x R / A): never more than the fee
    assert ledger.balance(ALICE) == refunded
    assert ledger.balance(FEES) == fee - fee_back
    assert ledger.balance(SHOP) == (paid - fee) - (refunded - fee_back)
    if refunded == paid:
        assert balances(ledger, SHOP, FEES) == (0, 0)
