"""The payment pipeline: the one path every movement of money takes.

    authenticate -> limits -> risk -> postings -> ledger -> record -> effects

Each step is one function below, written once; what differs between P2P, static and
order QR, payment codes, escrow, red packets, refunds, reviews and fundings is data, a
`Kind`, passed through the steps. The use cases (`core`, `qr`, `codes`, `escrow`,
`red_packets`, `refunds`, `review`, `funding`) parse their request, then either

- `charge` the payer: every step, from the payer's factors to the money leaving their
  wallet (`process` for the kinds that can wait in `requires_action` or in a review
  hold, `debit` for those that refuse instead: escrow and red packets), or
- `move` money that is already held (release, claim, expiry, refund, a review's post or
  void, a bank's answer): postings -> ledger, then their own record and effects, since
  nobody pays and risk control already had its say when the money came in.

The order inside a charge matters, because some refusals commit what they kept
(`UnitOfWork.keep`, the commit policy in storage/uow.py): every check that can refuse
after keeping (a wrong payment password counts) runs *before* anything of the payment is
written, and every refusal after that point keeps nothing (so rolls the whole unit of
work back) or keeps only the failed payment it wrote on purpose (`record_refusal`,
`deny`). So a refused payment never changes a balance.

Every step is a function of the unit of work's context and one payment, holding no state
between calls besides the unit of work: a batch runner can call each step for every
payment of a micro-batch in turn, in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from guardpay.domain.payments.limits import (
    DEFAULT,
    P2P,
    PAYMENT_CODE,
    QR_ORDER,
    QR_STATIC,
    PaymentSettings,
)
from guardpay.domain.payments.postings import payments as postings
from guardpay.domain.payments.postings import review
from guardpay.domain.payments.states import PaymentState, Status, transition
from guardpay.domain.risk.decision import Action
from guardpay.errors import (
    Conflict,
    InsufficientFunds,
    InvalidRequest,
    LimitExceeded,
    RecordedRefusal,
    RiskDenied,
    StepUpRequired,
)
from guardpay.services.auth import facade as auth
from guardpay.services.cases import alerts as case_alerts
from guardpay.services.identity import facade as identity
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import wallets
from guardpay.services.payments.limits import check_limits, lock_payer
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import timed_id
from guardpay.services.risk import screening
from guardpay.services.risk.engine import Assessment, engine_of
from guardpay.services.webhooks import events as webhooks
from guardpay.storage.payments import PaymentRow

#: the step-up purpose every payment factor is redeemed for
PURPOSE = "payment"


@dataclass(frozen=True, slots=True)
class Kind:
    """What differs between kinds of money movement, as data the steps read.

    `name` is the payment row's kind and the audit events' family; `refusals` words the
    ledger's refusals (domain/payments/outcomes.py). A kind that `waits` is recorded as
    `requires_action` when the payer shows no factor or risk control asks for one more,
    and held for a review; one that does not refuses with `step_up_required` (saying
    `step_up`) and answers a review with a step-up too. A waiting kind also records a
    limit or balance refusal as a failed payment."""

    name: str
    refusals: outcomes.Refusals
    waits: bool = False
    step_up: str = "confirm this payment with your payment password or a step-up"


P2P_KIND = Kind(P2P, outcomes.PAYMENT, waits=True)
STATIC_QR = Kind(QR_STATIC, outcomes.PAYMENT, waits=True)
ORDER_QR = Kind(QR_ORDER, outcomes.PAYMENT, waits=True)
CODE = Kind(PAYMENT_CODE, outcomes.PAYMENT, waits=True)
ESCROW = Kind("escrow", outcomes.TRADE)
RED_PACKET = Kind(
    "red_packet",
    outcomes.RED_PACKET,
    step_up="confirm this red packet with your payment password or a step-up",
)
REVIEW = Kind("review", outcomes.PAYMENT)  # a held payment posted or voided
REFUND = Kind("refund", outcomes.REFUND)
FUNDING_REQUEST = Kind("funding", outcomes.FUNDING_REQUEST)
FUNDING_CALLBACK = Kind("funding", outcomes.FUNDING_CALLBACK)
#: the kinds a payment row can have, by name
KINDS = {k.name: k for k in (P2P_KIND, STATIC_QR, ORDER_QR, CODE, ESCROW, RED_PACKET)}


@dataclass(frozen=True)
class StepUpAnswer:
    """An answer to a payment's step-up challenge (an SMS or TOTP code, or a trusted
    device's signature), checked by auth.pass_step_up, so a client can confirm in one
    call. Not shown in reprs: it is a credential."""

    method: str
    code: str | None = field(default=None, repr=False)
    signature: str | None = field(default=None, repr=False)


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
class Payment:
    row: PaymentRow
    next_action: dict[str, object] | None = None  # requires_action: the step-up to pass


# -- the payment row ---------------------------------------------------------------------


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
        timed_id("pay", now),
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
        ctx.actor.device_id,
    )


def advance(ctx: Context, row: PaymentRow, *targets: Status) -> tuple[PaymentRow, list[str]]:
    """Walk the state machine; a move to `failed` carries the row's failure code."""
    state, seen = PaymentState(row.id, Status(row.status)), [row.status]
    for target in targets:
        code = row.failure_code if target is Status.FAILED else None
        state, _events = transition(state, target, ctx.now(), code)
        seen.append(target.value)
    return replace(row, status=state.status.value, updated_at=ctx.now()), seen


