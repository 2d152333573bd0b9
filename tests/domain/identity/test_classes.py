"""Account classes from passed channels, and the balance-payment limits of each."""

from __future__ import annotations

import pytest

from guardpay.domain.identity.classes import (
    CNY_LIMITS,
    AccountClass,
    Channel,
    ClassLimits,
    can_pay,
    can_receive,
    check_balance_payment,
    class_for,
    remaining_allowance,
)
from guardpay.errors import PermissionDenied

ALL = list(Channel)


@pytest.mark.parametrize(
    ("count", "cls"),
    [
        (0, AccountClass.UNVERIFIED),
        (1, AccountClass.I),
        (2, AccountClass.I),
        (3, AccountClass.II),
        (4, AccountClass.II),
        (5, AccountClass.III),
    ],
)
def test_class_by_number_of_distinct_channels(count: int, cls: AccountClass) -> None:
    assert class_for(ALL[:count]) is cls


def test_a_channel_counts_once() -> None:
    twice = [Channel.FACE_MATCH, Channel.FACE_MATCH, "face_match", Channel.ID_AUTHORITY]
    assert class_for(twice) is AccountClass.I
    with pytest.raises(ValueError, match="not_a_channel"):
        class_for(["not_a_channel"])


def test_the_cny_defaults_are_the_regulation() -> None:
    assert CNY_LIMITS.class_i_since_opening == 100_000  # ¥1,000.00 in fen
    assert CNY_LIMITS.class_ii_per_year == 10_000_000  # ¥100,000.00
    assert CNY_LIMITS.class_iii_per_year == 20_000_000  # ¥200,000.00


def test_remaining_allowance() -> None:
    assert remaining_allowance(AccountClass.UNVERIFIED, 0, 0) == 0
    # Class I counts everything since opening, whatever the year
    assert remaining_allowance(AccountClass.I, 30_000, 0) == 70_000
    assert remaining_allowance(AccountClass.I, 100_000, 0) == 0
    assert remaining_allowance(AccountClass.I, 250_000, 0) == 0  # never negative
    # Classes II and III count the current year
    assert remaining_allowance(AccountClass.II, 99_000_000, 2_500_000) == 7_500_000
    assert remaining_allowance(AccountClass.III, 0, 19_999_999) == 1
    assert remaining_allowance(AccountClass.III, 0, 20_000_001) == 0


def test_limits_are_configuration() -> None:
    usd = ClassLimits(currency="USD", class_i_since_opening=500_00)
    assert remaining_allowance(AccountClass.I, 100_00, 0, usd) == 400_00


def test_unverified_accounts_receive_but_do_not_pay() -> None:
    assert not can_pay(AccountClass.UNVERIFIED)
    assert can_receive(AccountClass.UNVERIFIED)
    assert all(can_pay(c) for c in (AccountClass.I, AccountClass.II, AccountClass.III))


def test_check_balance_payment() -> None:
    check_balance_payment(AccountClass.I, 100_000, 0, 0)  # exactly the limit is allowed
    with pytest.raises(PermissionDenied) as refused:
        check_balance_payment(AccountClass.I, 100_001, 0, 0)
    assert refused.value.code == "account_class_limit_exceeded"
    with pytest.raises(PermissionDenied) as refused:
        check_balance_payment(AccountClass.UNVERIFIED, 1, 0, 0)
    assert refused.value.code == "account_unverified"
