"""Payments: P2P transfers and the machinery every payment kind shares.

A payment is one unit of work: the `payments` row, its ledger transfers (applied with
`services.ledger.books.execute` in the same transaction, so both commit or neither), its status
transitions and the audit entry. The order inside a use case matters, because some
refusals commit what they kept (`UnitOfWork.keep` — a wrong payment password must count
even though the payment fails): every check that can refuse after keeping runs *before*
anything of the payment is written, and every refusal after that point keeps nothing
(so rolls the whole unit of work back) or keeps only the failed payment record it wrote
on purpose (`record_refusal`, `deny`). So a rejected payment never changes a balance.

Authentication: the payment password is one factor, a passed step-up ("payment"
purpose, redeemed once) another. With neither, the payment is recorded as
`requires_action` with a step-up challenge, and `confirm_payment` completes it. QR kinds
and payment codes live in `payments_qr` and `payments_codes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import NoReturn

from guardpay.config import Settings
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.ids import new_transfer_id
from guardpay.domain.ledger.model import Transfer
from guardpay.domain.money import Money, currency
from guardpay.domain.payments import outcomes
from guardpay.domain.payments.fees import merchant_fee
from guardpay.domain.payments.limits import DEFAULT, P2P, PaymentSettings
from guardpay.domain.payments.postings import payments as postings
from guardpay.domain.payments.postings import review
from guardpay.domain.payments.states import PaymentState, Status, transition
from guardpay.domain.risk.decision import Action
from guardpay.errors import (
    Conflict,
    InsufficientFunds,
    InvalidRequest,
    LimitExceeded,
    NotFound,
    RecordedRefusal,
    RiskDenied,
)
from guardpay.services.auth import facade as auth
from guardpay.services.auth.support import phone_index, user_for_phone_index
from guardpay.services.identity import facade as identity
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import wallets
from guardpay.services.payments.limits import check_limits, lock_payer
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import new_id
from guardpay.services.platform.paging import keyset_page
from guardpay.services.risk import screening as payments_risk
from guardpay.services.risk.engine import Assessment, engine_of
from guardpay.services.webhooks import events as webhooks
from guardpay.storage.payments import PaymentRow
from guardpay.storage.uow import UnitOfWork

PURPOSE = "payment"


@dataclass(frozen=True)
class Authorization:
    """How the payer proves it is them: the payment password, a passed step-up
    challenge's id, the session's trusted device signing the request (biometric pay), or
    two of them (two factors)."""

    payment_password: str | None = None
    step_up_challenge_id: str | None = None
    answer: StepUpAnswer | None = None  # confirm only: answer the payment's challenge now
    device_signature: auth.PaymentSignature | None = None


@dataclass(frozen=True)
class StepUpAnswer:
    """An answer to a payment's step-up challenge (an SMS or TOTP code, or a trusted
    device's signature), checked by auth.pass_step_up, so a client can confirm in one
    call. Not shown in reprs: it is a credential."""

    method: str
    code: str | None = field(default=None, repr=False)
    signature: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Payment:
    row: PaymentRow
    next_action: dict[str, object] | None = None  # requires_action: the step-up to pass


def authenticate(ctx: Context, user_id: str, given: Authorization) -> int:
    """How many factors the payer showed (0, 1 or 2: a device signature and a passed
    step-up are both possession, so they count once). A wrong password, signature or
    step-up raises the auth error (committed bookkeeping) before anything is written."""
    factors = 0
    if given.payment_password is not None:
        auth.verify_payment_password(ctx, user_id, given.payment_password)
        factors += 1
    possession = 0
    if given.device_signature is not None:
        auth.verify_payment_signature(ctx, user_id, ctx.actor.device_id, given.device_signature)
        possession = 1
    if given.step_up_challenge_id is not None:
        auth.redeem_step_up(ctx, user_id, given.step_up_challenge_id, PURPOSE)
        possession = 1
    return factors + possession


def new_row(
    ctx: Context,
    kind: str,
    payer_id: str,
    payee: tuple[str, str],
    amount: Money,
    descriptor: str | None = None,
    order_id: str | None = None,
) -> PaymentRow:
    if amount.amount <= 0:
        raise InvalidRequest("an amount is a positive number of minor units", param="amount")
    now = ctx.now()
    return PaymentRow(
        new_id("pay"),
        kind,
        payer_id,
        payee[0],
        payee[1],
        descriptor,
        amount.amount,
        amount.currency,
        0,
        Status.CREATED.value,
        None,
        0,
        order_id,
        None,
        now,
        now,
    )


@dataclass(frozen=True)
class _Accounts:
    payer: int
    payee: int  # the payee's wallet, or the merchant's settlement account
    fee_revenue: int  # 0 when the payment takes no fee (not opened for it)
    ledger: int


def _accounts(ctx: Context, row: PaymentRow) -> _Accounts:
    """The ledger accounts of a payment (opened on first use); fee revenue only when a
    merchant payment takes a fee."""
    payer = wallets.wallet(ctx, "user", row.payer_id, row.currency)
    ledger_id = currency(row.currency).numeric
    if row.payee_kind == "user":
        payee = wallets.wallet(ctx, "user", row.payee_id, row.currency)
        return _Accounts(payer, payee, 0, ledger_id)
    settlement = AccountCode.MERCHANT_SETTLEMENT
    merchant = wallets.wallet(ctx, "merchant", row.payee_id, row.currency, settlement)
    fees = 0
    if row.fee != 0:
        fees = wallets.open_platform_accounts(ctx, row.currency)[AccountCode.FEE_REVENUE]
    return _Accounts(payer, merchant, fees, ledger_id)


def _transfers(ctx: Context, row: PaymentRow) -> list[Transfer]:
    """P2P: payer -> payee wallet. Merchant: payer -> settlement, then the fee from
    settlement -> fee revenue, linked so both apply or neither (postings.payments)."""
    acc = _accounts(ctx, row)
    if row.payee_kind == "user":
        return postings.p2p(
            payer=acc.payer,
            payee=acc.payee,
            amount=row.amount,
            ledger=acc.ledger,
            transfer_id=new_transfer_id(),
        )
    return postings.merchant(
        payer=acc.payer,
        settlement=acc.payee,
        fee_revenue=acc.fee_revenue,
        amount=row.amount,
        fee=row.fee,
        ledger=acc.ledger,
        payment_id=new_transfer_id(),
        fee_id=new_transfer_id(),
    )


def hold_transfer(ctx: Context, row: PaymentRow) -> Transfer:
    """A risk review holds the payment itself as a pending transfer, payer -> payee; the
    merchant fee is taken when the hold is posted (payments_review.py)."""
    acc = _accounts(ctx, row)
    return review.hold(
        payer=acc.payer,
        payee=acc.payee,
        amount=row.amount,
        merchant=row.payee_kind != "user",
        ledger=acc.ledger,
        transfer_id=new_transfer_id(),
    )


def move_money(ctx: Context, transfers: list[Transfer]) -> None:
    """Apply `transfers` in this unit of work, or raise the specific refusal."""
    results = ledger.execute(ctx.uow, transfers, clock=ctx.ledger_clock)
    outcomes.require_applied(results, outcomes.PAYMENT)


def advance(ctx: Context, row: PaymentRow, *targets: Status) -> tuple[PaymentRow, list[str]]:
    """Walk the state machine; a move to `failed` carries the row's failure code."""
    state, seen = PaymentState(row.id, Status(row.status)), [row.status]
    for target in targets:
        code = row.failure_code if target is Status.FAILED else None
        state, _events = transition(state, target, ctx.now(), code)
        seen.append(target.value)
    return replace(row, status=state.status.value, updated_at=ctx.now()), seen


