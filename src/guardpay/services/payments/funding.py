"""Top-up from and withdrawal to a bound card, through the bank channel.

The postings are in `domain/payments/postings/funding.py`, the state machine in
`domain/payments/funding.py`. Here: one unit of work per request and per bank callback. A request
writes the funding row, holds the money as a pending ledger transfer and submits the
instruction to the bank (which dedupes on the funding id), all in one transaction: if
anything fails, nothing is held and a retry with the same funding id (over HTTP, derived
from the Idempotency-Key: `funding_id_for`) meets the same bank reference. An instruction
the bank took for a transaction that then rolled back shows up as "missing on our side"
in the statement reconciliation, which is the control for that window.

Callbacks are idempotent by (bank_reference, status), serialised per funding by a row
lock, and every state change and anomaly is audited. Only an answer that matches the
funding's amount and currency counts as seen: one that does not is an anomaly and
nothing more, so it cannot turn the bank's correct answer into a duplicate. The bank
may answer before the request that submitted the instruction has committed: a callback
for a reference no funding has is refused as retryable (503 `bank_reference_unknown`)
and changes nothing, so the bank's redelivery after the commit settles the funding,
whatever the timing. Cards appear only as their id and last four; the bank gets the
card token.
"""

from __future__ import annotations

import base64
import hashlib
from enum import StrEnum

import structlog

from guardpay.adapters.bank import BankCallback, BankChannel, BankInstruction
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.money import Money, currency
from guardpay.domain.payments import funding as rules
from guardpay.domain.payments.funding import Action, BankStatus, State
from guardpay.domain.payments.postings import funding as postings
from guardpay.domain.payments.postings.funding import Kind
from guardpay.errors import (
    Conflict,
    GuardpayError,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
)
from guardpay.services.auth import facade as auth
from guardpay.services.identity.common import live_user
from guardpay.services.ledger import wallets
from guardpay.services.payments import pipeline
from guardpay.services.payments.pipeline import Authorization
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import timed_id
from guardpay.services.platform.paging import keyset_page
from guardpay.services.risk.screening import Subject, screen
from guardpay.storage.funding import FundingRow
from guardpay.storage.identity import CardRow

log = structlog.get_logger("guardpay.funding")


class Outcome(StrEnum):
    """What a callback did."""

    SUCCEEDED = "succeeded"  # settled now
    FAILED = "failed"  # voided now
    DUPLICATE = "duplicate"  # this (reference, status) was handled before
    IGNORED = "ignored"  # the same final answer as the funding already has
    CONFLICT = "conflict"  # contradicts the first final answer: anomaly
    MISMATCH = "mismatch"  # amount or currency differ from ours: anomaly, no change
    UNKNOWN = "unknown"  # a status we do not know: anomaly


def request_top_up(
    ctx: Context,
    bank: BankChannel,
    user_id: str,
    card_id: str,
    money: Money,
    *,
    funding_id: str | None = None,
    step_up_challenge_id: str | None = None,
    payment_password: str | None = None,
) -> FundingRow:
    """Ask the bank to pull `money` from the user's bound card into their wallet. A
    payment password, when given (the API always asks for one), is checked first."""
    pipeline.factors(ctx, user_id, Authorization(payment_password=payment_password))
    return _request(
        ctx, bank, Kind.TOP_UP, user_id, card_id, money, funding_id, step_up_challenge_id
    )


def request_withdrawal(
    ctx: Context,
    bank: BankChannel,
    user_id: str,
    card_id: str,
    money: Money,
    *,
    funding_id: str | None = None,
    step_up_challenge_id: str | None = None,
    payment_password: str | None = None,
) -> FundingRow:
    """Hold `money` in the wallet and ask the bank to pay it to the bound card
    (`insufficient_funds` if the wallet's available balance is short)."""
    pipeline.factors(ctx, user_id, Authorization(payment_password=payment_password))
    return _request(
        ctx, bank, Kind.WITHDRAWAL, user_id, card_id, money, funding_id, step_up_challenge_id
    )


def funding_id_for(user_id: str, idempotency_key: str) -> str:
    """The funding id of a request made with an Idempotency-Key: the same for every retry
    of it. A request that failed after the bank took its instruction (the bank's reply
    timed out: 503, everything rolled back, the key released for a retry) is then
    retried with the same instruction id, which the bank dedupes, so the card is charged
    or paid once. Derived per user, so another user's key names another funding."""
    digest = hashlib.sha256(f"{user_id}\n{idempotency_key}".encode()).digest()
    return f"fnd_{base64.b32encode(digest[:10]).decode().lower()}"


