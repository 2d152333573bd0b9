from guardpay.domain.aml.frame import Params
from guardpay.domain.aml.scenarios.accounts import dormant_reactivation
from tests.domain.aml.world import findings, move, yuan


def test_a_silent_account_that_wakes_to_move_large_sums_is_flagged() -> None:
    moves = [
        move("sleeper", "shop", yuan(80), days=0),
        move("boss", "sleeper", yuan(15_000), days=200),
        move("sleeper", "mule", yuan(14_500), days=201),
    ]

    found = findings(dormant_reactivation, moves)

    assert found.keys() == {"sleeper"}
    assert found["sleeper"]["evidence"] == "idle_days=200 moved=2950000 within_days=7"
    assert found["sleeper"]["transactions"] == 2
    assert found["sleeper"]["score"] >= 0.5
    assert found["sleeper"]["first_seen"] == moves[1]["at"]
    assert found["sleeper"]["last_seen"] == moves[2]["at"]


def test_an_account_back_after_a_long_absence_that_spends_a_little_stays_quiet() -> None:
    moves = [
        move("traveller", "shop", yuan(300), days=0),
        move("traveller", "shop", yuan(500), days=250),
        move("employer", "traveller", yuan(8_000), days=252),
    ]

    assert findings(dormant_reactivation, moves) == {}


def test_only_what_moves_within_days_of_waking_counts() -> None:
    moves = [
        move("sleeper", "shop", yuan(80), days=0),
        move("boss", "sleeper", yuan(12_000), days=200),
        move("sleeper", "mule", yuan(11_000), days=208),  # 8 days later
    ]

    assert findings(dormant_reactivation, moves) == {}
    assert "sleeper" in findings(dormant_reactivation, moves, Params(reactivated_days=9))


def test_an_always_active_account_moving_large_sums_stays_quiet() -> None:
    moves = [move("trader", f"p{d}", yuan(30_000), days=d * 20) for d in range(20)]

    assert findings(dormant_reactivation, moves) == {}


def test_a_gap_shorter_than_the_dormancy_is_no_sleep() -> None:
    moves = [
        move("seasonal", "shop", yuan(80), days=0),
        move("seasonal", "supplier", yuan(40_000), days=179),
    ]

    assert findings(dormant_reactivation, moves) == {}
    assert "seasonal" in findings(dormant_reactivation, moves, Params(dormant_days=170))


def test_an_account_first_seen_moving_large_sums_is_not_dormant() -> None:
    moves = [move("payer", "shop", yuan(10), days=d) for d in range(0, 300, 30)]
    moves += [move("payer", "newcomer", yuan(40_000), days=300)]

    assert findings(dormant_reactivation, moves) == {}


def test_incoming_money_ends_the_silence_too() -> None:
    moves = [
        move("sleeper", "shop", yuan(80), days=0),
        move("friend", "sleeper", yuan(50), days=100),  # not silent for 180 days
        move("boss", "sleeper", yuan(30_000), days=200),
    ]

    assert findings(dormant_reactivation, moves) == {}