def process(
    ctx: Context,
    row: PaymentRow,
    factors: int,
    standing: identity.Standing,
    *,
    new: bool,
    stepped_up: bool = False,
    settings: PaymentSettings = DEFAULT,
) -> Payment:
    """Check limits, ask risk control, then move the money and record success. A limit
    or balance refusal and a risk denial commit the failed payment (with its decision
    for a denial); anything else rolls back. `standing` is the payer's, from
    `lock_payer` in this unit of work (their row locked, so limits are checked in turn)."""
    if row.payee_kind == "merchant":
        row = replace(row, fee=merchant_fee(row.amount, settings.fee_rate))
    row = replace(row, factors=factors)
    try:
        check_limits(ctx, standing, row.kind, Money(row.amount, row.currency), factors, settings)
        verdict = payments_risk.assess_payment(ctx, row)
    except RECORDED as refused:
        record_refusal(ctx, row, refused, new=new)
    action = verdict.decision.action
    if action is Action.DENY:
        deny(ctx, row, verdict, new=new)
    if action is Action.CHALLENGE and not stepped_up:
        return require_action(ctx, row, new=new, reason="risk")
    if action is Action.REVIEW:
        return hold_for_review(ctx, row, verdict, new=new)
    row, seen = advance(ctx, row, Status.PROCESSING, Status.SUCCEEDED)
    store(ctx, row, new=new)
    claim_order(ctx, row)
    move_money(ctx, _transfers(ctx, row))
    audit(ctx, row, seen)
    notify_merchant(ctx, row)
    engine_of(ctx).learn(ctx, verdict.request, accepted=True)  # the money moved
    return Payment(row)


