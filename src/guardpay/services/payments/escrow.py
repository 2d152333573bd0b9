"""Escrow (guarantee trade): the buyer's money waits in a holding account until the
buyer has the goods, then goes to the merchant minus the merchant fee.

Money: paying moves the amount from the buyer's wallet to the trade's own ESCROW
holding account (one per trade, so "settled" is simply "its holding account is at
zero"). Release moves it out to the merchant's settlement account less the fee, the fee
to fee revenue, as linked legs (both or neither). A refund before release returns the
whole amount to the buyer and takes no fee, since the merchant earned nothing.

Authentication and limits are a payment's: the buyer shows the payment password and/or
a passed step-up; paying is recorded as a succeeded `payments` row of kind `escrow` paid
to the trade (not to the merchant, so the merchant refund flow never applies to it),
checked by `check_limits` first so it counts against the account-class allowance.

Every transition locks the trade row first, goes through the pure state machine
(domain/payments/escrow.py), moves money, saves, audits and queues the merchant's
webhook in one unit of work. A dispute freezes the trade until a supervisor resolves it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from guardpay.domain.auth.roles import Role
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.ids import new_transfer_id
from guardpay.domain.money import Money, currency
from guardpay.domain.payments import escrow as machine
from guardpay.domain.payments.escrow import Action, EscrowStatus
from guardpay.domain.payments.fees import merchant_fee
from guardpay.domain.payments.limits import DEFAULT, PaymentSettings
from guardpay.domain.payments.postings import escrow as postings
from guardpay.errors import InvalidRequest, NotFound
from guardpay.services.ledger import wallets
from guardpay.services.payments import pipeline
from guardpay.services.payments import qr as payments_qr
from guardpay.services.payments.pipeline import Authorization
from guardpay.services.platform import access
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import new_id
from guardpay.services.risk.screening import Subject
from guardpay.storage.escrow import TradeRow

KIND = "escrow"


@dataclass(frozen=True)
class NewTrade:
    """What the buyer asks for: pay `amount` to `merchant_id`, held until delivery."""

    merchant_id: str
    amount: Money
    description: str | None = None


def holding(ctx: Context, trade_id: str, currency_code: str) -> int:
    """The trade's own holding account (opened on first use)."""
    return wallets.wallet(ctx, KIND, trade_id, currency_code, AccountCode.ESCROW)


def pay_into_escrow(
    ctx: Context,
    buyer_id: str,
    new: NewTrade,
    given: Authorization,
    settings: PaymentSettings = DEFAULT,
) -> TradeRow:
    """Authenticate the buyer, check limits and risk, and move the amount into holding
    (every step in `pipeline.debit`)."""
    if new.amount.amount <= 0:
        raise InvalidRequest("an amount is a positive number of minor units", param="amount")
    payments_qr.active_merchant(ctx, new.merchant_id)
    trade_id, now, cur = new_id("esc"), ctx.now(), new.amount.currency
    payee = ("merchant", new.merchant_id)
    risk = Subject("payment", KIND, new.amount.amount, cur, payee)
    debit = pipeline.Debit(pipeline.ESCROW, buyer_id, (KIND, trade_id), new.amount, given, risk)
    pay = pipeline.debit(ctx, debit, settings)
    row = TradeRow(
        trade_id,
        buyer_id,
        new.merchant_id,
        pay.id,
        new.amount.amount,
        cur,
        0,
        new.description,
        EscrowStatus.HELD.value,
        None,
        None,
        None,
        None,
        None,
        now,
        now,
    )
    ctx.uow.escrow.insert(row)
    legs = postings.hold(
        buyer=wallets.wallet(ctx, "user", buyer_id, cur),
        holding=holding(ctx, trade_id, cur),
        amount=row.amount,
        ledger=currency(cur).numeric,
        transfer_id=new_transfer_id(),
    )
    pipeline.move(ctx, pipeline.ESCROW, legs)
    _record(ctx, row, "escrow.held", {"factors": pay.factors, "payment": pay.id})
    return row


def _record(ctx: Context, row: TradeRow, event: str, extra: dict[str, object]) -> None:
    """Audit the transition and tell the merchant, both in this transaction, so the
    merchant hears of exactly the transitions that committed."""
    details: dict[str, object] = {
        "buyer": row.buyer_id,
        "merchant": row.merchant_id,
        "amount": row.amount,
        "currency": row.currency,
        "fee": row.fee,
        "status": row.status,
        **extra,
    }
    ctx.audit(event, subject=row.id, details=details)
    if event in ("escrow.shipped", "escrow.confirmed"):
        return  # the merchant shipped it themselves; a confirm is told by escrow.released
    payload = {
        "escrow_id": row.id,
        "status": row.status,
        "amount": row.amount,
        "currency": row.currency,
        "fee": row.fee,
    }
    pipeline.notify(ctx, row.merchant_id, event, payload)


def _locked(ctx: Context, trade_id: str, buyer_id: str | None = None) -> TradeRow:
    """The trade under its row lock; a buyer only ever sees their own (else 404)."""
    row = ctx.uow.escrow.trade(trade_id, lock=True)
    if row is None or buyer_id not in (None, row.buyer_id):
        raise NotFound("no such escrow trade", code="escrow_not_found", param="escrow_id")
    return row


def _moved(ctx: Context, row: TradeRow, action: Action, **changes: object) -> TradeRow:
    """Apply the state machine's verdict and save; refusals raise before any write."""
    target = machine.step(EscrowStatus(row.status), action)
    new = replace(row, status=target.value, updated_at=ctx.now(), **changes)  # type: ignore[arg-type]
    if target in machine.FINAL:
        new = replace(new, closed_at=ctx.now())
    ctx.uow.escrow.save(new)
    return new


