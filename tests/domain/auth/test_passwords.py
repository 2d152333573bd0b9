"""Password policy: each rule with passwords people really choose, good and bad."""

from __future__ import annotations

from datetime import date

import pytest

from guardpay.domain.auth.passwords import (
    common_passwords,
    login_password_problem,
    payment_password_problem,
)

PHONE = "+8613812345678"


@pytest.mark.parametrize(
    "password",
    [
        "Tr1cky-Otter",  # 12 chars, 4 classes
        "jade7Heron",  # 10 chars, 3 classes
        "kettle lantern orchard",  # long passphrase, one class is fine
        "Blue#river8",
        "ALLUPPERcase",  # two classes, but 12 long
        "ЖёлтыйДом2024",  # non-Latin letters count as letters
        "Ｂlue#ｒiver8",  # full-width input normalises like the half-width one
    ],
)
def test_good_login_passwords_pass(password: str) -> None:
    assert login_password_problem(password, phone=PHONE) is None


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Ab1!xyz", "at least 8 characters"),
        ("", "at least 8 characters"),
        ("x" * 129, "at most 128 characters"),
        ("lowercase1", "three of"),  # two classes, under 12
        ("password", "three of"),
        ("Password1", "too common"),
        ("P@ssw0rd!", "too common"),  # leet spelling of a listed word
        ("Dragon2024!", "too common"),  # listed word with a suffix
        ("Woaini1314", "too common"),
        ("QWERTYUIOP", "three of"),
        ("qwertyuiop12", "too common"),
        ("Ab#13812345678", "phone number"),
        ("Ab#138-1234-5678", "phone number"),
        ("Zk#1234567Q", "phone number"),  # the last 7 digits of the phone, run of 6 inside
    ],
)
def test_weak_login_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    problem = login_password_problem(password, phone=PHONE)
    assert problem is not None
    assert reason in problem


def test_the_phone_rule_needs_a_phone() -> None:
    assert login_password_problem("Ab#13812345678") is None


def test_a_reason_never_repeats_the_password() -> None:
    for password in ("Password1", "Ab#13812345678", "short"):
        problem = login_password_problem(password, phone=PHONE)
        assert problem is not None
        assert password not in problem


def test_the_common_list_ships_with_a_few_hundred_entries() -> None:
    listed = common_passwords()
    assert len(listed) >= 300
    assert {"123456", "password", "iloveyou", "woaini1314", "qwerty123"} <= listed
    assert all(p == p.lower() and not p.startswith("#") for p in listed)


@pytest.mark.parametrize("pin", ["730194", "052846", "918273", "110922"])
def test_good_payment_passwords_pass(pin: str) -> None:
    assert payment_password_problem(pin, birth_date=date(1990, 5, 17)) is None


@pytest.mark.parametrize(
    ("pin", "reason"),
    [
        ("12345", "exactly 6 digits"),
        ("1234567", "exactly 6 digits"),
        ("12a456", "exactly 6 digits"),
        ("１２３４５６", "run"),  # full-width digits normalise to a run
        ("٣٤٥٦٧٨", "exactly 6 digits"),  # Arabic-Indic digits are not ASCII digits
        ("111111", "repeat"),
        ("000000", "repeat"),
        ("121212", "repeat"),
        ("123123", "repeat"),
        ("123456", "run"),
        ("654321", "run"),
        ("890123", "run"),
        ("345678", "run"),
        ("900517", "birth date"),  # yymmdd
        ("170590", "birth date"),  # ddmmyy
        ("051790", "birth date"),  # mmddyy
        ("199005", "birth date"),  # yyyymm
    ],
)
def test_weak_payment_passwords_are_refused(pin: str, reason: str) -> None:
    problem = payment_password_problem(pin, birth_date=date(1990, 5, 17))
    assert problem is not None
    assert reason in problem


def test_the_birth_date_rule_applies_only_when_known() -> None:
    assert payment_password_problem("900517") is None
