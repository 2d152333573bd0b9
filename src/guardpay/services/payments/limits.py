"""Limits a balance payment must respect, and what is left of them for the user.

Two sets apply at once (domain/identity/classes.py, domain/payments/limits.py): the
account-class limits, counted over every account verified as the same person, and the
daily QR limits by authentication strength, counted per paying account. Both count
succeeded payments and those held for a risk review. The payer's user row is locked
first (`lock_payer`), so two concurrent payments of one payer are checked one after the
other and cannot both slip under a limit that only one of them fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from guardpay.domain.identity.classes import AccountClass, remaining_allowance
from guardpay.domain.money import Money
from guardpay.domain.payments import limits as qr
from guardpay.domain.payments.limits import DEFAULT, DaySpend, PaymentSettings
from guardpay.errors import InvalidRequest, LimitExceeded, PermissionDenied
from guardpay.services.identity import facade as identity
from guardpay.services.platform.context import Context


@dataclass(frozen=True)
class Allowance:
    """What the user may still pay today, in minor units of `currency`."""

    currency: str
    account_class: AccountClass
    can_pay: bool
    balance_payments: int  # the account-class allowance
    static_qr: int  # today, static merchant codes
    dynamic_qr_one_factor: int  # today, dynamic codes with fewer than two factors
    dynamic_qr_two_factors: int  # today, dynamic codes with two or more factors


def lock_payer(ctx: Context, user_id: str) -> identity.Standing:
    """Lock the payer's row for this unit of work and refuse one that cannot pay."""
    ctx.uow.identity.user(user_id, for_update=True)
    standing = identity.account_standing(ctx, user_id)
    if not standing.can_pay:
        raise PermissionDenied(
            "verify your identity before paying from your balance",
            code="account_not_verified",
        )
    return standing


def spend_window(
    now: datetime, settings: PaymentSettings = DEFAULT
) -> tuple[datetime, datetime, list[str], tuple[str, ...]]:
    """What the limits' sums count from (`PaymentRepository.spend_totals`): the year's
    and the day's start, the static QR kinds and the dynamic ones. A batch reads the
    sums ahead with the same window (services/payments/batch.py)."""
    return qr.year_start(now, settings), qr.day_start(now, settings), [qr.QR_STATIC], qr.DYNAMIC


def _spending(
    ctx: Context, standing: identity.Standing, settings: PaymentSettings
) -> tuple[int, DaySpend]:
    """(what the account class still allows, today's QR spending), in one query."""
    total, this_year, static, weak, dynamic = ctx.uow.payments.spend_totals(
        standing.person_accounts, standing.user_id, *spend_window(ctx.now(), settings)
    )
    left = remaining_allowance(standing.account_class, total, this_year)
    return left, DaySpend(static=static, dynamic_weak=weak, dynamic_all=dynamic)


def _refuse(left: int, currency: str, what: str) -> LimitExceeded:
    shown = Money(left, currency).to_decimal_string()
    return LimitExceeded(
        f"this payment is over the {what} limit; {shown} {currency} remaining", param="amount"
    )


def check_limits(
    ctx: Context,
    standing: identity.Standing,
    kind: str,
    amount: Money,
    factors: int,
    settings: PaymentSettings = DEFAULT,
) -> None:
    """`limit_exceeded` with the remaining allowance. A currency the limits are not set
    in is refused (`currency_not_supported`): paying in it would escape the account
    class caps, which the regulation sets in yuan."""
    if amount.currency != settings.currency:
        raise InvalidRequest(
            f"payments in {amount.currency} are not enabled: account limits are set in "
            f"{settings.currency}",
            code="currency_not_supported",
            param="currency",
        )
    left, spend = _spending(ctx, standing, settings)
    if amount.amount > left:
        raise _refuse(left, amount.currency, f"Class {standing.account_class.value} account")
    qr_left = qr.qr_remaining(kind, factors, spend, settings)
    if qr_left is not None and amount.amount > qr_left:
        raise _refuse(qr_left, amount.currency, "daily QR payment")


def allowance(ctx: Context, user_id: str, settings: PaymentSettings = DEFAULT) -> Allowance:
    standing = identity.account_standing(ctx, user_id)
    cls_left, spend = _spending(ctx, standing, settings)
    cls_left = cls_left if standing.can_pay else 0

    def capped(kind: str, factors: int) -> int:
        return min(cls_left, qr.qr_remaining(kind, factors, spend, settings) or 0)

    return Allowance(
        settings.currency,
        standing.account_class,
        standing.can_pay,
        cls_left,
        capped(qr.QR_STATIC, 1),
        capped(qr.QR_ORDER, 1),
        capped(qr.QR_ORDER, 2),
    )
