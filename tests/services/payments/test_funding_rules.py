"""The pure funding rules: first final answer wins, postings' signs, stable transfer ids.
(Lives beside the service tests: `domain/payments/funding.py` is owned with them.)"""

from __future__ import annotations

from itertools import product

from guardpay.domain.ledger.model import TransferFlags
from guardpay.domain.payments import funding as rules
from guardpay.domain.payments.funding import Action, BankStatus, Kind, State, Step

ACC = rules.Accounts(wallet=1, reserve=2, in_flight=3, ledger=156)


def test_only_processing_moves_and_the_first_final_answer_wins() -> None:
    for answers in product(list(BankStatus), repeat=4):
        state = State.PROCESSING
        for status in answers:
            state = rules.next_state(rules.decide(state, status), state)
        assert state.value == answers[0].value
    assert rules.decide(State.SUCCEEDED, BankStatus.FAILED) is Action.CONFLICT
    assert rules.decide(State.FAILED, BankStatus.FAILED) is Action.ALREADY


def test_top_up_credits_the_wallet_and_debits_the_reserve() -> None:
    [hold] = rules.hold("fnd_1", Kind.TOP_UP, 500, ACC)
    assert (hold.debit_account_id, hold.credit_account_id, hold.amount) == (3, 1, 500)
    assert hold.flags == TransferFlags.PENDING
    post, move = rules.settle("fnd_1", Kind.TOP_UP, 500, ACC)
    assert post.pending_id == hold.id
    assert post.flags == TransferFlags.POST_PENDING | TransferFlags.LINKED
    assert (move.debit_account_id, move.credit_account_id, move.amount) == (2, 3, 500)


def test_withdrawal_holds_the_wallet_and_credits_the_reserve() -> None:
    [hold] = rules.hold("fnd_2", Kind.WITHDRAWAL, 500, ACC)
    assert (hold.debit_account_id, hold.credit_account_id) == (1, 3)
    _, move = rules.settle("fnd_2", Kind.WITHDRAWAL, 500, ACC)
    assert (move.debit_account_id, move.credit_account_id) == (3, 2)
    [void] = rules.void("fnd_2")
    assert (void.pending_id, void.flags) == (hold.id, TransferFlags.VOID_PENDING)


def test_transfer_ids_are_stable_distinct_and_in_range() -> None:
    ids = {rules.transfer_id(f"fnd_{n}", step) for n in range(200) for step in Step}
    assert len(ids) == 800
    assert all(2**61 <= i < 2**62 for i in ids)
    assert rules.transfer_id("fnd_1", Step.HOLD) == rules.transfer_id("fnd_1", Step.HOLD)
