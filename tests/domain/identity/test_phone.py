"""Mainland mobile numbers: every accepted spelling gives one E.164 form."""

from __future__ import annotations

import pytest

from guardpay.domain.identity.phone import national_number, normalize_phone, unmasked
from guardpay.errors import InvalidRequest


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 13800138000",
        "+86 138 0013 8000",
        "+86-138-0013-8000",
        "8613800138000",
        "008613800138000",
        "(+86) 138 0013 8000",
        "１３８００１３８０００",  # full-width, as typed on some Chinese keyboards
    ],
)
def test_spellings_of_one_number(raw: str) -> None:
    assert normalize_phone(raw) == "+8613800138000"


@pytest.mark.parametrize("second", "3456789")
def test_every_allocated_second_digit(second: str) -> None:
    assert normalize_phone(f"1{second}912345678") == f"+861{second}912345678"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "12800138000",  # 12x is not a mobile range
        "10086",  # a service number
        "1380013800",  # 10 digits
        "138001380000",  # 12 digits
        "+85261234567",  # Hong Kong
        "+1 415 555 2671",  # not mainland
        "021-64371234",  # a Shanghai landline
        "1380013800O",  # a letter O for a zero
        "86 1380013800",  # the 86 prefix with 10 digits left
    ],
)
def test_not_mainland_mobiles(bad: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        normalize_phone(bad)
    assert (refused.value.code, refused.value.param) == ("invalid_phone_number", "phone")
    if len(bad) > 6:
        assert bad not in refused.value.message


def test_param_names_the_field() -> None:
    with pytest.raises(InvalidRequest) as refused:
        normalize_phone("123", param="reserved_phone")
    assert refused.value.param == "reserved_phone"
    assert national_number("+8613800138000") == "13800138000"


def test_a_masked_number_is_every_number_it_can_be() -> None:
    found = unmasked("138****5678")
    assert len(found) == len(set(found)) == 10_000
    assert "+8613812345678" in found
    assert all(n.startswith("+86138") and n.endswith("5678") for n in found)
    assert unmasked("+86 138 **** 5678") == found
    assert unmasked("128****5678") == []  # no mobile number starts 12


@pytest.mark.parametrize(
    "pattern",
    ["13812345678", "1**12345678", "138*****678", "138****567", "138****567x", "", "1*8****5678"],
)
def test_only_the_screens_mask_is_a_masked_number(pattern: str) -> None:
    """Another mask would uncover a number digit by digit (1380***5678, 1381***5678, ...)."""
    with pytest.raises(InvalidRequest) as refused:
        unmasked(pattern)
    assert refused.value.code == "invalid_phone_number"
