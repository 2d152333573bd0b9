"""Analysts decide held payments: approve (post the hold, take the fee, succeed), decline
(void the hold, fail), or let the review time out (declined by the system).

A held payment is a pending ledger transfer payer -> payee (pipeline.hold_for_review).
Posting and voiding go through the ledger like every other write, in the analyst's unit
of work, with the payment's status, the decision's review fields and the audit entry, so
either all of it happens or none. The decision is locked first: two analysts clicking at
once get one outcome and one `review_closed`. An analyst's outcome also labels the
decision (approve: legit, decline: fraud) for the model's training set; a timeout leaves
it unlabelled, since nobody looked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import structlog

from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.ids import new_transfer_id
from guardpay.domain.ledger.model import Transfer
from guardpay.domain.money import currency
from guardpay.domain.payments.postings import review
from guardpay.domain.payments.states import Status
from guardpay.errors import Conflict, GuardpayError, InvalidRequest, NotFound
from guardpay.services.ledger import wallets
from guardpay.services.payments import pipeline
from guardpay.services.platform import access
from guardpay.services.platform.context import Context
from guardpay.storage.payments import PaymentRow
from guardpay.storage.risk import DecisionRow

log = structlog.get_logger("guardpay.risk")

REVIEW_ROLE = "analyst"
PENDING, APPROVED, DECLINED, EXPIRED = "pending", "approved", "declined", "expired"


@dataclass(frozen=True)
class Reviewed:
    decision: DecisionRow
    payment: PaymentRow


def _open_review(ctx: Context, decision_id: str) -> tuple[DecisionRow, PaymentRow]:
    found = ctx.uow.risk.decision(decision_id, lock=True)
    if found is None or found.review_status is None or found.subject_id is None:
        raise NotFound("no such review", code="review_not_found", param="decision_id")
    if found.review_status != PENDING:
        raise Conflict(f"this review is already {found.review_status}", code="review_closed")
    payment = ctx.uow.payments.payment(found.subject_id, lock=True)
    assert payment is not None
    assert found.holds
    return found, payment


def _settle(ctx: Context, payment: PaymentRow, hold: int, post: bool) -> list[Transfer]:
    """Post the hold and take the merchant fee (approve), or void it (postings.review)."""
    if not post:
        return review.void(hold_id=hold, void_id=new_transfer_id())
    settlement = revenue = 0  # no fee: neither account is touched (nor opened)
    if payment.fee != 0:
        code = AccountCode.MERCHANT_SETTLEMENT
        settlement = wallets.wallet(ctx, "merchant", payment.payee_id, payment.currency, code)
        revenue = wallets.open_platform_accounts(ctx, payment.currency)[AccountCode.FEE_REVENUE]
    return review.post(
        hold_id=hold,
        settlement=settlement,
        fee_revenue=revenue,
        fee=payment.fee,
        ledger=currency(payment.currency).numeric,
        post_id=new_transfer_id(),
        fee_id=new_transfer_id(),
    )


def _close(
    ctx: Context, decision_id: str, outcome: str, by: str, note: str | None, label: str | None
) -> Reviewed:
    decision, payment = _open_review(ctx, decision_id)
    approve = outcome == APPROVED
    assert decision.holds is not None
    pipeline.move(ctx, pipeline.REVIEW, _settle(ctx, payment, decision.holds[0], approve))
    target = Status.SUCCEEDED if approve else Status.FAILED
    failure = None if approve else f"review_{outcome}"
    row, seen = pipeline.advance(ctx, replace(payment, failure_code=failure), target)
    pipeline.store(ctx, row, new=False)
    if not approve and row.order_id is not None:  # the order may be paid another way
        ctx.uow.payments.reopen_order(row.order_id, row.id)
    repo = ctx.uow.risk
    repo.save_review(
        decision_id,
        review_status=outcome,
        reviewed_by=by,
        reviewed_at=ctx.now(),
        label=label,
        label_source=None if label is None else "review",
    )
    pipeline.record(ctx, row, seen, decision=decision_id)
    ctx.audit(
        f"risk.review_{outcome}",
        subject=decision_id,
        details={"payment": row.id, "note": note or ""},
    )
    pipeline.notify_merchant(ctx, row)
    closed = repo.decision(decision_id)
    assert closed is not None
    return Reviewed(closed, row)


def approve(ctx: Context, decision_id: str, note: str | None = None) -> Reviewed:
    """Release a held payment to its payee (less the merchant fee)."""
    operator = access.require_role(ctx, REVIEW_ROLE)
    return _close(ctx, decision_id, APPROVED, operator.id, note, "legit")


def decline(ctx: Context, decision_id: str, note: str | None = None) -> Reviewed:
    """Give the held money back to the payer; the payment fails."""
    operator = access.require_role(ctx, REVIEW_ROLE)
    return _close(ctx, decision_id, DECLINED, operator.id, note, "fraud")


def expire_overdue(ctx: Context, now: datetime | None = None) -> list[str]:
    """The job: decline every review past its deadline; the decision ids it closed. Each
    in a savepoint: one that fails (an analyst closed it meanwhile) is skipped and
    logged, and never holds the others back."""
    at = ctx.now() if now is None else now
    closed = []
    for decision_id in ctx.uow.risk.overdue_reviews(at):
        try:
            with ctx.uow.savepoint():  # its after-commit effects go if it fails
                _close(ctx, decision_id, EXPIRED, "system", "review timed out", None)
        except GuardpayError as exc:
            log.warning("review_timeout_skipped", decision=decision_id, code=exc.code)
            continue
        closed.append(decision_id)
    return closed


def pending(ctx: Context, limit: int, cursor: str | None) -> tuple[list[DecisionRow], str | None]:
    """The review queue, oldest first, and the next page's cursor."""
    access.require_role(ctx, "viewer")
    repo = ctx.uow.risk
    after = None if cursor is None else repo.decision(cursor)
    if cursor is not None and after is None:
        raise InvalidRequest("unknown cursor", code="invalid_cursor", param="cursor")
    rows = repo.reviews(PENDING, limit + 1, after)
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None
