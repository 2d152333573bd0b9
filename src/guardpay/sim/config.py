"""The simulator's parameters: one frozen dataclass with documented defaults.

Case rates are per 10,000 users per day, so a population of any size sees the same
prevalence. Case counts are quotas, not Poisson draws: over `days` a typology opens
`rate * users / 10_000 * days` cases, rounded with a seeded offset, spread over the days
(see `case_quota`), so "every typology appears with its configured frequency" is exact
to one case. With the defaults about 0.3-1 % of the transactions are fraudulent and about
0.5 % of the users take part in laundering.

Throughput shapes the ordinary activity default: every request is a full unit of work
through the services (limits, risk decision, ledger, audit chain), about 80-100 per
second on the reference 2-core machine, so 10,000 users x 30 days fits in ten minutes
at ~0.1 ordinary requests per user per day (light users dominate real wallets too).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

FRAUD_TYPOLOGIES = (
    "account_takeover",
    "telecom_scam",
    "qr_swap",
    "stolen_card_topup",
    "card_testing",
    "fake_merchant_cashout",
)
LAUNDERING_TYPOLOGIES = (
    "mule_network",
    "structuring",
    "scatter_gather",
    "cycle",
    "rapid_pass_through",
    "dormant_reactivation",
    "account_farm",
)
TYPOLOGIES = FRAUD_TYPOLOGIES + LAUNDERING_TYPOLOGIES

#: cases per 10,000 users per day (defaults)
DEFAULT_RATES: dict[str, float] = {
    "account_takeover": 0.5,
    "telecom_scam": 0.4,
    "qr_swap": 0.2,
    "stolen_card_topup": 0.25,
    "card_testing": 0.15,
    "fake_merchant_cashout": 0.1,
    "mule_network": 0.04,
    "structuring": 0.1,
    "scatter_gather": 0.04,
    "cycle": 0.05,
    "rapid_pass_through": 0.08,
    "dormant_reactivation": 0.05,
    "account_farm": 0.03,
}


@dataclass(frozen=True)
class SimConfig:
    users: int = 10_000
    merchants: int = 200
    days: int = 30
    seed: int = 0
    start: datetime = datetime(2025, 3, 1, tzinfo=UTC)  # day 0, 00:00 UTC
    #: ordinary money-moving requests per user per day (before weekday rhythm)
    activity: float = 0.1
    #: share of an ordinary day's requests by channel (normalised)
    channel_mix: dict[str, float] = field(
        default_factory=lambda: {
            "qr_static": 0.25,
            "qr_order": 0.2,
            "payment_code": 0.25,
            "p2p": 0.18,
            "escrow": 0.05,
            "withdrawal": 0.03,
            "topup": 0.04,
        }
    )
    weekday_factor: tuple[float, ...] = (0.9, 0.9, 0.95, 0.95, 1.1, 1.3, 1.2)  # Mon..Sun
    #: days (0-based) that are festivals: red packets among friends
    festival_days: tuple[int, ...] = (10,)
    red_packets_per_user_festival: float = 0.05
    refund_share: float = 0.03  # merchant payments later refunded (part or whole)
    salary_day: int = 25  # day of month: a salary top-up for the employed
    employed_share: float = 0.1
    step_up_success: float = 0.97  # a legitimate user completes an SMS step-up
    sim_swap_share: float = 0.15  # account takeovers whose fraudster can pass SMS step-ups
    class_shares: tuple[float, float, float] = (0.05, 0.8, 0.15)  # Class I, II, III
    #: requests through the HTTP API (sim/api_actions.py) instead of the services
    via_api: bool = False
    rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES))

    def rate(self, typology: str) -> float:
        return self.rates.get(typology, 0.0)


def scaled(cfg: SimConfig, factor: float) -> SimConfig:
    """`cfg` with every case rate multiplied by `factor` (tests boost them)."""
    return replace(cfg, rates={t: r * factor for t, r in cfg.rates.items()})


def case_quota(cfg: SimConfig, typology: str, rng: np.random.Generator) -> list[int]:
    """How many cases of `typology` open on each day: the cumulative expectation with a
    seeded offset, so the total is the expectation rounded down or up, never further."""
    per_day = cfg.rate(typology) * cfg.users / 10_000
    offset = float(rng.random())
    counts, before = [], 0
    for day in range(cfg.days):
        upto = int(np.floor(per_day * (day + 1) + offset))
        counts.append(upto - before)
        before = upto
    return counts


def expected_cases(cfg: SimConfig, typology: str) -> float:
    return cfg.rate(typology) * cfg.users / 10_000 * cfg.days
