"""The checksum functions agree with the standards' own examples and with independent code."""

from __future__ import annotations

import pytest

from guardpay.domain.identity.checksums import (
    gb11643_check_char,
    gb32100_check_char,
    luhn_check_digit,
    luhn_valid,
)
from tests.domain.identity.numbers import iso7064_mod11_2, luhn_complete, uscc


@pytest.mark.parametrize(
    "number",
    # the examples printed in GB 11643-1999 itself
    ["11010519491231002X", "440524188001010014"],
)
def test_gb11643_matches_the_standard_examples(number: str) -> None:
    assert gb11643_check_char(number[:17]) == number[17]


@pytest.mark.parametrize("body", ["11010519900307123", "31010420010101005", "65010219751129888"])
def test_gb11643_matches_the_recursive_algorithm(body: str) -> None:
    assert gb11643_check_char(body) == iso7064_mod11_2(body)


def test_gb11643_needs_17_digits() -> None:
    for bad in ("1101051990030712", "1101051990030712A", "１１０１０５１９９００３０７１２３"):
        with pytest.raises(ValueError, match="17 digits"):
            gb11643_check_char(bad)


def test_gb32100_matches_a_published_example_and_independent_code() -> None:
    assert gb32100_check_char("91350100M000100Y4") == "3"  # the example in GB 32100
    for body in ("91110108MA01ABCD1", "12100000400000624", "Y1440300MA5ABCDE2"):
        assert uscc(body)[-1] == gb32100_check_char(body)
    with pytest.raises(ValueError, match="alphabet"):
        gb32100_check_char("91110108MA01ABCDI")  # I is not in the alphabet


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")  # the textbook example
    assert not luhn_valid("79927398710")
    assert not luhn_valid("")
    assert not luhn_valid("4111 1111 1111 1111")
    assert not luhn_valid("٤١١١١١١١١١١١١١١١")  # Arabic-Indic digits are not card digits
    for payload in ("622202000000000001", "6228480402564890", "62258800000001"):
        assert luhn_check_digit(payload) == luhn_complete(payload)[-1]
