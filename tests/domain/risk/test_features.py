"""Risk features: every name in the schema, computed from a request and its history."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from guardpay.domain.risk.features import (
    ZERO_VELOCITY,
    RiskEvent,
    RiskRequest,
    StateSnapshot,
    compute_features,
    epoch_seconds,
    haversine_km,
    hour_share,
    speed_kmh,
    welford_stats,
)
from guardpay.domain.risk.schema import FEATURES, FeatureType

NOW = datetime(2025, 3, 1, 4, 30, tzinfo=UTC)  # 12:30 in Shanghai
SHANGHAI = (31.2304, 121.4737)
NEW_YORK = (40.7128, -74.0060)
BEIJING = (39.9042, 116.4074)
PY_TYPE = {FeatureType.INT: int, FeatureType.FLOAT: float, FeatureType.BOOL: bool}


def request(**changes: Any) -> RiskRequest:
    base = RiskRequest(
        kind="payment",
        channel="qr_static",
        user_id="u1",
        amount=10_000,
        currency="CNY",
        at=NOW,
        account_created_at=NOW - timedelta(days=30),
        balance_before=40_000,
        account_class=2,
        device_id="d1",
        ip="10.0.0.1",
        payee_id="p1",
    )
    return replace(base, **changes)


def features(snap: StateSnapshot | None = None, **changes: Any) -> dict[str, Any]:
    return compute_features(request(**changes), snap or StateSnapshot())


def history(*amounts: int) -> StateSnapshot:
    count, mean, m2 = welford_stats(amounts)
    return StateSnapshot(user_count=count, user_mean=mean, user_m2=m2)


def test_exactly_the_schema_names_with_the_schema_types() -> None:
    out = features()
    assert set(out) == set(FEATURES)
    for name, kind in FEATURES.items():
        expected = str if kind is FeatureType.STR else PY_TYPE[kind]
        assert type(out[name]) is expected, name
    assert out["model_score"] == 0.0


def test_the_request_itself() -> None:
    out = features(list_block_hit=True)
    assert (out["kind"], out["channel"], out["amount"], out["currency"]) == (
        "payment",
        "qr_static",
        10_000,
        "CNY",
    )
    assert out["balance_before"] == 40_000
    assert out["amount_share_of_balance"] == 0.25
    assert out["account_class"] == 2
    assert out["list_block_hit"] is True
    assert out["list_allow_hit"] is False


def test_a_request_that_moves_no_money_has_amount_zero() -> None:
    assert features(kind="login")["amount"] == 0
    assert features(balance_before=0)["amount_share_of_balance"] == 0.0


def test_hour_is_local_to_shanghai() -> None:
    assert features()["hour_local"] == 12
    assert features(at=datetime(2025, 3, 1, 16, 30, tzinfo=UTC))["hour_local"] == 0


def test_hour_share_counts_the_neighbouring_hours_circularly() -> None:
    hist = [0] * 24
    hist[23], hist[0], hist[1], hist[5] = 1, 2, 1, 4
    assert hour_share(tuple(hist), 0) == 0.5
    assert hour_share(tuple(hist), 12) == 0.0
    assert hour_share((0,) * 24, 3) == 0.0


def test_hour_unusual_needs_twenty_past_requests_and_a_rare_hour() -> None:
    habit = [0] * 24
    habit[20] = 20  # always pays at 20:00 local; now it is 12:30
    out = features(StateSnapshot(hour_histogram=tuple(habit)))
    assert out["hour_share"] == 0.0
    assert out["hour_unusual"] is True
    habit[20] = 19
    assert features(StateSnapshot(hour_histogram=tuple(habit)))["hour_unusual"] is False
    habit[11] = 1  # 11:00 is within an hour of 12:30's hour
    assert features(StateSnapshot(hour_histogram=tuple(habit)))["hour_share"] == 0.05


def test_amount_against_the_users_history() -> None:
    out = features(history(100, 200, 300), amount=500)
    assert out["user_payment_count"] == 3
    assert out["amount_avg"] == pytest.approx(200.0)
    assert out["amount_ratio_avg"] == pytest.approx(2.5)
    assert out["amount_zscore"] == pytest.approx(3.0)  # sample std is 100


def test_amount_zscore_is_zero_without_spread_or_enough_history() -> None:
    assert features(history(300), amount=500)["amount_zscore"] == 0.0
    assert features(history(300, 300, 300), amount=500)["amount_zscore"] == 0.0
    none = features(history(), amount=500)
    assert (none["amount_avg"], none["amount_ratio_avg"], none["amount_zscore"]) == (0.0, 0.0, 0.0)


def test_ages_in_days_and_unknown_payee_age() -> None:
    out = features(payee_created_at=NOW - timedelta(hours=36))
    assert out["account_age_days"] == 30.0
    assert out["payee_account_age_days"] == 1.5
    assert features()["payee_account_age_days"] == 0.0
    assert features(account_created_at=NOW + timedelta(days=1))["account_age_days"] == 0.0


def test_credential_change_within_24_hours() -> None:
    assert features(credential_changed_at=NOW - timedelta(hours=23))["credential_change_24h"]
    assert not features(credential_changed_at=NOW - timedelta(hours=25))["credential_change_24h"]
    assert not features()["credential_change_24h"]


def test_new_device_and_accounts_on_it() -> None:
    known = StateSnapshot(device_known=True, device_users=3, device_user_seen=True)
    assert features(known)["device_new"] is False
    assert features(known)["device_accounts"] == 3
    other = StateSnapshot(device_users=3)  # three others used it; this user is the 4th
    assert features(other)["device_new"] is True
    assert features(other)["device_accounts"] == 4
    assert features(known, device_id=None)["device_new"] is True
    assert features(known, device_id=None)["device_accounts"] == 0


def test_impossible_travel_shanghai_to_new_york_in_an_hour() -> None:
    snap = StateSnapshot(last_location=SHANGHAI, last_location_ts=epoch_seconds(NOW) - 3_600)
    out = features(snap, location=NEW_YORK)
    assert out["location_known"] is True
    assert 11_000 < out["distance_km"] < 12_500
    assert out["speed_kmh"] > 900
    assert out["speed_kmh"] == pytest.approx(out["distance_km"])


def test_location_unknown_without_either_point() -> None:
    snap = StateSnapshot(last_location=SHANGHAI, last_location_ts=epoch_seconds(NOW))
    out = features(snap)  # the request has no location
    assert (out["location_known"], out["distance_km"], out["speed_kmh"]) == (False, 0.0, 0.0)
    assert features(location=SHANGHAI)["location_known"] is False


def test_speed_never_divides_by_zero() -> None:
    assert speed_kmh(10.0, 0) == 600.0  # time is floored at one minute
    assert speed_kmh(0.0, 0) == 0.0
    assert haversine_km(SHANGHAI, BEIJING) == pytest.approx(1_067, rel=0.01)
    assert haversine_km(SHANGHAI, SHANGHAI) == 0.0


def test_payee_and_merchant_firsts() -> None:
    out = features(merchant_id="m1", payee_is_merchant=True)
    assert (out["payee_new"], out["merchant_first"], out["payee_is_merchant"]) == (True, True, True)
    known = StateSnapshot(payee_known=True, merchant_known=True)
    out = features(known, merchant_id="m1")
    assert (out["payee_new"], out["merchant_first"]) == (False, False)
    out = features(payee_id=None)
    assert (out["payee_new"], out["merchant_first"]) == (False, False)


def test_counts_pass_through_from_the_snapshot() -> None:
    snap = StateSnapshot(payee_new_payers_24h=7, user_declined_1h=3)
    out = features(snap)
    assert (out["payee_new_payers_24h"], out["user_declined_1h"]) == (7, 3)


def test_velocity_comes_from_the_snapshot_and_defaults_to_zero() -> None:
    out = features(StateSnapshot(velocity={"user_count_1h": 4, "payee_sum_24h": 90_000}))
    assert out["user_count_1h"] == 4
    assert out["payee_sum_24h"] == 90_000
    assert all(
        out[name] == 0 for name in ZERO_VELOCITY if name not in ("user_count_1h", "payee_sum_24h")
    )


def test_a_request_must_be_well_formed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        request(at=datetime(2025, 3, 1, 12))
    with pytest.raises(ValueError, match="unknown request kind"):
        request(kind="teleport")
    with pytest.raises(ValueError, match="account_class"):
        request(account_class=4)


def test_an_event_is_the_request_and_its_outcome() -> None:
    event = RiskEvent.from_request(request(at=NOW + timedelta(microseconds=900_000)), accepted=True)
    assert event.ts == epoch_seconds(NOW)  # whole seconds, floored
    assert (event.amount, event.money_moving, event.accepted, event.hour_local) == (
        10_000,
        True,
        True,
        12,
    )
    assert event.entity_ids() == (
        ("user", "u1"),
        ("device", "d1"),
        ("ip", "10.0.0.1"),
        ("payee", "p1"),
    )
    login = RiskEvent.from_request(request(kind="login"), accepted=False)
    assert (login.amount, login.money_moving) == (0, False)
