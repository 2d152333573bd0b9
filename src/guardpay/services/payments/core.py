"""Payments a payer makes from the balance: P2P transfers, and the entries QR and
payment-code payments share (`pay`, `confirm_payment`), with the payer's views of them.

Every step of a payment (authenticate, limits, risk, postings, ledger, record, effects)
is written once in `pipeline.py`; this module names the payee, authenticates, and hands
the payment to `pipeline.process`, which moves the money now or records it waiting for
a step-up or a review. QR kinds and payment codes live in `qr.py` and `codes.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from guardpay.domain.money import Money
from guardpay.domain.payments.limits import DEFAULT, P2P, PaymentSettings
from guardpay.domain.payments.states import Status
from guardpay.errors import Conflict, InvalidRequest, NotFound
from guardpay.services.auth import facade as auth
from guardpay.services.auth.support import phone_index, user_for_phone_index
from guardpay.services.identity import merchant_api
from guardpay.services.payments import pipeline
from guardpay.services.payments.limits import lock_payer
from guardpay.services.payments.pipeline import PURPOSE, Authorization, Payment
from guardpay.services.platform.context import Context
from guardpay.services.platform.paging import keyset_page
from guardpay.storage.payments import PaymentRow
from guardpay.storage.uow import UnitOfWork


def pay(
    ctx: Context, row: PaymentRow, given: Authorization, settings: PaymentSettings = DEFAULT
) -> Payment:
    """Authenticate, then process now or wait for a step-up."""
    standing = lock_payer(ctx, row.payer_id)  # account_not_verified before anything is written
    factors = pipeline.authenticate(ctx, pipeline.KINDS[row.kind], row.payer_id, given)
    if factors == 0:
        return pipeline.require_action(ctx, row)
    stepped_up = given.step_up_challenge_id is not None
    return pipeline.process(
        ctx, row, factors, standing, new=True, stepped_up=stepped_up, settings=settings
    )


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
    knows = given.payment_password is not None
    if given.payment_password is not None:
        # before the step-up is answered: a mistyped password keeps the challenge open,
        # so the payer tries again with the same SMS code instead of being stuck
        auth.verify_payment_password(ctx, user_id, given.payment_password)
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
    factors = pipeline.factors(ctx, user_id, replace(given, payment_password=None)) + knows
    return pipeline.process(
        ctx, row, factors, standing, new=False, stepped_up=True, settings=settings
    )


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
    return pay(ctx, pipeline.new_row(ctx, P2P, payer_id, ("user", payee_id), amount), given)


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


@dataclass(frozen=True)
class Received:
    payment: PaymentRow
    refunded: int  # refunded so far, in the payment's minor units

    @property
    def refundable(self) -> int:
        paid = self.payment.status == Status.SUCCEEDED.value
        return self.payment.amount - self.refunded if paid else 0


def received(
    ctx: Context, merchant_id: str, cursor: str | None, limit: int = 20
) -> tuple[list[Received], str | None]:
    """A page of what a merchant received, newest first, each with what was refunded of
    it so far: for whoever may act for the merchant."""
    merchant_api.require_merchant(ctx, merchant_id)
    store = ctx.uow.payments
    page, after = keyset_page(
        store.payment,
        lambda r: r.payee_id == merchant_id,
        lambda after, n: store.payments_to(merchant_id, after, n),
        cursor,
        limit,
    )
    refunded = ctx.uow.refunds.totals([p.id for p in page])
    return [Received(p, refunded.get(p.id, 0)) for p in page], after


def status_counts(uow: UnitOfWork) -> dict[str, int]:
    """How many payments are in each status."""
    return uow.payments.status_counts()
