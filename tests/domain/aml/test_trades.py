from datetime import timedelta

from guardpay.domain.aml.frame import Params
from guardpay.domain.aml.scenarios.trades import SCENARIOS, false_trade
from tests.domain.aml.world import T0, Move, findings, move, yuan


def takings(payers: list[str], count: int = 6, amount: int = yuan(500)) -> list[Move]:
    """`count` payments of `amount` into a shop, twelve hours apart, from `payers` in
    turn (the first pays at T0)."""
    return [move(payers[i % len(payers)], "shop", amount, days=i / 2) for i in range(count)]


def base_evidence(
    returned: int = 0, own_device: int = 0, refunds: int = 0, refunded_share: int = 0
) -> str:
    return (
        f"round_trades=6 payers=2 round_share=10000 returned_to_payers={returned} "
        f"payer_on_own_device={own_device} refunds_after_settlement={refunds} "
        f"refunded_share={refunded_share}"
    )


def refunded_after_banking(banked: float = 3, refunded: float = 6) -> list[Move]:
    """The shop of `takings(["p1", "p2"])` banks its ¥3,000 on day `banked`, then on day
    `refunded` pays each payer back ¥500 (the price it paid) twice: two thirds of what
    it took."""
    back = [move("shop", f"p{1 + k % 2}", yuan(500), days=refunded, hours=k) for k in range(4)]
    return [move("shop", "card:bank", yuan(3_000), days=banked), *back]


# -- what fires


def test_round_takings_from_two_payers_with_money_sent_back_is_false_trade() -> None:
    moves = [*takings(["p1", "p2"]), move("shop", "p2", yuan(900), days=1)]

    found = findings(false_trade, moves)

    assert found.keys() == {"shop"}
    shop = found["shop"]
    assert shop["score"] >= 0.7
    assert shop["evidence"] == base_evidence(returned=1)
    assert shop["transactions"] == 6
    assert (shop["first_seen"], shop["last_seen"]) == (T0, T0 + timedelta(days=2.5))


def test_round_takings_settled_then_mostly_refunded_is_false_trade() -> None:
    # p1 and p2 each paid ¥500 three times by day 2.5; the shop banks on day 3, and on
    # day 6 (past `pass_hours`) refunds ¥2,000 of its ¥3,000
    moves = [*takings(["p1", "p2"]), *refunded_after_banking()]

    found = findings(false_trade, moves)

    assert found["shop"]["score"] == 0.7
    assert found["shop"]["evidence"] == base_evidence(refunds=4, refunded_share=6666)
    assert found["shop"]["last_seen"] == moves[-1]["at"]  # the last refund, after the trades


def test_refunds_of_half_the_takings_are_enough_and_the_share_is_a_setting() -> None:
    half = [*takings(["p1", "p2"]), *refunded_after_banking()[:-1]]  # ¥1,500 of ¥3,000
    one = [*takings(["p1", "p2"]), *refunded_after_banking()[:2]]  # ¥500

    assert findings(false_trade, half)["shop"]["score"] == 0.7
    assert findings(false_trade, one)["shop"]["score"] == 0.4
    assert findings(false_trade, one, Params(refund_bp=1_000))["shop"]["score"] == 0.7


def test_every_kind_of_evidence_together_is_certain() -> None:
    moves = [
        *takings(["p1", "p2"]),
        move("shop", "p1", yuan(900), days=1),
        *refunded_after_banking(),
    ]

    assert findings(false_trade, moves)["shop"]["score"] == 1.0


def test_a_refund_after_settlement_is_not_also_money_sent_back() -> None:
    # banked on day 2.6, refunded on day 3: within `pass_hours` of the trades, all of a
    # price paid back, yet one kind of evidence
    moves = [*takings(["p1", "p2"]), *refunded_after_banking(banked=2.6, refunded=3)]

    found = findings(false_trade, moves)

    assert found["shop"]["score"] == 0.7
    assert found["shop"]["evidence"] == base_evidence(refunds=4, refunded_share=6666)


