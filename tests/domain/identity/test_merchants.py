"""Merchants: unified social credit codes, MCCs, names and the sub-merchant level."""

from __future__ import annotations

import pytest

from guardpay.domain.identity.merchants import (
    ParentMerchant,
    check_mcc,
    check_parent,
    normalize_label,
    normalize_registration_number,
    payment_descriptor,
)
from guardpay.errors import InvalidRequest
from tests.domain.identity.numbers import uscc, wrong_check


@pytest.mark.parametrize(
    "body",
    [
        "91350100M000100Y4",  # the standard's example (a company in Fuzhou)
        "91110108MA01ABCD1",  # a company in Beijing Haidian
        "92440300MA5ABCDE2",  # an individual business (category 2) in Shenzhen
        "12100000400000624",  # a public institution (authority 1)
        "Y1310000MA1FL0000",  # another registration authority
    ],
)
def test_valid_codes(body: str) -> None:
    code = uscc(body)
    assert normalize_registration_number(code) == code
    assert normalize_registration_number(f" {code.lower()[:9]} {code.lower()[9:]}") == code


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("", "18"),
        ("91350100M000100Y4", "18"),  # 17 characters
        ("91350100M000100Y433", "18"),
        ("91350100M000100I43", "18"),  # I is not used
        ("91350100M000100O43", "18"),
        ("B1350100M000100Y43", "malformed"),  # B is no registration authority
        ("913501A0M000100Y43", "malformed"),  # the region is digits
        ("91990100M0001000Y4", "region"),
    ],
)
def test_malformed_codes(bad: str, why: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        normalize_registration_number(bad)
    assert refused.value.code == "invalid_registration_number"
    assert refused.value.param == "registration_number"
    assert why in refused.value.message


def test_a_wrong_check_character() -> None:
    code = uscc("91110108MA01ABCD1")
    with pytest.raises(InvalidRequest, match="check character") as refused:
        normalize_registration_number(wrong_check(code))
    assert refused.value.code == "invalid_registration_number"


def test_mcc() -> None:
    assert check_mcc("5411") == "5411"  # grocery stores
    assert check_mcc(" 5812 ") == "5812"
    for bad in ("541", "54111", "54a1", "", "５４１１"):
        with pytest.raises(InvalidRequest) as refused:
            check_mcc(bad)
        assert (refused.value.code, refused.value.param) == ("invalid_mcc", "mcc")
    with pytest.raises(InvalidRequest) as refused:
        check_mcc("7995")
    assert refused.value.code == "mcc_not_allowed"


def test_labels() -> None:
    assert (
        normalize_label(
            "  Lucky  Noodles ", param="display_name", max_len=32, code="invalid_merchant_name"
        )
        == "Lucky Noodles"
    )
    for bad in ("", "x" * 33, "tab\x07bell"):
        with pytest.raises(InvalidRequest) as refused:
            normalize_label(bad, param="display_name", max_len=32, code="invalid_merchant_name")
        assert (refused.value.code, refused.value.param) == (
            "invalid_merchant_name",
            "display_name",
        )


def test_sub_merchants_have_one_level() -> None:
    check_parent(ParentMerchant("active", None))
    for parent in (ParentMerchant("active", "mer_parent"), ParentMerchant("suspended", None)):
        with pytest.raises(InvalidRequest) as refused:
            check_parent(parent)
        assert (refused.value.code, refused.value.param) == ("invalid_parent_merchant", "parent_id")


def test_the_payer_sees_the_sub_merchant() -> None:
    assert payment_descriptor("Lucky Noodles", None) == "Lucky Noodles"
    assert payment_descriptor("Lucky Noodles", "FoodMall") == "FoodMall-Lucky Noodles"
    assert len(payment_descriptor("x" * 32, "y" * 32)) == 64