def store(ctx: Context, row: PaymentRow, *, new: bool) -> None:
    if new:
        ctx.uow.payments.insert_payment(row)
    else:
        ctx.uow.payments.save_payment(row)


# -- step 1: authenticate ----------------------------------------------------------------


def factors(ctx: Context, user_id: str, given: Authorization) -> int:
    """How many factors the payer showed (0, 1 or 2: a device signature and a passed
    step-up are both possession, so they count once). A wrong password, signature or
    step-up raises the auth error (committed bookkeeping) before anything is written."""
    shown = 0
    if given.payment_password is not None:
        auth.verify_payment_password(ctx, user_id, given.payment_password)
        shown += 1
    possession = 0
    if given.device_signature is not None:
        auth.verify_payment_signature(ctx, user_id, ctx.actor.device_id, given.device_signature)
        possession = 1
    if given.step_up_challenge_id is not None:
        auth.redeem_step_up(ctx, user_id, given.step_up_challenge_id, PURPOSE)
        possession = 1
    return shown + possession


def authenticate(ctx: Context, kind: Kind, payer_id: str, given: Authorization) -> int:
    """The payer's factors. A kind that cannot wait needs at least one: with none, a
    step-up begins (the challenge commits with the `step_up_required` refusal) for the
    client to pass and retry with."""
    shown = factors(ctx, payer_id, given)
    if shown == 0 and not kind.waits:
        challenge = auth.begin_step_up(ctx, payer_id, PURPOSE)
        ctx.uow.keep()  # the challenge the client must answer
        raise StepUpRequired(
            kind.step_up, methods=list(challenge.methods), challenge_id=challenge.id
        )
    return shown


# -- steps 2 and 3: limits and risk (services/payments/limits.py, services/risk/) ---------


def assess(
    ctx: Context, row: PaymentRow, standing: identity.Standing, settings: PaymentSettings
) -> Assessment:
    """Limits, then risk control's decision about this payment (recorded against its
    id); a balance the payment cannot exceed is refused before risk is asked."""
    amount = Money(row.amount, row.currency)
    check_limits(ctx, standing, row.kind, amount, row.factors, settings)
    return screening.assess_payment(ctx, row)


# -- steps 4 and 5: postings and the ledger -----------------------------------------------


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


def payment_postings(ctx: Context, row: PaymentRow) -> list[Transfer]:
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


def hold_postings(ctx: Context, row: PaymentRow) -> Transfer:
    """A risk review holds the payment itself as a pending transfer, payer -> payee; the
    merchant fee is taken when the hold is posted (review.py)."""
    acc = _accounts(ctx, row)
    return review.hold(
        payer=acc.payer,
        payee=acc.payee,
        amount=row.amount,
        merchant=row.payee_kind != "user",
        ledger=acc.ledger,
        transfer_id=new_transfer_id(),
    )