def test_a_payer_paying_from_the_merchants_own_device_is_self_dealing() -> None:
    moves = [
        *(
            m | {"device": "shop-phone"} if m["source"] == "p1" else m
            for m in takings(["p1", "p2"])
        ),
        move("shop", "supplier", yuan(50), days=4, device="shop-phone"),
    ]

    found = findings(false_trade, moves)

    assert found["shop"]["score"] >= 0.7
    assert found["shop"]["evidence"] == base_evidence(own_device=3)


def test_the_strongest_window_is_the_one_reported() -> None:
    early = takings(["p1", "p2"], count=8)
    later = [move(f"q{i % 2}", "shop", yuan(500), days=20 + i / 2) for i in range(6)]
    back = move("shop", "q1", yuan(900), days=21)

    found = findings(false_trade, [*early, *later, back])

    assert found["shop"]["score"] == 0.7  # fewer round trades, but money went back
    assert found["shop"]["first_seen"] == later[0]["at"]


def test_money_back_counts_from_pass_bp_of_the_round_trade_it_answers() -> None:
    def back(amount: int, p: Params = Params()) -> str:
        moves = [*takings(["p1", "p2"]), move("shop", "p2", amount, days=1)]
        return str(findings(false_trade, moves, p)["shop"]["evidence"])

    assert back(yuan(400)) == base_evidence(returned=1)  # 80 % of a ¥500 trade
    assert back(yuan(400) - 1) == base_evidence()
    assert back(yuan(100), Params(pass_bp=2_000)) == base_evidence(returned=1)


# -- what stays quiet


def test_a_barber_with_fixed_prices_paid_by_many_customers_stays_quiet() -> None:
    cuts = [
        move(f"c{(day * 7 + i) % 40}", "barber", yuan(100), days=day, hours=i)
        for day in range(14)
        for i in range(10)
    ]
    banked = [move("barber", "card:bank", yuan(1_000), days=day, hours=20) for day in range(14)]

    assert findings(false_trade, cuts + banked) == {}


def test_a_tutor_paid_by_one_parent_is_only_the_base_and_not_flagged() -> None:
    lessons = [move("parent", "tutor", yuan(200), days=day) for day in range(5)]
    banked = move("tutor", "card:bank", yuan(1_000), days=6)

    found = findings(false_trade, [*lessons, banked])

    assert found["tutor"]["score"] < 0.5
    assert found["tutor"]["evidence"] == (
        "round_trades=5 payers=1 round_share=10000 returned_to_payers=0 "
        "payer_on_own_device=0 refunds_after_settlement=0 refunded_share=0"
    )


def test_a_tutor_who_banks_and_refunds_one_cancelled_lesson_stays_quiet() -> None:
    # the refund is after settlement and within `pass_hours` of a lesson: one payment,
    # one kind of evidence, and one lesson in six is no false trade
    lessons = [move("parent", "tutor", yuan(200), days=day) for day in range(6)]
    banked = move("tutor", "card:bank", yuan(1_000), days=6)
    cancelled = move("tutor", "parent", yuan(200), days=6.5)

    found = findings(false_trade, [*lessons, banked, cancelled])

    assert found["tutor"]["score"] == 0.4
    assert found["tutor"]["evidence"] == (
        "round_trades=6 payers=1 round_share=10000 returned_to_payers=0 "
        "payer_on_own_device=0 refunds_after_settlement=1 refunded_share=1666"
    )
    assert found["tutor"]["last_seen"] == lessons[-1]["at"]  # the refund adds nothing


def test_pocket_money_with_a_little_sent_back_stays_quiet() -> None:
    allowance = [move("mum", "kid", yuan(100), days=day) for day in range(6)]
    groceries = move("kid", "mum", 3_550, days=2)

    found = findings(false_trade, [*allowance, groceries])

    assert found["kid"]["score"] < 0.5
    assert "returned_to_payers=0" in found["kid"]["evidence"]


def test_a_couple_paying_round_sums_one_way_and_a_little_back_stays_quiet() -> None:
    bills = [move("a", "b", yuan(200), days=day) for day in range(5)]
    back = move("b", "a", 4_321, days=3)

    found = findings(false_trade, [*bills, back])

    assert found.keys() <= {"b"}
    assert all(f["score"] < 0.5 for f in found.values())


