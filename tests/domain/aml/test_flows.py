import pytest

from guardpay.domain.aml.frame import Params
from guardpay.domain.aml.scenarios.flows import (
    SCENARIOS,
    fan_in,
    fan_out,
    gather_scatter,
    layering,
    rapid_pass_through,
    scatter_gather,
)
from tests.domain.aml.world import Move, findings, move, yuan

# -- fan-in


def _collected(victims: int, *, passed_at_hours: float) -> list[Move]:
    """`victims` payers of ¥2,000 into a mule within hours; 95% of it leaves later."""
    paid = [move(f"v{i}", "mule", yuan(2_000), hours=i * 0.5) for i in range(victims)]
    out = move("mule", "boss", yuan(2_000) * victims * 95 // 100, hours=passed_at_hours)
    return [*paid, out]


def test_many_payers_into_one_account_passed_on_within_days_is_fan_in() -> None:
    found = findings(fan_in, _collected(12, passed_at_hours=20))

    assert found.keys() == {"mule"}
    mule = found["mule"]
    assert mule["evidence"] == "sources=12 inflow=2400000 passed_bp=9500 hours=20"
    assert mule["score"] >= 0.5
    assert mule["transactions"] == 13


def test_fewer_payers_than_the_degree_is_not_fan_in() -> None:
    assert findings(fan_in, _collected(7, passed_at_hours=20)) == {}
    assert "mule" in findings(fan_in, _collected(7, passed_at_hours=20), Params(fan_degree=7))


def test_money_passed_on_after_pass_hours_is_not_fan_in() -> None:
    assert findings(fan_in, _collected(12, passed_at_hours=100)) == {}


def _shop(settles_every_days: int | None) -> list[Move]:
    """30 regulars, 20 of them a day for three weeks, ¥80 each; the shop settles its
    takings with its bank every few days, or never."""
    days = 21
    takings = [0] * days
    sales = []
    for d in range(days):
        for c in range(30):
            if (c + d) % 3:
                sales.append(move(f"c{c}", "shop", yuan(80), days=d, hours=0.5 + c * 0.3))
                takings[d] += yuan(80)
    n = settles_every_days
    if n is None:
        return sales
    settled = [move("shop", "bank", sum(takings[d - n : d]), days=d) for d in range(n, days + 1, n)]
    return sales + settled


def test_a_busy_shop_that_keeps_its_takings_is_not_fan_in() -> None:
    assert findings(fan_in, _shop(settles_every_days=None), Params(pass_bp=1)) == {}


def test_a_busy_shop_settling_weekly_is_not_fan_in() -> None:
    moves = _shop(settles_every_days=7)

    assert findings(fan_in, moves) == {}
    # it is quiet on the share: a week's takings settled against the few days before
    assert "passed_bp=5285" in findings(fan_in, moves, Params(pass_bp=5_000))["shop"]["evidence"]


# -- fan-out


def test_money_just_received_paid_out_to_many_is_fan_out() -> None:
    moves = [move("boss", "mule", yuan(30_000))]
    moves += [move("mule", f"cash{i}", yuan(2_900), hours=10 + i) for i in range(10)]

    found = findings(fan_out, moves)

    assert found.keys() == {"mule"}
    assert found["mule"]["evidence"] == "targets=10 outflow=2900000 passed_bp=9666 hours=19"
    assert found["mule"]["score"] >= 0.5


def test_payroll_from_a_month_of_revenue_is_not_fan_out() -> None:
    revenue = [move(f"client{d % 4}", "employer", yuan(5_000), days=d) for d in range(30)]
    payroll = [move("employer", f"staff{i}", yuan(7_000), days=30, minutes=i) for i in range(20)]

    assert findings(fan_out, revenue + payroll) == {}
    # paid from what came in over the month, not in the days before payday
    assert "employer" in findings(fan_out, revenue + payroll, Params(pass_hours=24 * 31))


def test_paying_many_from_money_that_came_in_a_week_before_is_not_fan_out() -> None:
    moves = [move("boss", "mule", yuan(30_000))]
    moves += [move("mule", f"cash{i}", yuan(2_900), days=7, hours=i) for i in range(10)]

    assert findings(fan_out, moves) == {}


# -- rapid pass-through


def test_a_large_inflow_passed_on_within_hours_is_rapid_pass_through() -> None:
    moves = [move("x", "mule", yuan(50_000)), move("mule", "y", yuan(48_000), hours=3)]

    found = findings(rapid_pass_through, moves)

    assert found.keys() == {"mule"}
    assert found["mule"]["evidence"] == (
        "large_inflow=5000000 passed_bp=9600 hours=3 large_inflows_passed=1"
    )
    assert found["mule"]["score"] >= 0.5


def test_each_large_inflow_passed_on_adds_to_the_score() -> None:
    moves = [move("x", "mule", yuan(50_000)), move("mule", "y", yuan(48_000), hours=3)]
    again = [move("x", "mule", yuan(20_000), days=5), move("mule", "y", yuan(19_000), days=5.1)]

    once = findings(rapid_pass_through, moves)["mule"]
    twice = findings(rapid_pass_through, moves + again)["mule"]

    assert "large_inflows_passed=2" in twice["evidence"]
    assert twice["score"] > once["score"]


@pytest.mark.parametrize(
    ("passed", "hours"),
    [(yuan(42_500), 3), (yuan(48_000), 30)],
    ids=["only 85% passed", "passed after a day"],
)
def test_too_little_or_too_late_is_not_rapid_pass_through(passed: int, hours: float) -> None:
    moves = [move("x", "mule", yuan(50_000)), move("mule", "y", passed, hours=hours)]

    assert findings(rapid_pass_through, moves) == {}


def test_a_salary_spent_over_weeks_is_not_rapid_pass_through() -> None:
    moves = [move("employer", "worker", yuan(15_000))]
    moves += [move("worker", f"shop{d % 3}", yuan(500), days=d, hours=2) for d in range(25)]

    assert findings(rapid_pass_through, moves) == {}
    assert "worker" in findings(
        rapid_pass_through, moves, Params(rapid_hours=24 * 30, rapid_bp=8_000)
    )


def test_a_shops_small_sales_withdrawn_daily_are_not_rapid_pass_through() -> None:
    sales = [
        move(f"c{i}", "shop", yuan(300), days=d, hours=i / 5) for d in range(5) for i in range(40)
    ]
    withdrawn = [move("shop", "owner", yuan(12_000), days=d, hours=20) for d in range(5)]

    assert findings(rapid_pass_through, sales + withdrawn) == {}


# -- scatter-gather


def _scattered(sinks: list[str]) -> list[Move]:
    """The boss pays an intermediary each ¥9,000; each passes ¥8,800 to its sink."""
    paid = [move("boss", f"m{i}", yuan(9_000), hours=i) for i in range(len(sinks))]
    passed = [move(f"m{i}", sink, yuan(8_800), hours=10 + i) for i, sink in enumerate(sinks)]
    return paid + passed


def test_one_source_through_intermediaries_to_one_sink_is_scatter_gather() -> None:
    found = findings(scatter_gather, _scattered(["sink"] * 4))

    assert found.keys() == {"boss", "sink", "m0", "m1", "m2", "m3"}
    for end in ("boss", "sink"):
        assert found[end]["score"] >= 0.5
        assert "intermediaries=4" in found[end]["evidence"]
    assert found["boss"]["evidence"].startswith("role=source source=boss sink=sink")
    assert found["sink"]["evidence"].startswith("role=sink source=boss sink=sink")
    assert "passed_bp=9777 hours=13" in found["boss"]["evidence"]
    assert found["m2"]["score"] == 0.5  # flagged, below the ends
    assert found["m2"]["score"] < found["boss"]["score"]
    assert found["m2"]["evidence"].startswith("role=intermediary")


def test_intermediaries_passing_to_different_sinks_are_not_scatter_gather() -> None:
    assert findings(scatter_gather, _scattered(["s0", "s1", "s2", "s3"])) == {}


def test_two_intermediaries_are_too_few_for_scatter_gather() -> None:
    assert findings(scatter_gather, _scattered(["sink"] * 2)) == {}


def test_friends_splitting_a_bill_are_not_scatter_gather() -> None:
    moves = [move("alice", "restaurant", yuan(6_000))]
    moves += [move(f"friend{i}", "alice", yuan(1_500), hours=1 + i) for i in range(4)]
    moves += [move(f"friend{i}", "cinema", yuan(1_200), hours=8 + i) for i in range(4)]

    assert findings(scatter_gather, moves) == {}


# -- gather-scatter


def _hub(targets: int) -> list[Move]:
    """Four payers of ¥5,000 into a hub, which pays ¥20,000 less 4% on to `targets`."""
    gathered = [move(f"s{i}", "hub", yuan(5_000), hours=i) for i in range(4)]
    each = yuan(19_200) // targets
    return gathered + [move("hub", f"t{i}", each, hours=20 + i) for i in range(targets)]


def test_a_hub_gathering_from_several_and_paying_several_is_gather_scatter() -> None:
    found = findings(gather_scatter, _hub(4))

    assert found.keys() == {"hub"}
    assert found["hub"]["evidence"] == (
        "sources=4 targets=4 inflow=2000000 passed_bp=9600 hours=23"
    )
    assert found["hub"]["score"] >= 0.5


def test_a_hub_paying_two_is_not_gather_scatter() -> None:
    assert findings(gather_scatter, _hub(2)) == {}


def test_a_shop_paying_a_few_suppliers_weekly_is_not_gather_scatter() -> None:
    sales = [
        move(f"c{i}", "shop", yuan(2_000), days=d, hours=i) for d in range(21) for i in range(10)
    ]
    week = yuan(2_000) * 10 * 7
    supplies = [
        move("shop", f"supplier{i}", week // 3, days=w, hours=8 + i)
        for w in (7, 14, 21)
        for i in range(3)
    ]

    assert findings(gather_scatter, sales + supplies) == {}
    # each payment settles a week of takings against the three days before it
    assert "shop" in findings(gather_scatter, sales + supplies, Params(pass_bp=4_000))


# -- layering


def _layer(sources: list[str], targets: list[str]) -> list[Move]:
    """Each source pays each of three intermediaries ¥10,000; each intermediary passes
    98% of it on, split across the targets."""
    middles = ["m1", "m2", "m3"]
    paid = [
        move(s, m, yuan(10_000), hours=i)
        for i, (s, m) in enumerate((s, m) for s in sources for m in middles)
    ]
    each = yuan(9_800) * len(sources) // len(targets)
    passed = [
        move(m, t, each, hours=12 + i)
        for i, (m, t) in enumerate((m, t) for m in middles for t in targets)
    ]
    return paid + passed


def test_sources_through_a_layer_of_intermediaries_to_targets_is_layering() -> None:
    found = findings(layering, _layer(["a1", "a2"], ["t1", "t2"]))

    assert found.keys() == {"m1", "m2", "m3", "a1", "a2"}
    for middle in ("m1", "m2", "m3"):
        assert found[middle]["score"] >= 0.5
        assert found[middle]["evidence"].startswith("role=intermediary sources=2 targets=2")
    assert found["a1"]["evidence"].startswith("role=source intermediaries=3 targets=2")
    assert found["a1"]["score"] < found["m1"]["score"]


@pytest.mark.parametrize(
    ("sources", "targets"),
    [(["a1"], ["t1", "t2"]), (["a1", "a2"], ["t1"])],
    ids=["one source", "one target"],
)
def test_a_single_source_or_target_is_not_layering(sources: list[str], targets: list[str]) -> None:
    assert findings(layering, _layer(sources, targets)) == {}


def test_a_household_paying_the_same_utilities_is_not_layering() -> None:
    utilities = ("power", "water")
    bills = [
        move(person, utility, yuan(1_200), hours=i)
        for i, (person, utility) in enumerate((p, u) for p in ("p1", "p2") for u in utilities)
    ]
    others = [move(f"home{i}", u, yuan(1_100), hours=i) for i in range(6) for u in utilities]
    settled = [move(u, to, yuan(4_400), days=20) for u in utilities for to in ("grid", "tax")]
    moves = bills + others + settled

    assert findings(layering, moves) == {}
    # the utilities pass the money on after weeks, not days
    assert {"power", "water", "p1", "p2"} <= findings(
        layering, moves, Params(scatter_hours=24 * 30)
    ).keys()


def test_every_flow_scenario_is_registered_once() -> None:
    assert [s.typology for s in SCENARIOS] == [
        "fan_in",
        "fan_out",
        "rapid_pass_through",
        "scatter_gather",
        "gather_scatter",
        "layering",
    ]