def move(ctx: Context, kind: Kind, transfers: Sequence[Transfer]) -> None:
    """The ledger step: apply `transfers` in this unit of work, or raise the kind's
    refusal (domain/payments/outcomes.py); either way nothing is half-applied."""
    results = ledger.execute(ctx.uow, list(transfers), clock=ctx.ledger_clock)
    outcomes.require_applied(results, kind.refusals)


# -- steps 6 and 7: record and effects ----------------------------------------------------


def audit_details(row: PaymentRow, transitions: list[str]) -> dict[str, object]:
    return {
        "kind": row.kind,
        "payer": row.payer_id,
        "payee": row.payee_id,
        "amount": row.amount,
        "currency": row.currency,
        "fee": row.fee,
        "factors": row.factors,
        "transitions": transitions,
    }


def record(
    ctx: Context, row: PaymentRow, transitions: list[str], decision: str | None = None
) -> None:
    """The payment's audit entry: who paid whom how much, with how many factors, through
    which states (and the risk decision that held or denied it)."""
    details = audit_details(row, transitions)
    if decision is not None:
        details["risk_decision"] = decision
    ctx.audit(f"payment.{row.status}", subject=row.id, details=details)


def notify(ctx: Context, merchant_id: str, event: str, payload: dict[str, object]) -> None:
    """Through the outbox, in this transaction: the merchant hears of exactly what
    committed, once the unit of work has."""
    webhooks.enqueue(ctx, merchant_id, event, payload)


def notify_merchant(ctx: Context, row: PaymentRow) -> None:
    """A merchant payment's webhook. No payer identity travels; the payment id is the key."""
    if row.payee_kind != "merchant":
        return
    payload: dict[str, object] = {
        "payment_id": row.id,
        "kind": row.kind,
        "status": row.status,
        "amount": row.amount,
        "currency": row.currency,
        "fee": row.fee,
        "order_id": row.order_id,
        "descriptor": row.descriptor,
    }
    notify(ctx, row.payee_id, f"payment.{row.status}", payload)


# -- the drivers ---------------------------------------------------------------------------


def process(
    ctx: Context,
    row: PaymentRow,
    shown: int,
    standing: identity.Standing,
    *,
    new: bool,
    stepped_up: bool = False,
    settings: PaymentSettings = DEFAULT,
) -> Payment:
    """A waiting kind past authentication (`shown` factors): limits and risk, then the
    money moves and the payment succeeds, or it waits (step-up, review) or fails. A
    limit or balance refusal and a risk denial commit the failed payment (with its
    decision for a denial); anything else rolls back. `standing` is the payer's, from
    `lock_payer` in this unit of work (their row locked, so limits are checked in turn)."""
    if row.payee_kind == "merchant":
        row = replace(row, fee=merchant_fee(row.amount, settings.fee_rate))
    row = replace(row, factors=shown)
    try:
        verdict = assess(ctx, row, standing, settings)
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
    move(ctx, KINDS[row.kind], payment_postings(ctx, row))
    record(ctx, row, seen)
    notify_merchant(ctx, row)
    engine_of(ctx).learn(ctx, verdict.request, accepted=True)  # the money moved
    return Payment(row)


@dataclass(frozen=True)
class Debit:
    """A payer's money leaving the wallet for something a kind that cannot wait holds
    (an escrow trade, a red packet): `payee` is that holding's (kind, id), `risk` what
    risk control is told."""

    kind: Kind
    payer_id: str
    payee: tuple[str, str]
    amount: Money
    given: Authorization
    risk: screening.Subject


