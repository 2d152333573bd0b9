"""The one hierarchy of errors: specific classes with their own stable codes, HTTP statuses
assigned in api/errors.py alone, no code that branches on code strings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from guardpay import errors
from guardpay.api.errors import STATUS, status_of
from guardpay.domain.money import MoneyError, UnknownCurrency
from guardpay.errors import (
    DataErased,
    GuardpayError,
    InsufficientFunds,
    LimitExceeded,
    OperatorsExist,
    RefundExceedsPayment,
    RequestDenied,
    RiskDenied,
    StepUpRequired,
    VerificationUnavailable,
    from_code,
)
from guardpay.ml.artifacts import ModelUnavailable

SRC = Path(errors.__file__).parent


def _classes(cls: type[GuardpayError]) -> list[type[GuardpayError]]:
    return [cls, *(c for sub in cls.__subclasses__() for c in _classes(sub))]


def test_no_two_classes_name_the_same_code() -> None:
    own = [c for c in _classes(GuardpayError) if "code" in c.__dict__]
    codes = [c.code for c in own]
    assert len(codes) == len(set(codes)), sorted(codes)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InsufficientFunds("x"), 400),
        (LimitExceeded("x"), 400),
        (RefundExceedsPayment("x"), 400),
        (UnknownCurrency("x"), 400),
        (MoneyError("x"), 400),
        (OperatorsExist("x"), 409),
        (RiskDenied("x"), 403),
        (RequestDenied("x"), 403),
        (StepUpRequired("x", methods=["sms"], challenge_id="chl_1"), 401),
        (VerificationUnavailable("x"), 503),
        (ModelUnavailable("x"), 503),
        (DataErased("x"), 500),
        (GuardpayError("x"), 500),
    ],
)
def test_statuses_come_from_the_one_table(error: GuardpayError, status: int) -> None:
    assert status_of(error) == status


def test_no_error_class_carries_an_http_status() -> None:
    """HTTP is the API's business: the table in api/errors.py, nowhere else."""
    assert [c.__name__ for c in _classes(GuardpayError) if "http_status" in c.__dict__] == []
    assert set(STATUS) <= set(_classes(GuardpayError))


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("insufficient_funds", InsufficientFunds),
        ("limit_exceeded", LimitExceeded),
        ("payment_denied", RiskDenied),
        ("request_denied", RequestDenied),
        ("data_erased", DataErased),
        ("verification_unavailable", VerificationUnavailable),
    ],
)
def test_a_client_rebuilds_the_specific_error(code: str, cls: type[GuardpayError]) -> None:
    rebuilt = from_code(code, "said", "amount")
    assert type(rebuilt) is cls
    assert (rebuilt.code, rebuilt.message, rebuilt.param) == (code, "said", "amount")


def test_an_unknown_code_stays_a_code() -> None:
    rebuilt = from_code("something_new", "said")
    assert type(rebuilt) is GuardpayError
    assert rebuilt.code == "something_new"
    assert type(from_code("step_up_required", "x")) is GuardpayError  # needs its challenge


_BRANCH = re.compile(r"\.code\s*(?:==|!=|in|not in)\s*[\"'(]")


def test_no_code_branches_on_error_code_strings() -> None:
    found = [
        f"{path.relative_to(SRC)}:{n}"
        for path in sorted(SRC.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if _BRANCH.search(line)
    ]
    assert found == []
