"""Ledger results -> refusals: one function, each kind's wording and the differences
between kinds (a refund's short balance is the merchant's; fundings keep the ledger's
own codes for a frozen account and a failed chain)."""

from __future__ import annotations

import pytest

from guardpay.api.errors import status_of
from guardpay.domain.ledger.results import Result
from guardpay.domain.payments import outcomes
from guardpay.domain.payments.outcomes import Refusals, refusal, require_applied
from guardpay.errors import Conflict, GuardpayError, InvalidRequest, LedgerRejected

OK, EXISTS, FAILED = Result.ok, Result.exists, Result.linked_event_failed
SHORT, FROZEN = Result.exceeds_credits, Result.credit_account_frozen
KINDS = [outcomes.PAYMENT, outcomes.TRADE, outcomes.RED_PACKET]


def seen(error: GuardpayError | None) -> tuple[type, int, str, str, str | None]:
    assert error is not None
    return type(error), status_of(error), error.code, error.message, error.param


@pytest.mark.parametrize(
    "how", [*KINDS, outcomes.REFUND, outcomes.FUNDING_REQUEST, outcomes.FUNDING_CALLBACK]
)
@pytest.mark.parametrize("results", [[OK], [EXISTS], [OK, OK], [EXISTS, EXISTS], []])
def test_every_event_applied_is_no_refusal(how: Refusals, results: list[Result]) -> None:
    assert refusal(results, how) is None
    require_applied(results, how)


@pytest.mark.parametrize(
    ("how", "noun"),
    [(outcomes.PAYMENT, "payment"), (outcomes.TRADE, "trade"), (outcomes.RED_PACKET, "red packet")],
)
def test_payments_trades_and_red_packets_word_their_refusals_alike(
    how: Refusals, noun: str
) -> None:
    short = f"the balance is not enough for this {noun}"
    assert seen(refusal([SHORT], how)) == (
        InvalidRequest,
        400,
        "insufficient_funds",
        short,
        "amount",
    )
    assert seen(refusal([FAILED, SHORT], how)) == seen(refusal([SHORT], how))  # any leg short
    frozen = f"an account of this {noun} is frozen"
    assert seen(refusal([FROZEN], how)) == (Conflict, 409, "account_frozen", frozen, None)
    assert seen(refusal([Result.debit_account_frozen, FAILED], how))[2] == "account_frozen"
    cause = f"the ledger refused the {noun}: pending_transfer_expired"
    assert seen(refusal([FAILED, Result.pending_transfer_expired], how)) == (
        LedgerRejected,
        409,
        "pending_transfer_expired",
        cause,
        None,
    )


def test_a_short_balance_beats_a_frozen_account() -> None:
    assert seen(refusal([FROZEN, SHORT], outcomes.PAYMENT))[2] == "insufficient_funds"


def test_a_refund_is_short_only_when_the_merchants_leg_is() -> None:
    how = outcomes.REFUND
    message = "the merchant's settlement balance cannot cover this refund"
    assert seen(refusal([FAILED, SHORT], how)) == (
        Conflict,
        409,
        "merchant_balance_insufficient",
        message,
        "amount",
    )
    fee_leg_short = seen(refusal([SHORT, FAILED], how))
    assert fee_leg_short[:3] == (LedgerRejected, 409, "exceeds_credits")
    assert fee_leg_short[3] == "the ledger refused the refund: exceeds_credits"
    assert seen(refusal([FROZEN], how))[2:4] == (
        "account_frozen",
        "an account of this refund is frozen",
    )


def test_a_funding_request_short_of_money_says_so_and_a_callback_has_no_shortfall() -> None:
    assert seen(refusal([SHORT], outcomes.FUNDING_REQUEST)) == (
        InvalidRequest,
        400,
        "insufficient_funds",
        "the wallet's available balance is too low",
        "amount",
    )
    assert seen(refusal([SHORT], outcomes.FUNDING_CALLBACK))[:3] == (
        LedgerRejected,
        409,
        "exceeds_credits",
    )


@pytest.mark.parametrize("how", [outcomes.FUNDING_REQUEST, outcomes.FUNDING_CALLBACK])
def test_fundings_keep_the_ledgers_codes_for_a_frozen_account_and_a_failed_chain(
    how: Refusals,
) -> None:
    assert seen(refusal([FROZEN], how)) == (
        LedgerRejected,
        409,
        "credit_account_frozen",
        "the ledger refused the funding: credit_account_frozen",
        None,
    )
    assert seen(refusal([FAILED, Result.exceeds_debits], how))[2] == "linked_event_failed"
    assert seen(refusal([Result.pending_transfer_already_voided, FAILED], how))[2] == (
        "pending_transfer_already_voided"
    )


def test_require_applied_raises_the_refusal() -> None:
    with pytest.raises(Conflict) as caught:
        require_applied([OK, FROZEN], outcomes.TRADE)
    assert caught.value.code == "account_frozen"
