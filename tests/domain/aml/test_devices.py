from guardpay.domain.aml.frame import Params
from guardpay.domain.aml.scenarios.devices import SCENARIOS, account_farm
from tests.domain.aml.world import Move, findings, move, yuan


def farm(accounts: int, *, collector: str = "boss", phone: str = "phone1") -> list[Move]:
    """`accounts` accounts, each paying `collector` from `phone`, a day apart."""
    return [
        move(f"mule{i}", collector, yuan(3_000 + i), days=i, device=phone) for i in range(accounts)
    ]


def test_accounts_on_one_device_paying_one_collector_are_a_farm() -> None:
    found = findings(account_farm, farm(5))

    assert found.keys() == {"boss", *(f"mule{i}" for i in range(5))}
    assert found["boss"]["score"] > found["mule0"]["score"] >= 0.5
    assert found["boss"]["transactions"] == 5
    assert found["boss"]["evidence"] == "device=phone1 accounts=5 payers=5 collector=boss"
    assert found["mule3"]["evidence"] == "device=phone1 accounts=5 paid_collector=5 collector=boss"


def test_most_is_enough_and_farm_accounts_that_did_not_pay_the_collector_stay_out() -> None:
    moves = [*farm(4), move("cover", "shop", yuan(40), device="phone1")]

    found = findings(account_farm, moves)

    assert found.keys() == {"boss", "mule0", "mule1", "mule2", "mule3"}
    assert "accounts=5 payers=4" in found["boss"]["evidence"]


def test_only_payments_from_the_shared_device_count() -> None:
    moves = [*farm(4), move("mule0", "boss", yuan(900), days=9, device="phone1")]
    moves += [move("mule1", "boss", yuan(900), days=9, device="laptop")]
    own_phones = [move(f"p{i}", "boss", yuan(50), device=f"own{i}") for i in range(3)]
    own_phones += [move(f"p{i}", f"shop{i}", yuan(50), device="till") for i in range(4)]

    found = findings(account_farm, moves + own_phones)

    assert found["mule0"]["transactions"] == 2
    assert found["mule1"]["transactions"] == 1
    assert found.keys() == {"boss", "mule0", "mule1", "mule2", "mule3"}


def test_a_family_sharing_a_tablet_stays_quiet() -> None:
    moves = [
        move("dad", "grocer", yuan(200), device="tablet"),
        move("mum", "pharmacy", yuan(80), days=1, device="tablet"),
        move("kid", "games", yuan(30), days=2, device="tablet"),
        move("kid", "grocer", yuan(20), days=3, device="tablet"),
    ]

    assert findings(account_farm, moves) == {}


def test_a_family_of_three_paying_the_same_shop_is_too_small_for_a_farm() -> None:
    assert findings(account_farm, farm(3, collector="grocer")) == {}


def test_many_accounts_on_one_device_paying_different_shops_stay_quiet() -> None:
    moves = [move(f"guest{i}", f"shop{i}", yuan(50), device="cafe-pc") for i in range(8)]
    moves += [move("guest0", "shop9", yuan(50), device="cafe-pc")]
    moves += [move("guest1", "shop9", yuan(50), device="cafe-pc")]

    assert findings(account_farm, moves) == {}  # shop9: 2 of 8, not most


def test_a_popular_shop_paid_from_many_phones_stays_quiet() -> None:
    moves = [move(f"c{i}", "shop", yuan(50), device=f"phone{i}") for i in range(20)]

    assert findings(account_farm, moves) == {}


def test_an_account_on_two_farms_is_one_finding_its_strongest() -> None:
    moves = farm(4) + farm(6, collector="boss2", phone="phone2")

    found = findings(account_farm, moves)

    assert "collector=boss2" in found["mule0"]["evidence"]  # 6 payers beat 4
    assert found.keys() == {"boss", "boss2", *(f"mule{i}" for i in range(6))}


def test_fewer_accounts_than_the_farm_size_stay_quiet_whatever_they_pay() -> None:
    assert findings(account_farm, farm(5), Params(farm_size=6)) == {}


def test_the_farm_reads_the_device_column() -> None:
    assert SCENARIOS[0].needs == frozenset({"device"})
