"""Masked forms: the shapes the issue asks for, and nothing more of the value."""

from __future__ import annotations

from datetime import date

import pytest

from guardpay.domain.identity.cards import parse_card
from guardpay.domain.identity.documents import parse_document, parse_resident_id
from guardpay.domain.identity.masking import (
    mask_card,
    mask_card_last4,
    mask_id_number,
    mask_name,
    mask_phone,
)
from tests.domain.identity.numbers import card, resident_id


def test_phone() -> None:
    assert mask_phone("+8613812345678") == "138****5678"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+85261234567") == "********4567"  # not mainland: the last 4 only
    assert mask_phone("+1234") == "*****"  # too short to show anything


def test_card() -> None:
    assert mask_card("6222021234567891234") == "6222 **** **** 1234"
    assert mask_card("6225 8812 3456 7890") == "6225 **** **** 7890"
    assert mask_card("123") == "**** **** **** ****"
    assert mask_card_last4("1234") == "**** **** **** 1234"


def test_id_number() -> None:
    assert mask_id_number("310104200101010041") == "3101**********0041"
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    assert mask_id_number("USA318806120115") == "USA3*******0115"
    assert mask_id_number("E12345678") == "E1*****78"
    assert mask_id_number("1234") == "****"


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("李", "李"),
        ("买买提·艾力", "买**·**"),
        ("John Smith", "J*** Smith"),
        ("John Ronald Smith", "J*** R***** Smith"),
        ("Madonna", "M******"),
        ("Seán O'Brien", "S*** O'Brien"),
        ("", ""),
    ],
)
def test_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_values_holding_personal_data_mask_themselves_in_repr() -> None:
    pan, number = card("622202", 19), resident_id()
    today = date(2026, 11, 21)
    for value in (
        parse_card(pan),
        parse_document("resident_id", number, today),
        parse_resident_id(number, today),
    ):
        text = repr(value)
        assert pan not in text
        assert number not in text
        assert "****" in text
