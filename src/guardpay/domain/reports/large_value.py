"""Large-value transaction reports (DESIGN.md "Risk control"; PBOC Order 2016 No. 3).

A profile is one jurisdiction's rules: per category of movement a threshold, met by one
movement alone or by the same customer's movements of one local day added up, money in
and money out summed separately. The Chinese profile (`CN`, CNY, the day in Beijing
time, "at or above"): cash ¥50,000; transfers of a non-individual customer ¥2,000,000;
an individual's domestic transfers ¥500,000, cross-border ¥200,000. The US profile
(`US`, USD, the day in New York, "more than": a Currency Transaction Report): cash over
$10,000. Every movement of a group that meets its threshold is reported, each marked by
what made it reportable: `single` (it meets the threshold alone) or `cumulative` (only
the day's sum does).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

CASH, TRANSFER = "cash", "transfer"
INDIVIDUAL, NON_INDIVIDUAL = "individual", "non_individual"
IN, OUT = "in", "out"


@dataclass(frozen=True)
class Profile:
    name: str
    currency: str
    timezone: str
    thresholds: dict[str, int]  # category -> minor units
    inclusive: bool  # "at or above" (True) or "more than" (False)

    def meets(self, category: str, amount: int) -> bool:
        limit = self.thresholds.get(category)
        if limit is None:
            return False
        return amount >= limit if self.inclusive else amount > limit

    def local_day(self, at: datetime) -> date:
        return at.astimezone(ZoneInfo(self.timezone)).date()


CN: Final = Profile(
    "cn",
    "CNY",
    "Asia/Shanghai",
    {
        "cash": 50_000_00,
        "non_individual_transfer": 2_000_000_00,
        "individual_transfer": 500_000_00,
        "individual_cross_border": 200_000_00,
    },
    inclusive=True,
)
US: Final = Profile("us", "USD", "America/New_York", {"cash": 10_000_00}, inclusive=False)
PROFILES: Final = {p.name: p for p in (CN, US)}


@dataclass(frozen=True)
class Leg:
    """One movement as one customer saw it: money in or out of their account."""

    transaction_id: str
    customer: str
    customer_kind: str  # INDIVIDUAL or NON_INDIVIDUAL
    direction: str  # IN or OUT
    channel: str  # CASH or TRANSFER
    amount: int  # minor units of `currency`
    currency: str
    at: datetime  # aware
    counterparty: str
    cross_border: bool = False

    @property
    def category(self) -> str:
        if self.channel == CASH:
            return "cash"
        if self.customer_kind == NON_INDIVIDUAL:
            return "non_individual_transfer"
        return "individual_cross_border" if self.cross_border else "individual_transfer"


@dataclass(frozen=True)
class Row:
    """A reportable movement, with the group it was judged in."""

    leg: Leg
    day: date
    trigger: str  # "single" or "cumulative"
    day_total: int  # the customer's sum that day, this category and direction


def reportable(profile: Profile, legs: Iterable[Leg], day: date) -> list[Row]:
    """The rows of `day`'s report: the legs in the profile's currency on that local day
    whose group (customer, category, direction) meets its threshold, alone or summed."""
    groups: dict[tuple[str, str, str], list[Leg]] = defaultdict(list)
    for leg in legs:
        if leg.currency == profile.currency and profile.local_day(leg.at) == day:
            groups[(leg.customer, leg.category, leg.direction)].append(leg)
    rows = []
    for (_, category, _), members in sorted(groups.items()):
        total = sum(m.amount for m in members)
        if not profile.meets(category, total):
            continue
        for m in sorted(members, key=lambda leg: (leg.at, leg.transaction_id)):
            trigger = "single" if profile.meets(category, m.amount) else "cumulative"
            rows.append(Row(m, day, trigger, total))
    return rows
