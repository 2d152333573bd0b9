from guardpay.domain.aml.frame import Params
from guardpay.domain.aml.scenarios.accounts import structuring
from tests.domain.aml.world import findings, move, yuan


def test_payments_just_below_the_threshold_within_a_week_are_structuring() -> None:
    moves = [move("smurf", f"cash{i}", yuan(48_500 + i), days=i) for i in range(4)]

    found = findings(structuring, moves)

    assert found["smurf"]["transactions"] == 4
    assert "payments_just_below=4" in found["smurf"]["evidence"]
    assert found["smurf"]["score"] >= 0.5
    assert not {f"cash{i}" for i in range(4)} & found.keys()  # each payee saw one


def test_rent_just_below_the_threshold_once_a_month_stays_quiet() -> None:
    moves = [move("tenant", "landlord", yuan(49_000), days=30 * m) for m in range(6)]

    assert findings(structuring, moves) == {}


def test_amounts_at_or_above_the_threshold_are_not_just_below() -> None:
    moves = [move("big", f"p{i}", yuan(50_000), days=i) for i in range(5)]

    assert findings(structuring, moves) == {}


def test_several_thresholds_each_count() -> None:
    params = Params(thresholds=(yuan(10_000), yuan(50_000)))
    moves = [move("smurf", "a", yuan(9_500), days=i) for i in range(3)]

    assert "smurf" in findings(structuring, moves, params)
    assert "smurf" not in findings(structuring, moves)  # with only ¥50,000


def test_a_few_near_payments_among_many_ordinary_ones_stay_quiet() -> None:
    near = [move("shop", "bank", yuan(49_000), days=i) for i in range(3)]
    ordinary = [move(f"c{i}", "shop", yuan(30), days=i % 6) for i in range(40)]

    assert "shop" not in findings(structuring, near + ordinary)


def test_a_run_across_any_calendar_boundary_is_counted_whole() -> None:
    # Tuesday to Friday: a week counted from Thursdays (as epoch weeks are) would split it
    moves = [move("smurf", f"cash{i}", yuan(48_000), days=4 + i) for i in range(4)]

    found = findings(structuring, moves)

    assert found["smurf"]["transactions"] == 4
    assert "moves_in_window=4" in found["smurf"]["evidence"]


def test_the_busiest_window_is_the_one_reported() -> None:
    early = [move("smurf", "a", yuan(48_000), days=d) for d in (0, 1, 2)]
    later = [move("smurf", "b", yuan(48_000), days=30 + d / 4) for d in range(5)]

    found = findings(structuring, early + later)

    assert found["smurf"]["transactions"] == 5
    assert found["smurf"]["score"] == 1.0