#: Refusals recorded as a failed payment (nothing was written for the payment before them).
RECORDED = (LimitExceeded, InsufficientFunds)


def record_refusal(
    ctx: Context, row: PaymentRow, refused: InvalidRequest, *, new: bool
) -> NoReturn:
    """Record the payment failed with the refusal's code, and refuse with the same code
    and message (`RecordedRefusal`), keeping the record (`UnitOfWork.keep`)."""
    row, seen = advance(
        ctx, replace(row, failure_code=refused.code), Status.PROCESSING, Status.FAILED
    )
    store(ctx, row, new=new)
    audit(ctx, row, seen)
    ctx.uow.keep()  # the failed payment and its audit entry
    raise RecordedRefusal(refused.message, code=refused.code, param=refused.param)


def deny(ctx: Context, row: PaymentRow, verdict: Assessment, *, new: bool) -> NoReturn:
    """Record the payment failed with its decision, keep the record (`UnitOfWork.keep`)
    and refuse with `payment_denied`."""
    row, seen = advance(
        ctx, replace(row, failure_code="risk_denied"), Status.PROCESSING, Status.FAILED
    )
    store(ctx, row, new=new)
    audit(ctx, row, seen, decision=verdict.row.id)
    engine_of(ctx).learn(ctx, verdict.request, accepted=False)
    ctx.uow.keep()  # the failed payment, its risk decision and audit entry
    raise RiskDenied("risk control declined this payment; contact support if it was you")


def hold_for_review(ctx: Context, row: PaymentRow, verdict: Assessment, *, new: bool) -> Payment:
    """Hold the money as a pending ledger transfer until an analyst approves or declines
    it, or the review times out (payments_review.py); the payment stays `processing`."""
    row, seen = advance(ctx, row, Status.PROCESSING)
    store(ctx, row, new=new)
    claim_order(ctx, row)
    hold = hold_transfer(ctx, row)
    move_money(ctx, [hold])
    deadline = ctx.now() + review_timeout(ctx.settings)
    ctx.uow.risk.save_review(
        verdict.row.id, review_status="pending", review_deadline=deadline, holds=[hold.id]
    )
    audit(ctx, row, seen, decision=verdict.row.id)
    ctx.audit(
        "risk.review_opened",
        subject=verdict.row.id,
        details={"payment": row.id, "reasons": list(verdict.decision.reasons)},
    )
    return Payment(
        row,
        {"type": "review", "decision_id": verdict.row.id, "review_deadline": deadline.isoformat()},
    )


def review_timeout(settings: Settings) -> timedelta:
    """How long a held payment waits for an analyst before it is declined
    (GUARDPAY_RISK_REVIEW_HOURS, `Settings.risk_review_hours`)."""
    return timedelta(hours=settings.risk_review_hours)


def store(ctx: Context, row: PaymentRow, *, new: bool) -> None:
    if new:
        ctx.uow.payments.insert_payment(row)
    else:
        ctx.uow.payments.save_payment(row)


def notify_merchant(ctx: Context, row: PaymentRow) -> None:
    """Through the outbox, in this transaction: the merchant hears of exactly the
    payments that committed. No payer identity travels; the payment id is the key."""
    if row.payee_kind != "merchant":
        return
    payload = {
        "payment_id": row.id,
        "kind": row.kind,
        "status": row.status,
        "amount": row.amount,
        "currency": row.currency,
        "fee": row.fee,
        "order_id": row.order_id,
        "descriptor": row.descriptor,
    }
    webhooks.enqueue(ctx, row.payee_id, f"payment.{row.status}", payload)


def claim_order(ctx: Context, row: PaymentRow) -> None:
    """An order code pays once: open -> paid here, in the payment's transaction. The
    scan already refused an expired or paid code (with a security event); this catches
    the order expiring during a step-up and two payers racing for one order."""
    if row.order_id is None:
        return
    order = ctx.uow.payments.order(row.order_id, lock=True)
    if order is None or ctx.now() >= order.expires_at:
        raise Conflict("this QR code has expired", code="qr_expired", param="payload")
    if not ctx.uow.payments.mark_order_paid(row.order_id, row.id):
        raise Conflict("this QR code was already paid", code="qr_already_used", param="payload")


def audit(
    ctx: Context, row: PaymentRow, transitions: list[str], decision: str | None = None
) -> None:
    details = {
        "kind": row.kind,
        "payer": row.payer_id,
        "payee": row.payee_id,
        "amount": row.amount,
        "currency": row.currency,
        "fee": row.fee,
        "factors": row.factors,
        "transitions": transitions,
    }
    if decision is not None:
        details["risk_decision"] = decision
    ctx.audit(f"payment.{row.status}", subject=row.id, details=details)