def test_a_shop_that_refunds_before_it_settles_has_no_refund_evidence() -> None:
    # many customers (quiet anyway); one returns what it bought on day 0, on day 4
    sales = [move(f"c{i}", "shop", yuan(100), days=i / 4) for i in range(16)]
    refund = move("shop", "c0", yuan(100), days=4)
    everyone = Params(trade_payers=100)

    def settled_on(day: float) -> dict[str, str]:
        moves = [*sales, refund, move("shop", "card:bank", yuan(1_500), days=day)]
        return {a: f["evidence"] for a, f in findings(false_trade, moves, everyone).items()}

    assert findings(false_trade, [*sales, refund, move("shop", "card:bank", 1, days=6)]) == {}
    assert "refunds_after_settlement=0" in settled_on(6)["shop"]
    assert "refunds_after_settlement=1" in settled_on(3)["shop"]  # banked, then refunded


def test_a_card_top_up_is_not_a_trade() -> None:
    trades = [move("p1", "shop", yuan(500), days=day) for day in range(3)]
    top_ups = [move("card:1", "shop", yuan(500), days=day + 0.5) for day in range(2)]
    from_a_friend = [move("p2", "shop", yuan(500), days=day + 0.5) for day in range(2)]

    assert findings(false_trade, trades + top_ups) == {}
    assert findings(false_trade, trades + from_a_friend)["shop"]["transactions"] == 5


def test_mostly_uneven_amounts_are_not_round_takings() -> None:
    uneven = [move("p1", "shop", yuan(500) + 37, days=day) for day in range(3)]
    round_ones = [move("p2", "shop", yuan(500), days=day + 0.5) for day in range(2)]

    assert findings(false_trade, uneven + round_ones) == {}
    assert "shop" in findings(false_trade, uneven + round_ones, Params(trade_round_bp=4_000))


def test_more_payers_than_the_limit_are_a_real_shop() -> None:
    moves = takings(["p1", "p2", "p3", "p4"])

    assert findings(false_trade, moves) == {}
    assert "shop" in findings(false_trade, moves, Params(trade_payers=4))


def test_payments_further_apart_than_the_window_are_not_concentrated() -> None:
    weekly = [move(f"p{i % 2}", "shop", yuan(500), days=2 * i) for i in range(6)]

    assert findings(false_trade, weekly) == {}
    assert "shop" in findings(false_trade, weekly, Params(trade_days=10))


def test_money_back_after_pass_hours_is_not_self_dealing() -> None:
    moves = [*takings(["p1", "p2"]), move("shop", "p2", yuan(900), days=6)]

    assert findings(false_trade, moves)["shop"]["evidence"] == base_evidence()


def test_a_refund_of_another_amount_is_no_refund_of_a_trade() -> None:
    moves = [
        *takings(["p1", "p2"]),
        *(
            m | {"amount": yuan(450)} if m["target"] != "card:bank" else m
            for m in refunded_after_banking()
        ),
    ]

    assert findings(false_trade, moves)["shop"]["score"] == 0.4


def test_null_devices_are_nobodys_device() -> None:
    moves = [*takings(["p1", "p2"]), move("shop", "supplier", yuan(50), days=4)]

    assert findings(false_trade, moves)["shop"]["evidence"] == base_evidence()


def test_false_trade_is_registered_and_needs_no_optional_column() -> None:
    assert [(s.typology, s.needs) for s in SCENARIOS] == [("false_trade", frozenset())]
    assert SCENARIOS[0].why.startswith("Round takings from a few payers")


def test_a_window_that_needs_no_round_sums_reads_every_account() -> None:
    uneven = [move(f"p{day % 2}", "shop", yuan(500) + 37, days=day) for day in range(5)]

    assert findings(false_trade, uneven) == {}
    assert (
        "round_share=0"
        in findings(false_trade, uneven, Params(trade_round_bp=0))["shop"]["evidence"]
    )
