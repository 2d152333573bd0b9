"""Money: integers of minor units beside an ISO 4217 currency; parsing is exact or refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardpay.domain.money import (
    BY_LEDGER,
    CURRENCIES,
    Currency,
    Money,
    MoneyError,
    currency,
    currency_for_ledger,
)


def test_a_currency_is_found_by_code_in_any_case() -> None:
    assert currency("CNY") == Currency("CNY", 156, 2)
    assert currency("cny") is CURRENCIES["CNY"]
    assert currency("jpy").exponent == 0
    assert currency("KWD").exponent == 3


def test_an_unknown_currency_is_refused() -> None:
    with pytest.raises(MoneyError, match="unknown currency 'XXX'"):
        currency("XXX")


def test_a_ledger_number_is_the_iso_numeric_code() -> None:
    assert currency_for_ledger(156).code == "CNY"
    assert currency_for_ledger(840).code == "USD"
    assert all(BY_LEDGER[c.numeric] is c for c in CURRENCIES.values())
    with pytest.raises(MoneyError, match="no currency for ledger 999"):
        currency_for_ledger(999)


def test_money_is_an_integer_of_minor_units() -> None:
    assert Money(1_234, "CNY").amount == 1_234
    with pytest.raises(MoneyError, match="integers"):
        Money(12.34, "CNY")  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="integers"):
        Money(True, "CNY")
    with pytest.raises(MoneyError, match="unknown currency"):
        Money(100, "ABC")


@pytest.mark.parametrize(
    ("text", "code", "fen"),
    [
        ("12.34", "CNY", 1_234),
        ("12.3", "CNY", 1_230),
        ("12", "CNY", 1_200),
        ("0.01", "CNY", 1),
        ("  7.50 ", "USD", 750),
        ("-0.05", "CNY", -5),
        ("-12", "EUR", -1_200),
        ("0", "CNY", 0),
        ("1500", "JPY", 1_500),
        ("1.234", "KWD", 1_234),
        ("0.5", "kwd", 500),
        ("92233720368547758.07", "CNY", 2**63 - 1),
    ],
)
def test_parsing_a_decimal_amount(text: str, code: str, fen: int) -> None:
    m = Money.parse(text, code)
    assert m == Money(fen, code.upper())


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("12.345", "CNY", "CNY has 2 decimal places"),
        ("1.5", "JPY", "JPY has 0 decimal places"),
        ("12.", "CNY", "not a decimal amount"),
        (".5", "CNY", "not a decimal amount"),
        ("+5", "CNY", "not a decimal amount"),
        ("1e3", "CNY", "not a decimal amount"),
        ("1,000.00", "CNY", "not a decimal amount"),
        ("--1", "CNY", "not a decimal amount"),
        ("", "CNY", "not a decimal amount"),
        ("abc", "CNY", "not a decimal amount"),
        ("12.34", "XYZ", "unknown currency"),
    ],
)
def test_parsing_refuses_anything_inexact(text: str, code: str, message: str) -> None:
    with pytest.raises(MoneyError, match=message):
        Money.parse(text, code)


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1_234, "CNY"), "12.34"),
        (Money(5, "CNY"), "0.05"),
        (Money(-5, "CNY"), "-0.05"),
        (Money(-1_200, "USD"), "-12.00"),
        (Money(0, "CNY"), "0.00"),
        (Money(1_500, "JPY"), "1500"),
        (Money(-7, "JPY"), "-7"),
        (Money(1_234, "KWD"), "1.234"),
    ],
)
def test_a_decimal_string_shows_every_minor_digit(money: Money, text: str) -> None:
    assert money.to_decimal_string() == text
    assert str(money) == f"{text} {money.currency}"


@given(amount=st.integers(-(2**70), 2**70), code=st.sampled_from(sorted(CURRENCIES)))
def test_a_decimal_string_parses_back_to_the_same_money(amount: int, code: str) -> None:
    money = Money(amount, code)
    assert Money.parse(money.to_decimal_string(), code) == money


@given(
    whole=st.integers(0, 10**12),
    frac=st.text(alphabet="0123456789", min_size=0, max_size=2),
    negative=st.booleans(),
)
def test_a_parsed_amount_is_whole_times_100_plus_the_fen(
    whole: int, frac: str, negative: bool
) -> None:
    text = f"{'-' if negative else ''}{whole}{'.' + frac if frac else ''}"
    fen = whole * 100 + int(frac.ljust(2, "0") or "0")
    assert Money.parse(text, "CNY").amount == (-fen if negative else fen)