def require_action(
    ctx: Context, row: PaymentRow, *, new: bool = True, reason: str = "authentication"
) -> Payment:
    """Record the payment waiting for a step-up (committed with it): no factor shown
    (`authentication`), or risk control asked for one more (`risk`)."""
    challenge = auth.begin_step_up(ctx, row.payer_id, PURPOSE)
    row, seen = advance(ctx, replace(row, challenge_id=challenge.id), Status.REQUIRES_ACTION)
    store(ctx, row, new=new)
    audit(ctx, row, seen)
    return Payment(row, _next_action(row, list(challenge.methods), reason))


def _next_action(row: PaymentRow, methods: list[str], reason: str) -> dict[str, object]:
    return {
        "type": "step_up",
        "challenge_id": row.challenge_id,
        "methods": methods,
        "reason": reason,
    }


def pay(
    ctx: Context, row: PaymentRow, given: Authorization, settings: PaymentSettings = DEFAULT
) -> Payment:
    """Authenticate, then process now or wait for a step-up."""
    standing = lock_payer(ctx, row.payer_id)  # account_not_verified before anything is written
    factors = authenticate(ctx, row.payer_id, given)
    if factors == 0:
        return require_action(ctx, row)
    stepped_up = given.step_up_challenge_id is not None
    return process(ctx, row, factors, standing, new=True, stepped_up=stepped_up, settings=settings)


def confirm_payment(
    ctx: Context,
    user_id: str,
    payment_id: str,
    given: Authorization,
    settings: PaymentSettings = DEFAULT,
) -> Payment:
    """Complete a `requires_action` payment with its step-up (passed before, or answered
    here) and optionally the payment password for a second factor. A wrong answer or
    password raises its committed auth error before the payment changes."""
    row = ctx.uow.payments.payment(payment_id, lock=True)
    if row is None or row.payer_id != user_id:
        raise NotFound("no such payment", param="payment_id")
    if row.status != Status.REQUIRES_ACTION.value:
        raise Conflict(f"the payment is {row.status}", code="illegal_transition")
    if given.step_up_challenge_id not in (None, row.challenge_id):
        raise InvalidRequest("that is not this payment's step-up", param="challenge_id")
    given = replace(given, step_up_challenge_id=row.challenge_id)
    standing = lock_payer(ctx, user_id)
    if given.answer is not None and row.challenge_id is not None:
        a = given.answer
        auth.pass_step_up(
            ctx,
            row.challenge_id,
            a.method,
            code=a.code,
            signature=a.signature,
            signer_device_id=ctx.actor.device_id,
            purpose=PURPOSE,
        )
    factors = authenticate(ctx, user_id, given)
    return process(ctx, row, factors, standing, new=False, stepped_up=True, settings=settings)


def _payee_id(ctx: Context, payee: str) -> str:
    if payee.startswith("usr_"):
        user = ctx.uow.identity.user(payee)
        found = user.id if user is not None and user.status == "active" else None
    else:
        found = user_for_phone_index(ctx, phone_index(ctx, payee))
    if found is None:
        raise NotFound("no such payee", code="payee_not_found", param="payee")
    return found


def p2p_transfer(
    ctx: Context, payer_id: str, payee: str, amount: Money, given: Authorization
) -> Payment:
    """Send money to a user by phone number or user id."""
    payee_id = _payee_id(ctx, payee)
    if payee_id == payer_id:
        raise InvalidRequest("you cannot pay yourself", code="payee_is_payer", param="payee")
    return pay(ctx, new_row(ctx, P2P, payer_id, ("user", payee_id), amount), given)


def get_payment(ctx: Context, user_id: str, payment_id: str) -> PaymentRow:
    """The payer's (or the receiving user's) view; anyone else gets 404."""
    row = ctx.uow.payments.payment(payment_id)
    if row is None or user_id not in (row.payer_id, row.payee_id):
        raise NotFound("no such payment", param="payment_id")
    return row


def list_payments(
    ctx: Context, user_id: str, cursor: str | None, limit: int = 20
) -> tuple[list[PaymentRow], str | None]:
    """A page of the payer's payments, newest first, and the next cursor (or None)."""
    store = ctx.uow.payments
    return keyset_page(
        store.payment,
        lambda r: r.payer_id == user_id,
        lambda after, n: store.payments_of(user_id, after, n),
        cursor,
        limit,
    )


def status_counts(uow: UnitOfWork) -> dict[str, int]:
    """How many payments are in each status."""
    return uow.payments.status_counts()