def mark_shipped(ctx: Context, trade_id: str) -> TradeRow:
    """The merchant says the goods left; the auto-confirm countdown starts now."""
    row = _moved(ctx, _locked(ctx, trade_id), Action.SHIP, shipped_at=ctx.now())
    _record(ctx, row, "escrow.shipped", {})
    return row


def _release(
    ctx: Context, row: TradeRow, action: Action, settings: PaymentSettings, extra: dict[str, object]
) -> TradeRow:
    """Holding -> merchant settlement (net) and holding -> fee revenue, linked."""
    fee = merchant_fee(row.amount, settings.fee_rate)
    row = _moved(ctx, row, action, fee=fee)
    cur, source = row.currency, holding(ctx, row.id, row.currency)
    settlement = AccountCode.MERCHANT_SETTLEMENT
    merchant = wallets.wallet(ctx, "merchant", row.merchant_id, cur, settlement)
    fees = 0  # no fee: fee revenue is not touched (nor opened)
    if fee:
        fees = wallets.open_platform_accounts(ctx, cur)[AccountCode.FEE_REVENUE]
    legs = postings.release(
        holding=source,
        settlement=merchant,
        fee_revenue=fees,
        amount=row.amount,
        fee=fee,
        ledger=currency(cur).numeric,
        release_id=new_transfer_id(),
        fee_id=new_transfer_id(),
    )
    pipeline.move(ctx, pipeline.ESCROW, legs)
    _record(ctx, row, "escrow.released", extra)
    return row


def _refund(
    ctx: Context, row: TradeRow, action: Action, extra: dict[str, object], **changes: object
) -> TradeRow:
    """The whole amount back to the buyer's wallet; no fee, nothing was earned."""
    row = _moved(ctx, row, action, **changes)
    cur = row.currency
    buyer = wallets.wallet(ctx, "user", row.buyer_id, cur)
    legs = postings.refund(
        holding=holding(ctx, row.id, cur),
        buyer=buyer,
        amount=row.amount,
        ledger=currency(cur).numeric,
        transfer_id=new_transfer_id(),
    )
    pipeline.move(ctx, pipeline.ESCROW, legs)
    _record(ctx, row, "escrow.refunded", extra)
    return row


def confirm_receipt(
    ctx: Context, buyer_id: str, trade_id: str, settings: PaymentSettings = DEFAULT
) -> TradeRow:
    """The buyer has the goods: release to the merchant."""
    row = _locked(ctx, trade_id, buyer_id)
    return _release(ctx, row, Action.CONFIRM, settings, {"by": "buyer"})


def refund(ctx: Context, trade_id: str, reason: str | None = None) -> TradeRow:
    """The merchant (or platform) gives up the trade before release."""
    return _refund(ctx, _locked(ctx, trade_id), Action.REFUND, {"reason": reason})


def open_dispute(ctx: Context, buyer_id: str, trade_id: str, reason: str) -> TradeRow:
    """The buyer objects: freeze the trade until a supervisor resolves it."""
    row = _moved(ctx, _locked(ctx, trade_id, buyer_id), Action.DISPUTE, dispute_reason=reason)
    _record(ctx, row, "escrow.disputed", {"reason": reason})
    return row


def resolve_dispute(
    ctx: Context, trade_id: str, outcome: str, reason: str, settings: PaymentSettings = DEFAULT
) -> TradeRow:
    """A supervisor decides a dispute: release to the merchant or refund the buyer."""
    operator = access.require_role(ctx, Role.SUPERVISOR)
    if outcome not in ("release", "refund"):
        raise InvalidRequest("outcome is release or refund", param="outcome")
    if not reason.strip():
        raise InvalidRequest("a resolution needs a reason", param="reason")
    row = _locked(ctx, trade_id)
    extra: dict[str, object] = {"operator": operator.id, "reason": reason, "outcome": outcome}
    row = replace(row, resolved_by=operator.id, resolution_reason=reason)
    if outcome == "release":
        row = _release(ctx, row, Action.RESOLVE_RELEASE, settings, extra)
    else:
        row = _refund(ctx, row, Action.RESOLVE_REFUND, extra)
    ctx.audit("escrow.resolved", subject=trade_id, details=extra)
    return row


def auto_confirm_due(
    ctx: Context,
    now: datetime | None = None,
    days: int = machine.DEFAULT_AUTO_CONFIRM_DAYS,
    settings: PaymentSettings = DEFAULT,
) -> list[str]:
    """The job: release every trade shipped more than `days` ago; the ids it released.
    Each candidate is re-checked under its lock, so one disputed meanwhile is skipped."""
    at = ctx.now() if now is None else now
    done = []
    for trade_id in ctx.uow.escrow.shipped_before(at - timedelta(days=days)):
        row = _locked(ctx, trade_id)
        if machine.auto_confirm_due(EscrowStatus(row.status), row.shipped_at, at, days):
            _release(ctx, row, Action.CONFIRM, settings, {"by": "auto_confirm", "days": days})
            done.append(trade_id)
    return done


def get_trade(ctx: Context, trade_id: str, buyer_id: str | None = None) -> TradeRow:
    """A trade; a buyer sees only their own, an operator (buyer_id None) any."""
    row = ctx.uow.escrow.trade(trade_id)
    if row is None or buyer_id not in (None, row.buyer_id):
        raise NotFound("no such escrow trade", code="escrow_not_found", param="escrow_id")
    return row
