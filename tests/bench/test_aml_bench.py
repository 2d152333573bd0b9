from guardpay.bench import aml
from guardpay.domain.aml.scenarios import SCENARIOS


def test_a_small_run_scans_with_every_scenario_and_finds_what_was_planted() -> None:
    result = aml.run(transactions=5_000, accounts=500, cases=3)

    assert result["engine"] == "duckdb"
    assert result["transactions"] > 5_000  # the planted cases come on top
    ran = [s["typology"] for s in result["scenarios"]]
    assert ran == [s.typology for s in SCENARIOS] + ["network"]  # then the second look
    assert result["planted_found"] == result["planted"]
    assert result["baseline"]["rows_per_second"] > 0
    assert result["scan_seconds"] > 0


def test_ordinary_life_is_the_size_asked_for_and_never_pays_itself() -> None:
    table = aml.ordinary(10_000, 1_000)

    assert table.num_rows == 10_000
    assert not any(
        s == t
        for s, t in zip(table["source"].to_pylist(), table["target"].to_pylist(), strict=True)
    )
    assert len(set(table["source"].to_pylist())) <= 1_000
