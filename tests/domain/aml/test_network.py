"""The second look: the one-off accounts around a flagged mule are flagged with it; a
shop's ordinary customers are not."""

from datetime import timedelta

import pyarrow as pa

from guardpay.adapters.analytics import DuckDBEngine
from guardpay.domain.aml.frame import Params
from guardpay.domain.aml.network import counterparties
from tests.domain.aml.world import T0, Move, move, table, yuan


def around(moves: list[Move], core: dict[str, tuple[float, float]]) -> dict[str, str]:
    """`network` findings (account: evidence) around `core` (account: hours flagged)."""
    engine = DuckDBEngine()
    flagged = pa.table(
        {
            "account": list(core),
            "first_seen": [T0 + timedelta(hours=a) for a, _ in core.values()],
            "last_seen": [T0 + timedelta(hours=b) for _, b in core.values()],
        }
    )
    tx = engine.table(table(moves))
    rows = engine.run(counterparties(tx, engine.table(flagged), Params()))
    return {r["account"]: r["evidence"] for r in rows.to_pylist()}


def mule_case() -> list[Move]:
    feeders = [move(f"feeder{i}", "mule", yuan(2_000), hours=i) for i in range(3)]
    outs = [move("mule", f"out{i}", yuan(1_900), hours=6 + i) for i in range(3)]
    return feeders + outs


def test_feeders_and_receivers_of_a_flagged_mule_are_flagged_too() -> None:
    found = around(mule_case(), {"mule": (0, 8)})

    assert found.keys() == {f"feeder{i}" for i in range(3)} | {f"out{i}" for i in range(3)}
    assert found["feeder0"] == "flagged_counterparty=mule share_bp=10000 counterparties=1"


def test_a_customer_who_pays_many_others_stays_quiet() -> None:
    life = [move("feeder0", f"shop{i}", yuan(800), hours=20 + i) for i in range(4)]

    found = around(mule_case() + life, {"mule": (0, 8)})

    assert "feeder0" not in found  # the mule had 2,000 of the 5,200 it moved
    assert "feeder1" in found


def test_dealings_long_after_the_flagged_activity_do_not_count() -> None:
    later = [move("stranger", "mule", yuan(2_000), days=30)]

    assert "stranger" not in around(mule_case() + later, {"mule": (0, 8)})


def test_flagged_accounts_and_cards_are_not_flagged_again() -> None:
    moves = [*mule_case(), move("mule", "card:c1", yuan(500), hours=7)]

    found = around(moves, {"mule": (0, 8), "out0": (6, 6)})

    assert "out0" not in found
    assert "card:c1" not in found


def test_a_counterparty_of_an_account_flagged_twice_is_counted_once() -> None:
    from guardpay.services.aml.scan import _around

    moves = [move("mule", "x", yuan(1_000), hours=1), move("other", "x", yuan(1_000), hours=2)]
    engine = DuckDBEngine()
    twice = pa.table(
        {
            "account": ["mule", "mule"],
            "typology": ["fan_out", "rapid_pass_through"],
            "score": [0.9, 0.9],
            "transactions": [1, 1],
            "first_seen": [T0, T0],
            "last_seen": [T0 + timedelta(hours=1)] * 2,
            "evidence": ["", ""],
        }
    )

    found = _around(engine, engine.table(table(moves)), twice, Params())

    assert found is not None
    assert found[0].num_rows == 0  # half of what x moved was with the mule, not all of it