def _screen(
    ctx: Context,
    kind: Kind,
    user_id: str,
    card: CardRow,
    money: Money,
    step_up_challenge_id: str | None,
    funding_id: str,
) -> None:
    """Risk control sees every top-up and withdrawal (card fingerprint included); a
    step-up it asked for is redeemed here when the client retries with its id."""
    pipeline.factors(ctx, user_id, Authorization(step_up_challenge_id=step_up_challenge_id))
    risk_kind = "topup" if kind is Kind.TOP_UP else "withdrawal"
    card_key = (("card", card.pan_index),)
    subject = Subject(risk_kind, kind.value, money.amount, money.currency, list_keys=card_key)
    screen(
        ctx,
        user_id,
        subject,
        funding_id,
        stepped_up=step_up_challenge_id is not None,
        review_refuses=kind is Kind.WITHDRAWAL,
        begin_step_up=auth.begin_step_up,
    )


def _request(
    ctx: Context,
    bank: BankChannel,
    kind: Kind,
    user_id: str,
    card_id: str,
    money: Money,
    funding_id: str | None,
    step_up_challenge_id: str | None = None,
) -> FundingRow:
    if money.amount <= 0:
        raise InvalidRequest("the amount must be positive", code="invalid_amount", param="amount")
    live_user(ctx, user_id)
    card = ctx.uow.identity.card(card_id)
    if card is None or card.user_id != user_id or card.status != "active":
        raise NotFound(
            "no such active card on this account", code="card_not_found", param="card_id"
        )
    existing = ctx.uow.funding.get(funding_id) if funding_id else None
    if existing is not None:
        return _same_request(existing, kind, user_id, card_id, money)
    fid = funding_id or timed_id("fnd", ctx.now())
    _screen(ctx, kind, user_id, card, money, step_up_challenge_id, fid)
    row = _new_row(ctx, fid, kind, user_id, card_id, card.last4, money)
    ctx.uow.funding.insert(row)
    hold = postings.hold(row.id, kind, money.amount, _accounts(row))
    pipeline.move(ctx, pipeline.FUNDING_REQUEST, hold)
    reference = _submit(ctx, bank, row, card.token or card_id)
    ctx.uow.funding.update(row.id, ctx.now(), bank_reference=reference)
    ctx.audit(
        "funding.requested",
        subject=user_id,
        details={
            "funding_id": row.id,
            "kind": kind.value,
            "amount": money.amount,
            "currency": money.currency,
            "instrument_id": card_id,
            "last4": card.last4,
            "bank_reference": reference,
        },
    )
    found = ctx.uow.funding.get(row.id)
    assert found is not None
    return found


def _same_request(
    row: FundingRow, kind: Kind, user_id: str, card_id: str, money: Money
) -> FundingRow:
    """A retried request returns the first one's funding; a different one is refused."""
    same = (row.kind, row.user_id, row.card_id, row.amount, row.currency) == (
        kind.value,
        user_id,
        card_id,
        money.amount,
        money.currency,
    )
    if not same:
        raise Conflict(
            "this funding id was used for a different request",
            code="funding_id_reused",
            param="funding_id",
        )
    return row


def _new_row(
    ctx: Context,
    funding_id: str,
    kind: Kind,
    user_id: str,
    card_id: str,
    last4: str | None,
    money: Money,
) -> FundingRow:
    wallets.open_platform_accounts(ctx, money.currency)
    wallet_id = wallets.wallet(ctx, "user", user_id, money.currency)
    now = ctx.now()
    return FundingRow(
        funding_id,
        kind.value,
        user_id,
        card_id,
        last4,
        wallet_id,
        money.amount,
        money.currency,
        State.PROCESSING.value,
        None,
        now,
        now,
    )


def _submit(ctx: Context, bank: BankChannel, row: FundingRow, token: str) -> str:
    instruction = BankInstruction(
        row.id,
        rules.DIRECTION[Kind(row.kind)],
        row.amount,
        row.currency,
        token,
        row.card_last4 or "",
        ctx.now().date(),
    )
    try:
        return bank.submit(instruction)
    except GuardpayError:
        raise
    except Exception as exc:  # the channel is down or answered garbage: nothing is held
        raise ServiceUnavailable(
            "the bank did not accept the instruction", code="bank_unavailable"
        ) from exc