def debit(ctx: Context, d: Debit, settings: PaymentSettings = DEFAULT) -> PaymentRow:
    """Steps 1 to 3 for a kind that cannot wait, and the payment they allow: authenticate
    (a step-up if no factor), limits, risk (a gate: deny refuses, a challenge or review
    asks for a step-up), then the succeeded payment row the limits count. The caller
    then writes its own rows and moves the money into the holding (`move`)."""
    standing = lock_payer(ctx, d.payer_id)  # account_not_verified before anything is written
    shown = authenticate(ctx, d.kind, d.payer_id, d.given)
    check_limits(ctx, standing, d.kind.name, d.amount, shown, settings)
    stepped_up = d.given.step_up_challenge_id is not None
    screening.screen(
        ctx, d.payer_id, d.risk, d.payee[1], stepped_up=stepped_up, begin_step_up=auth.begin_step_up
    )
    row = new_row(ctx, d.kind.name, d.payer_id, d.payee, d.amount)
    row, _seen = advance(ctx, replace(row, factors=shown), Status.PROCESSING, Status.SUCCEEDED)
    store(ctx, row, new=True)
    return row


# -- the outcomes of a waiting kind --------------------------------------------------------

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
    record(ctx, row, seen)
    ctx.uow.keep()  # the failed payment and its audit entry
    raise RecordedRefusal(refused.message, code=refused.code, param=refused.param)


def deny(ctx: Context, row: PaymentRow, verdict: Assessment, *, new: bool) -> NoReturn:
    """Record the payment failed with its decision, keep the record (`UnitOfWork.keep`)
    and refuse with `payment_denied`."""
    row, seen = advance(
        ctx, replace(row, failure_code="risk_denied"), Status.PROCESSING, Status.FAILED
    )
    store(ctx, row, new=new)
    record(ctx, row, seen, decision=verdict.row.id)
    engine_of(ctx).learn(ctx, verdict.request, accepted=False)
    ctx.uow.keep()  # the failed payment, its risk decision and audit entry
    raise RiskDenied("risk control declined this payment; contact support if it was you")


def hold_for_review(ctx: Context, row: PaymentRow, verdict: Assessment, *, new: bool) -> Payment:
    """Hold the money as a pending ledger transfer until an analyst approves or declines
    it, or the review times out (review.py); the payment stays `processing`."""
    row, seen = advance(ctx, row, Status.PROCESSING)
    store(ctx, row, new=new)
    claim_order(ctx, row)
    hold = hold_postings(ctx, row)
    move(ctx, KINDS[row.kind], [hold])
    deadline = ctx.now() + review_timeout(ctx.settings)
    ctx.uow.risk.save_review(
        verdict.row.id, review_status="pending", review_deadline=deadline, holds=[hold.id]
    )
    record(ctx, row, seen, decision=verdict.row.id)
    ctx.audit(
        "risk.review_opened",
        subject=verdict.row.id,
        details={"payment": row.id, "reasons": list(verdict.decision.reasons)},
    )
    case_alerts.from_review(
        ctx,
        decision_id=verdict.row.id,
        payer=row.payer_id,
        held=(row.id, row.payer_id, row.payee_id, row.amount, ctx.now(), row.device_id),
        currency=row.currency,
        score=verdict.decision.score,
        reasons=verdict.decision.reasons,
    )
    return Payment(
        row,
        {"type": "review", "decision_id": verdict.row.id, "review_deadline": deadline.isoformat()},
    )


def review_timeout(settings: Settings) -> timedelta:
    """How long a held payment waits for an analyst before it is declined
    (GUARDPAY_RISK_REVIEW_HOURS, `Settings.risk_review_hours`)."""
    return timedelta(hours=settings.risk_review_hours)


def require_action(
    ctx: Context, row: PaymentRow, *, new: bool = True, reason: str = "authentication"
) -> Payment:
    """Record the payment waiting for a step-up (committed with it): no factor shown
    (`authentication`), or risk control asked for one more (`risk`)."""
    challenge = auth.begin_step_up(ctx, row.payer_id, PURPOSE)
    row, seen = advance(ctx, replace(row, challenge_id=challenge.id), Status.REQUIRES_ACTION)
    store(ctx, row, new=new)
    record(ctx, row, seen)
    return Payment(
        row,
        {
            "type": "step_up",
            "challenge_id": row.challenge_id,
            "methods": list(challenge.methods),
            "reason": reason,
        },
    )


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
