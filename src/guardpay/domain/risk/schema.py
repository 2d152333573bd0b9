"""The names and types every risk decision can see: the contract between features, rules
and the model.

A rule set is type-checked against `FEATURES` when it is loaded, so a typo or a string
compared with a number fails at load time, never at payment time. The model trains on
the numeric view of the same names (`NUMERIC_FEATURES`: booleans as 0/1). Money
features are integer minor units in the request's currency; ratios and distances are
floats because they are measurements, not money.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

Value = int | float | bool | str


class FeatureType(StrEnum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STR = "str"


WINDOWS: Final = ("1m", "1h", "24h", "30d")
WINDOW_SECONDS: Final = {"1m": 60, "1h": 3_600, "24h": 86_400, "30d": 30 * 86_400}
ENTITIES: Final = ("user", "device", "ip", "payee", "merchant")

KINDS: Final = (
    "payment",
    "transfer",
    "withdrawal",
    "topup",
    "card_binding",
    "red_packet",
    "login",
    "password_change",
    "phone_change",
)


def _velocity() -> dict[str, FeatureType]:
    """`<entity>_count_<window>` and `<entity>_sum_<window>` (minor units), e.g.
    `user_count_1h`: the user's money-moving requests in the last hour, this one excluded."""
    out: dict[str, FeatureType] = {}
    for entity in ENTITIES:
        for window in WINDOWS:
            out[f"{entity}_count_{window}"] = FeatureType.INT
            out[f"{entity}_sum_{window}"] = FeatureType.INT
    return out


FEATURES: Final[dict[str, FeatureType]] = {
    # the request itself
    "kind": FeatureType.STR,  # one of KINDS
    "channel": FeatureType.STR,  # p2p, qr_static, qr_dynamic, payment_code, escrow, card, ...
    "amount": FeatureType.INT,  # minor units; 0 for requests that move no money
    "currency": FeatureType.STR,
    "hour_local": FeatureType.INT,  # 0..23 in the platform's local time (Asia/Shanghai)
    "balance_before": FeatureType.INT,  # payer wallet balance before this request
    "amount_share_of_balance": FeatureType.FLOAT,  # amount / balance_before (0 if no balance)
    # the user
    "account_age_days": FeatureType.FLOAT,
    "account_class": FeatureType.INT,  # 0 unverified, 1..3 PBOC classes I..III
    "credential_change_24h": FeatureType.BOOL,  # password or phone changed in the last 24 h
    "user_payment_count": FeatureType.INT,  # the user's past money-moving requests (all time)
    "amount_avg": FeatureType.FLOAT,  # the user's mean past amount (0 with no history)
    "amount_ratio_avg": FeatureType.FLOAT,  # amount / amount_avg (0 with no history)
    "amount_zscore": FeatureType.FLOAT,  # (amount - mean) / std of the user's history
    "hour_share": FeatureType.FLOAT,  # share of the user's past requests within ±1 h of now
    "hour_unusual": FeatureType.BOOL,  # >= 20 past requests and hour_share < 0.02
    "user_declined_1h": FeatureType.INT,  # the user's denied/failed attempts in the last hour
    # device, location
    "device_new": FeatureType.BOOL,  # this device never seen for this user (or no device)
    "device_accounts": FeatureType.INT,  # distinct users seen on this device, ever
    "location_known": FeatureType.BOOL,  # a previous location exists to compare with
    "distance_km": FeatureType.FLOAT,  # from the user's last location
    "speed_kmh": FeatureType.FLOAT,  # distance over the time since that location
    # payee / merchant
    "payee_new": FeatureType.BOOL,  # the user never paid this payee before
    "payee_is_merchant": FeatureType.BOOL,
    "merchant_first": FeatureType.BOOL,  # first payment by this user to this merchant
    "payee_account_age_days": FeatureType.FLOAT,
    "payee_new_payers_24h": FeatureType.INT,  # distinct first-time payers to the payee, 24 h
    # lists
    "list_block_hit": FeatureType.BOOL,  # any block list matched
    "list_allow_hit": FeatureType.BOOL,  # the user or payee is allow-listed
    # the model, when one is active (0.0 otherwise); rules may combine with it
    "model_score": FeatureType.FLOAT,
    **_velocity(),
}

NUMERIC_FEATURES: Final[tuple[str, ...]] = tuple(
    name for name, kind in FEATURES.items() if kind is not FeatureType.STR
)


def default_value(kind: FeatureType) -> Value:
    """What an absent feature is worth: lets a rule example name only what it tests."""
    return {FeatureType.INT: 0, FeatureType.FLOAT: 0.0, FeatureType.BOOL: False}.get(kind, "")