def handle_callback(ctx: Context, callback: BankCallback) -> Outcome:
    """Apply the bank's answer once; anything unexpected becomes an audited anomaly."""
    store = ctx.uow.funding
    row = store.by_reference(callback.bank_reference, for_update=True)
    if row is None:
        raise _not_ours_yet(callback)
    if callback.status not in set(BankStatus):  # recorded once, not marked as seen
        if not store.has_anomaly(callback.bank_reference, "invalid_status"):
            _anomaly(ctx, callback, "invalid_status", row)
        return Outcome.UNKNOWN
    outcome = _outcome(row, callback)
    if outcome is Outcome.MISMATCH:
        # Not marked as seen either: (reference, status) is the key of the bank's real
        # answer, and a garbled copy must not make that answer a duplicate.
        _anomaly(ctx, callback, "amount_mismatch", row)
        return outcome
    if not store.record_callback(callback.bank_reference, callback.status, outcome, ctx.now()):
        return Outcome.DUPLICATE
    if outcome is Outcome.CONFLICT:
        _anomaly(ctx, callback, "conflicting_answer", row)
    elif outcome in (Outcome.SUCCEEDED, Outcome.FAILED):
        _transition(ctx, row, outcome)
    return outcome


def _not_ours_yet(callback: BankCallback) -> ServiceUnavailable:
    """The refusal of a callback whose reference no funding has: retryable (503), so the
    bank sends it again. The bank can answer before the request that submitted the
    instruction has committed its funding (on PostgreSQL the callback's transaction
    cannot see it yet); acknowledging the answer then would lose it for good, while the
    bank's next delivery, after that commit, settles the funding. Nothing is written
    (an early answer is no anomaly); a reference that never becomes ours, an instruction
    whose request rolled back, is what statement reconciliation reports as
    `missing_on_platform` once the bank stops retrying."""
    log.warning(
        "bank_callback_reference_unknown",
        bank_reference=callback.bank_reference,
        status=callback.status,
    )
    return ServiceUnavailable(
        "no funding has this bank reference (yet): send it again later",
        code="bank_reference_unknown",
        param="bank_reference",
    )


def _outcome(row: FundingRow, callback: BankCallback) -> Outcome:
    if (callback.amount, callback.currency) != (row.amount, row.currency):
        return Outcome.MISMATCH
    action = rules.decide(State(row.state), BankStatus(callback.status))
    return {
        Action.SETTLE: Outcome.SUCCEEDED,
        Action.VOID: Outcome.FAILED,
        Action.ALREADY: Outcome.IGNORED,
        Action.CONFLICT: Outcome.CONFLICT,
    }[action]


def _transition(ctx: Context, row: FundingRow, outcome: Outcome) -> None:
    kind = Kind(row.kind)
    if outcome is Outcome.SUCCEEDED:
        events = postings.settle(row.id, kind, row.amount, _accounts(row))
    else:
        events = postings.void(row.id)
    pipeline.move(ctx, pipeline.FUNDING_CALLBACK, events)
    ctx.uow.funding.update(row.id, ctx.now(), state=outcome.value)
    ctx.audit(
        f"funding.{outcome.value}",
        subject=row.user_id,
        details={
            "funding_id": row.id,
            "kind": row.kind,
            "amount": row.amount,
            "currency": row.currency,
            "bank_reference": row.bank_reference,
        },
    )


def _anomaly(ctx: Context, cb: BankCallback, kind: str, row: FundingRow | None) -> None:
    detail = f"status={cb.status} amount={cb.amount} {cb.currency}; ours: " + (
        f"{row.state} {row.amount} {row.currency}" if row else "none"
    )
    ctx.uow.funding.add_anomaly(cb.bank_reference, kind, detail, ctx.now())
    ctx.audit(
        "funding.anomaly",
        subject=row.user_id if row else None,
        outcome=kind,
        details={
            "bank_reference": cb.bank_reference,
            "funding_id": row.id if row else None,
            "status": cb.status,
            "amount": cb.amount,
            "currency": cb.currency,
        },
    )


def _accounts(row: FundingRow) -> postings.Accounts:
    return postings.Accounts(
        wallet=row.wallet_account_id,
        reserve=wallets.platform_account_id(AccountCode.RESERVE, row.currency),
        in_flight=wallets.platform_account_id(AccountCode.BANK_IN_FLIGHT, row.currency),
        ledger=currency(row.currency).numeric,
    )


def get_funding(ctx: Context, funding_id: str, *, user_id: str | None = None) -> FundingRow:
    """A funding; with `user_id`, only that user's (another's is as missing as none)."""
    row = ctx.uow.funding.get(funding_id)
    if row is None or (user_id is not None and row.user_id != user_id):
        raise NotFound("no such funding", code="funding_not_found", param="funding_id")
    return row


def list_fundings(
    ctx: Context, user_id: str, cursor: str | None, limit: int = 20
) -> tuple[list[FundingRow], str | None]:
    """A page of the user's top-ups and withdrawals, newest first, and the next cursor."""
    store = ctx.uow.funding
    return keyset_page(
        store.get,
        lambda r: r.user_id == user_id,
        lambda after, n: store.of_user(user_id, after, n),
        cursor,
        limit,
    )
