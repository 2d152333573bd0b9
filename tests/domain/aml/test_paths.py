import pytest

from guardpay.domain.aml.frame import Params
from guardpay.domain.aml.scenarios.paths import cycle
from tests.domain.aml.world import findings, move, ring, yuan


@pytest.mark.parametrize("hops", [2, 3, 6])
def test_money_that_comes_back_through_a_few_hops_is_a_cycle(hops: int) -> None:
    accounts = [f"m{i}" for i in range(hops)]

    found = findings(cycle, ring(accounts, yuan(10_000)))

    assert found.keys() == set(accounts)
    assert found["m0"]["score"] > found["m1"]["score"] >= 0.5
    assert all(f["transactions"] == hops for f in found.values())


def test_the_evidence_names_the_hops_amounts_and_hours() -> None:
    moves = ring(["a", "b", "c", "d"], yuan(10_000), hours_apart=10, fee_bp=200)

    evidence = findings(cycle, moves)["a"]["evidence"]

    # 10000 -> 9800 -> 9604 -> 9411.92 yuan, the last hop 30 hours after the first
    assert evidence == "hops=4 start=1000000 end=941192 hours=30 cycles=1"


def test_seven_hops_are_more_than_a_cycle_may_have() -> None:
    accounts = [f"m{i}" for i in range(7)]

    assert findings(cycle, ring(accounts, yuan(10_000), hours_apart=2)) == {}
    assert findings(cycle, ring(accounts, yuan(10_000)), Params(cycle_hops=7)).keys() == set(
        accounts
    )


def test_money_back_after_the_window_is_no_cycle() -> None:
    moves = ring(["a", "b", "c"], yuan(10_000), hours_apart=24 * 4)  # 8 days first to last

    assert findings(cycle, moves) == {}
    assert "a" in findings(cycle, moves, Params(cycle_days=9))


def test_a_hop_must_come_after_the_one_before() -> None:
    moves = [
        move("a", "b", yuan(10_000), hours=5),
        move("b", "c", yuan(9_800), hours=1),  # before b was paid
        move("c", "a", yuan(9_600), hours=9),
    ]

    assert findings(cycle, moves) == {}


def test_an_amount_that_grows_along_the_way_is_no_cycle() -> None:
    moves = [
        move("a", "b", yuan(10_000)),
        move("b", "c", yuan(10_500), hours=2),
        move("c", "a", yuan(10_200), hours=4),
    ]

    assert findings(cycle, moves) == {}


def test_a_hop_that_keeps_too_little_breaks_the_cycle() -> None:
    moves = ring(["a", "b", "c"], yuan(10_000), fee_bp=2_500)  # 75% kept, 80% needed

    assert findings(cycle, moves) == {}


def test_a_loan_repaid_in_full_stays_quiet() -> None:
    moves = [
        move("mother", "son", yuan(20_000)),
        move("son", "mother", yuan(20_000), days=5),
        move("son", "sister", yuan(3_000), days=1),
        move("sister", "mother", yuan(3_000), days=2),
    ]

    assert findings(cycle, moves) == {}


def test_small_everyday_amounts_round_a_family_stay_quiet() -> None:
    moves = ring(["dad", "mum", "kid"], yuan(900)) + ring(["mum", "dad"], yuan(500))

    assert findings(cycle, moves) == {}


def test_a_path_through_an_account_twice_is_no_cycle() -> None:
    # a b c b a keeps 98% each hop; straight back (b to a, 94% of a's) keeps too little
    params = Params(cycle_keep_bp=9_500)
    moves = [
        move("a", "b", yuan(10_000)),
        move("b", "c", yuan(9_800), hours=1),
        move("c", "b", yuan(9_600), hours=2),
        move("b", "a", yuan(9_400), hours=3),
    ]

    found = findings(cycle, moves, params)

    assert found.keys() == {"b", "c"}  # the b c b loop; a only on a path that revisits b
    assert found["b"]["evidence"] == "hops=2 start=980000 end=960000 hours=1 cycles=1"


def test_an_account_on_several_cycles_says_how_many_and_its_strongest() -> None:
    moves = ring(["a", "b"], yuan(10_000)) + [
        move(m["source"], m["target"], m["amount"], days=1, hours=h)
        for h, m in enumerate(ring(["c", "a", "d"], yuan(5_000)))
    ]

    found = findings(cycle, moves)

    assert found.keys() == {"a", "b", "c", "d"}
    assert found["a"]["evidence"].endswith("cycles=2")
    assert found["a"]["evidence"].startswith("hops=2 start=1000000")  # a's own, the origin
    assert found["a"]["transactions"] == 5


def test_a_hub_with_many_counterparties_is_left_out_of_cycles() -> None:
    moves = ring(["a", "exchange", "c"], yuan(10_000))
    moves += [move(f"client{i}", "exchange", yuan(2_000), days=2) for i in range(3)]

    assert findings(cycle, moves).keys() == {"a", "exchange", "c"}
    assert findings(cycle, moves, Params(cycle_max_counterparties=4)) == {}


def test_money_out_to_a_card_and_back_in_is_not_a_cycle() -> None:
    # a withdrawal to the user's card and a top-up from it: a round trip through the bank
    moves = [
        move("usr_a", "card:c1", yuan(2_000), hours=0),
        move("card:c1", "usr_a", yuan(1_900), hours=1),
    ]

    assert findings(cycle, moves) == {}
