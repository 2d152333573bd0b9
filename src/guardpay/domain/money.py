"""Money: an `int` of minor units beside an ISO 4217 currency. Never a float.

A ledger number is the currency's ISO 4217 numeric code (CNY -> 156), so "one currency
per ledger" holds by construction. Amounts cross the wire as integers of minor units or
as decimal strings ("12.34"); parsing refuses anything that is not exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from guardpay.errors import InvalidRequest


class MoneyError(InvalidRequest, ValueError):
    """An amount or currency that cannot be represented exactly: bad input, a 400
    wherever it reaches an edge (it is also a ValueError, for the parsers that say so)."""

    code = "amount_invalid"
    param = "amount"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message, code=code, param=param or type(self).param)


class UnknownCurrency(MoneyError):
    """A currency code that is not ISO 4217 or that this platform does not hold."""

    code = "currency_unknown"
    param = "currency"


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    numeric: int
    exponent: int  # minor units per major unit = 10 ** exponent


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("CNY", 156, 2),
        Currency("USD", 840, 2),
        Currency("EUR", 978, 2),
        Currency("HKD", 344, 2),
        Currency("JPY", 392, 0),
        Currency("GBP", 826, 2),
        Currency("KWD", 414, 3),
    )
}
BY_LEDGER: dict[int, Currency] = {c.numeric: c for c in CURRENCIES.values()}
_DECIMAL = re.compile(r"^(-?)([0-9]+)(?:\.([0-9]+))?$")  # ASCII digits only


def currency(code: str) -> Currency:
    try:
        return CURRENCIES[code.upper()]
    except KeyError:
        known = ", ".join(CURRENCIES)
        raise UnknownCurrency(f"unknown currency {code[:8]!r}; known: {known}") from None


def currency_for_ledger(ledger: int) -> Currency:
    try:
        return BY_LEDGER[ledger]
    except KeyError:
        raise MoneyError(f"no currency for ledger {ledger}") from None


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:
            raise MoneyError("money amounts are integers of minor units")
        object.__setattr__(self, "currency", currency(self.currency).code)  # canonical code

    @classmethod
    def parse(cls, text: str, code: str) -> Money:
        """'12.34' CNY -> Money(1234, 'CNY'); more decimals than the currency has is an error."""
        cur = currency(code)
        m = _DECIMAL.match(text.strip())
        if m is None:
            raise MoneyError(f"{text!r} is not a decimal amount")
        sign, whole, frac = m.group(1), m.group(2), m.group(3) or ""
        if len(frac) > cur.exponent:
            raise MoneyError(f"{cur.code} has {cur.exponent} decimal places, got {text!r}")
        minor = int(whole) * 10**cur.exponent + int(frac.ljust(cur.exponent, "0") or "0")
        return cls(-minor if sign else minor, cur.code)

    def to_decimal_string(self) -> str:
        exp = currency(self.currency).exponent
        sign = "-" if self.amount < 0 else ""
        whole, frac = divmod(abs(self.amount), 10**exp)
        return f"{sign}{whole}.{frac:0{exp}d}" if exp else f"{sign}{whole}"

    def __str__(self) -> str:
        return f"{self.to_decimal_string()} {self.currency}"
