"""Bank cards: Luhn, issuer lookup by BIN, lengths, and the credit-card security fields."""

from __future__ import annotations

from datetime import date

import pytest

from guardpay.domain.identity.cards import (
    BIN_TABLE,
    CardType,
    card_security,
    parse_card,
    parse_expiry,
    scheme_of,
)
from guardpay.errors import InvalidRequest
from tests.domain.identity.numbers import card

TODAY = date(2026, 11, 21)


@pytest.mark.parametrize(
    ("prefix", "length", "bank", "card_type"),
    [
        ("622202", 19, "ICBC", "debit"),
        ("622848", 19, "ABC", "debit"),
        ("621700", 19, "CCB", "debit"),
        ("436742", 19, "CCB", "debit"),
        ("622700", 19, "CCB", "debit"),
        ("622588", 16, "CMB", "debit"),
        ("622588", 17, "CMB", "debit"),
        ("625802", 16, "CMB", "credit"),
        ("601382", 19, "BOC", "debit"),
        ("622262", 19, "BOCOM", "debit"),  # 6222.. but not ICBC
        ("622188", 19, "PSBC", "debit"),
        ("628288", 16, "ICBC", "credit"),
    ],
)
def test_known_issuers(prefix: str, length: int, bank: str, card_type: str) -> None:
    pan = card(prefix, length)
    parsed = parse_card(pan)
    assert (parsed.bank_code, parsed.card_type.value) == (bank, card_type)
    assert (parsed.bin, parsed.last4, parsed.pan) == (pan[:6], pan[-4:], pan)
    assert parsed.scheme == ("visa" if prefix.startswith("4") else "unionpay")


def test_spaces_and_dashes_are_allowed() -> None:
    pan = card("622202", 19)
    spaced = f"{pan[:4]} {pan[4:8]} {pan[8:12]} {pan[12:16]} {pan[16:]}"
    assert parse_card(spaced).pan == pan
    assert parse_card(pan[:8] + "-" + pan[8:]).pan == pan


def test_a_luhn_invalid_card_is_refused() -> None:
    pan = card("622202", 19)
    broken = pan[:-1] + str((int(pan[-1]) + 1) % 10)
    with pytest.raises(InvalidRequest) as refused:
        parse_card(broken)
    assert (refused.value.code, refused.value.param) == ("invalid_card_number", "card_number")
    assert broken not in refused.value.message
    assert "check digit" in refused.value.message


@pytest.mark.parametrize(
    "bad", ["", "62220212345", "62220212345678901234", "6222 0212 3456 789X", "四一一一"]
)
def test_malformed_numbers(bad: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_card(bad)
    assert refused.value.code == "invalid_card_number"


def test_unknown_issuers_are_unsupported() -> None:
    for pan, scheme in (
        ("4111111111111111", "visa"),  # a test Visa card, not a Chinese issuer we list
        (card("623456", 19), "unionpay"),
        (card("5500", 16), "mastercard"),
        (card("3530", 16), "jcb"),
    ):
        with pytest.raises(InvalidRequest) as refused:
            parse_card(pan)
        assert refused.value.code == "unsupported_card_bin"
        assert scheme in refused.value.message


def test_wrong_length_for_the_issuer() -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_card(card("622202", 16))  # ICBC debit cards have 19 digits
    assert refused.value.code == "invalid_card_number"


def test_the_table_is_consistent() -> None:
    prefixes = [r.prefix for r in BIN_TABLE]
    assert len(prefixes) == len(set(prefixes))
    assert all(len(p) == 6 and p.isdigit() for p in prefixes)
    assert {r.card_type for r in BIN_TABLE} == {CardType.DEBIT, CardType.CREDIT}


def test_schemes_by_range() -> None:
    assert scheme_of("6011000000000004") == "other"  # Discover, not UnionPay
    assert scheme_of("2221000000000009") == "mastercard"
    assert scheme_of("378282246310005") == "amex"


def test_expiry() -> None:
    assert parse_expiry("12/28", TODAY) == (12, 2028)
    assert parse_expiry("1128", TODAY) == (11, 2028)
    assert parse_expiry("11/2026", TODAY) == (11, 2026)  # valid through its month
    for bad, code in (
        ("13/28", "invalid_expiry"),
        ("1/28", "invalid_expiry"),
        ("10/26", "expired_card"),
        ("12/2025", "expired_card"),
    ):
        with pytest.raises(InvalidRequest) as refused:
            parse_expiry(bad, TODAY)
        assert (refused.value.code, refused.value.param) == (code, "expiry")


def test_credit_cards_need_cvv2_and_expiry_debit_cards_do_not() -> None:
    security = card_security(CardType.CREDIT, "123", "12/28", TODAY)
    assert security is not None
    assert (security.cvv2, security.expiry_month, security.expiry_year) == ("123", 12, 2028)
    assert "123" not in repr(security)
    assert card_security(CardType.DEBIT, "123", "12/28", TODAY) is None
    for cvv2, expiry, code in (
        (None, "12/28", "cvv2_required"),
        ("123", None, "expiry_required"),
        ("12", "12/28", "invalid_cvv2"),
        ("1234", "12/28", "invalid_cvv2"),
        ("12a", "12/28", "invalid_cvv2"),
    ):
        with pytest.raises(InvalidRequest) as refused:
            card_security(CardType.CREDIT, cvv2, expiry, TODAY)
        assert refused.value.code == code
