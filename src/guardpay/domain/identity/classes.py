"""Payment-account classes and their balance-payment limits (PBOC 2015 No. 43).

The class follows from how many distinct external verification channels confirmed the
person (non-face-to-face opening, art. 11):
- Class I:  at least 1 channel; balance payments <= ¥1,000 in total since opening;
- Class II: at least 3 channels; balance payments <= ¥100,000 per year;
- Class III: at least 5 channels; balance payments <= ¥200,000 per year.
An account with no passed channel is unverified: it may receive, but not pay.

The five channels: the ID authority (public security citizen-identity check), the bank
card four-element check (name, ID, card, reserved phone, at the issuing bank), a face
match against the ID photo, the mobile carrier's real-name check (the phone is
registered to this name and ID), and a small verification transfer from a bank account
in the person's name. Five are needed to reach Class III, and these are the five the
regulation's examples and the industry use; counting each channel once (not each card)
is what "distinct" means here.

Limits are configuration (`ClassLimits`), CNY by default, in minor units.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from guardpay.errors import PermissionDenied


class Channel(StrEnum):
    ID_AUTHORITY = "id_authority"
    BANK_CARD_FOUR_ELEMENTS = "bank_card_four_elements"
    FACE_MATCH = "face_match"
    PHONE_CARRIER = "phone_carrier"
    BANK_ACCOUNT_TRANSFER = "bank_account_transfer"


class AccountClass(StrEnum):
    UNVERIFIED = "unverified"
    I = "I"  # noqa: E741 - the regulation's name
    II = "II"
    III = "III"


#: minimum distinct channels for each class, highest first
_THRESHOLDS = ((5, AccountClass.III), (3, AccountClass.II), (1, AccountClass.I))


@dataclass(frozen=True)
class ClassLimits:
    currency: str = "CNY"
    class_i_since_opening: int = 1_000_00
    class_ii_per_year: int = 100_000_00
    class_iii_per_year: int = 200_000_00


CNY_LIMITS = ClassLimits()


def class_for(channels: Iterable[Channel | str]) -> AccountClass:
    distinct = {Channel(c) for c in channels}
    for needed, cls in _THRESHOLDS:
        if len(distinct) >= needed:
            return cls
    return AccountClass.UNVERIFIED


def can_pay(cls: AccountClass) -> bool:
    """Unverified accounts may receive money but not pay from their balance."""
    return cls is not AccountClass.UNVERIFIED


def can_receive(cls: AccountClass) -> bool:
    return True


def remaining_allowance(
    cls: AccountClass,
    spent_since_opening: int,
    spent_this_year: int,
    limits: ClassLimits = CNY_LIMITS,
) -> int:
    """How much more may be paid from the balance now, in minor units (never negative).
    Class I counts since the account was opened, Classes II and III per calendar year."""
    if cls is AccountClass.UNVERIFIED:
        return 0
    if cls is AccountClass.I:
        return max(0, limits.class_i_since_opening - spent_since_opening)
    cap = limits.class_ii_per_year if cls is AccountClass.II else limits.class_iii_per_year
    return max(0, cap - spent_this_year)


def check_balance_payment(
    cls: AccountClass,
    amount: int,
    spent_since_opening: int,
    spent_this_year: int,
    limits: ClassLimits = CNY_LIMITS,
) -> None:
    """Refuse a balance payment the account's class does not allow (for the payments
    use cases): `account_unverified` or `account_class_limit_exceeded`."""
    if not can_pay(cls):
        raise PermissionDenied(
            "verify your identity before paying from your balance", code="account_unverified"
        )
    left = remaining_allowance(cls, spent_since_opening, spent_this_year, limits)
    if amount > left:
        raise PermissionDenied(
            f"a Class {cls.value} account may pay {left} more minor units "
            f"of {limits.currency} from its balance",
            code="account_class_limit_exceeded",
        )
