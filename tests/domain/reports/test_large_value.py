"""Large-value rules against hand-computed thresholds: one fen below, at, and
cumulative across a local day, money in and out apart, per category and profile."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from guardpay.domain.reports.large_value import (
    CASH,
    CN,
    IN,
    INDIVIDUAL,
    NON_INDIVIDUAL,
    OUT,
    TRANSFER,
    US,
    Leg,
    reportable,
)

DAY = date(2026, 12, 7)
NOON = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
_n = iter(range(1, 1_000))


def leg(
    yuan_fen: int,
    *,
    who: str = "usr_1",
    kind: str = INDIVIDUAL,
    direction: str = OUT,
    channel: str = TRANSFER,
    at: datetime = NOON,
    currency: str = "CNY",
    cross_border: bool = False,
) -> Leg:
    return Leg(
        f"pay_{next(_n)}",
        who,
        kind,
        direction,
        channel,
        yuan_fen,
        currency,
        at,
        "usr_x",
        cross_border,
    )


def triggers(rows: list) -> list[tuple[int, str]]:  # type: ignore[type-arg]
    return [(r.leg.amount, r.trigger) for r in rows]


def test_an_individual_transfer_one_fen_below_is_not_reported_at_is() -> None:
    assert reportable(CN, [leg(500_000_00 - 1)], DAY) == []
    assert triggers(reportable(CN, [leg(500_000_00)], DAY)) == [(500_000_00, "single")]


def test_a_days_transfers_add_up_and_every_one_is_reported() -> None:
    rows = reportable(CN, [leg(300_000_00), leg(200_000_00, at=NOON + timedelta(hours=1))], DAY)
    assert triggers(rows) == [(300_000_00, "cumulative"), (200_000_00, "cumulative")]
    assert {r.day_total for r in rows} == {500_000_00}
    short = [leg(300_000_00), leg(200_000_00 - 1)]
    assert reportable(CN, short, DAY) == []


def test_money_in_and_out_are_summed_apart() -> None:
    apart = [leg(250_000_00, direction=IN), leg(250_000_00, direction=OUT)]
    assert reportable(CN, apart, DAY) == []


def test_the_day_is_beijings() -> None:
    """23:59 and 00:01 Beijing time are two days, whatever UTC says."""
    late = datetime(2026, 12, 7, 15, 59, tzinfo=UTC)  # 23:59 on the 7th in Beijing
    next_day = datetime(2026, 12, 7, 16, 1, tzinfo=UTC)  # 00:01 on the 8th
    legs = [leg(300_000_00, at=late), leg(300_000_00, at=next_day)]
    assert reportable(CN, legs, DAY) == []
    assert reportable(CN, legs, DAY + timedelta(days=1)) == []
    both = [leg(300_000_00, at=late), leg(200_000_00, at=NOON)]
    assert len(reportable(CN, both, DAY)) == 2


def test_each_category_has_its_threshold() -> None:
    merchant = dict(who="mer_1", kind=NON_INDIVIDUAL)
    assert reportable(CN, [leg(1_999_999_99, **merchant)], DAY) == []  # type: ignore[arg-type]
    assert len(reportable(CN, [leg(2_000_000_00, **merchant)], DAY)) == 1  # type: ignore[arg-type]
    assert reportable(CN, [leg(50_000_00 - 1, channel=CASH)], DAY) == []
    assert len(reportable(CN, [leg(50_000_00, channel=CASH)], DAY)) == 1
    assert reportable(CN, [leg(200_000_00 - 1, cross_border=True)], DAY) == []
    assert len(reportable(CN, [leg(200_000_00, cross_border=True)], DAY)) == 1


def test_the_us_profile_reports_cash_over_ten_thousand_dollars() -> None:
    noon_ny = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
    cash = dict(channel=CASH, currency="USD", at=noon_ny)
    assert reportable(US, [leg(10_000_00, **cash)], DAY) == []  # type: ignore[arg-type]
    assert triggers(reportable(US, [leg(10_000_01, **cash)], DAY)) == [(10_000_01, "single")]  # type: ignore[arg-type]
    assert reportable(US, [leg(5_000_00, **cash), leg(5_000_01, **cash)], DAY) != []  # type: ignore[arg-type]
    assert reportable(US, [leg(50_000_00, currency="USD", at=noon_ny)], DAY) == []  # no cash
    assert reportable(CN, [leg(10_000_000_00, currency="USD")], DAY) == []  # not yuan
