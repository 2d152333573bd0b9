"""QR payment limits by authentication strength (PBOC 2017 No. 296, art. 10).

Per payer and calendar day, in the platform's limit currency (CNY by default):
- static merchant code: at most ¥500 a day, however strongly the payer authenticated;
- dynamic code (order QR, payment code) with fewer than two factors: ¥1,000 a day;
- dynamic code with two or more factors (no digital certificate): ¥5,000 a day, counting
  all the day's dynamic payments.
A factor is the payment password (knowledge) or a passed step-up (possession: a trusted
device's signature, an SMS or TOTP code). P2P transfers are not QR payments: only the
account-class limits (domain/identity/classes.py) apply to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from guardpay.domain.payments.fees import DEFAULT_RATE

P2P = "p2p"
QR_STATIC = "qr_static"
QR_ORDER = "qr_order"
PAYMENT_CODE = "payment_code"
DYNAMIC = (QR_ORDER, PAYMENT_CODE)
KINDS = (P2P, QR_STATIC, QR_ORDER, PAYMENT_CODE)


@dataclass(frozen=True)
class PaymentSettings:
    currency: str = "CNY"
    static_per_day: int = 500_00
    dynamic_weak_per_day: int = 1_000_00
    dynamic_strong_per_day: int = 5_000_00
    fee_rate: Decimal = DEFAULT_RATE
    day_utc_offset_hours: int = 8  # limits count Beijing calendar days
    order_ttl: timedelta = timedelta(minutes=15)


DEFAULT = PaymentSettings()


@dataclass(frozen=True)
class DaySpend:
    """Today's succeeded QR payments of one payer, in minor units."""

    static: int = 0
    dynamic_weak: int = 0  # dynamic payments made with fewer than two factors
    dynamic_all: int = 0


def day_start(now: datetime, settings: PaymentSettings = DEFAULT) -> datetime:
    """Midnight of the limits' calendar day containing `now`, as a UTC instant."""
    zone = timezone(timedelta(hours=settings.day_utc_offset_hours))
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def qr_remaining(
    kind: str, factors: int, spent: DaySpend, settings: PaymentSettings = DEFAULT
) -> int | None:
    """How much more this kind of payment may take today; None: no QR limit applies."""
    if kind == QR_STATIC:
        return max(0, settings.static_per_day - spent.static)
    if kind not in DYNAMIC:
        return None
    strong = max(0, settings.dynamic_strong_per_day - spent.dynamic_all)
    if factors >= 2:
        return strong
    return min(strong, max(0, settings.dynamic_weak_per_day - spent.dynamic_weak))


def year_start(now: datetime, settings: PaymentSettings = DEFAULT) -> datetime:
    """1 January of the limits' calendar year containing `now`, as a UTC instant (the
    Class II and III limits count per year)."""
    zone = timezone(timedelta(hours=settings.day_utc_offset_hours))
    local = now.astimezone(zone)
    return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
