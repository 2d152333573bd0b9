"""The evaluation's figures on a 12-row table whose every number is computed by hand."""

from __future__ import annotations

import polars as pl
import pytest

from guardpay.evaluate.metrics import CatchPolicy, compute_metrics

ATO, SCAM = "account_takeover", "scam_impersonation"
# (is_fraud, typology, amount, decision, day)
ROWS = [
    (1, ATO, 1_000, "deny", 10),  # caught
    (1, ATO, 3_000, "challenge", 10),  # caught: a takeover cannot pass the step-up
    (1, ATO, 1_000, "allow", 11),
    (1, SCAM, 50_000, "review", 10),  # caught (held)
    (1, SCAM, 20_000, "challenge", 11),  # not caught: the victim passes the challenge
    (1, SCAM, 30_000, "allow", 11),
    (0, "", 500, "allow", 10),
    (0, "", 700, "challenge", 10),
    (0, "", 800, "review", 11),
    (0, "", 900, "deny", 11),
    (0, "", 100, "allow", 11),
    (0, "", 200, "allow", 10),
]


def table(rows: list[tuple[int, str, int, str, int]] = ROWS) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "is_fraud": pl.Int8,
            "fraud_typology": pl.String,
            "amount": pl.Int64,
            "decision": pl.String,
            "day": pl.Int64,
        },
        orient="row",
    )


def test_overall_figures_match_the_hand_computation() -> None:
    m = compute_metrics(table())
    assert (m["requests"], m["fraud"], m["legit"], m["fraud_amount"]) == (12, 6, 6, 105_000)
    assert m["fraud_recall_by_count"] == pytest.approx(3 / 6)
    assert m["fraud_recall_by_amount"] == pytest.approx(54_000 / 105_000)
    assert m["review_rate"] == pytest.approx(2 / 12)
    assert m["deny_rate"] == pytest.approx(2 / 12)
    assert m["false_deny_rate"] == pytest.approx(1 / 6)
    assert m["challenge_rate_legit"] == pytest.approx(1 / 6)
    assert m["review_precision"] == pytest.approx(1 / 2)
    assert m["deny_precision"] == pytest.approx(1 / 2)
    assert (m["loss_prevented"], m["loss_let_through"]) == (54_000, 51_000)
    assert m["losses_by_day"] == [
        {"day": 10, "prevented": 54_000, "let_through": 0},
        {"day": 11, "prevented": 0, "let_through": 51_000},
    ]


def test_per_typology_recall_precision_and_misses() -> None:
    m = compute_metrics(table())
    ato, scam = m["per_typology"][ATO], m["per_typology"][SCAM]
    assert (ato["count"], ato["amount"], ato["caught"], ato["caught_amount"]) == (
        3,
        5_000,
        2,
        4_000,
    )
    assert ato["recall_by_count"] == pytest.approx(2 / 3)
    assert ato["recall_by_amount"] == pytest.approx(0.8)
    assert (ato["denied"], ato["reviewed"], ato["challenged"], ato["allowed"]) == (1, 0, 1, 1)
    assert ato["review_precision"] == 0.0
    assert ato["deny_precision"] == pytest.approx(1 / 2)
    assert scam["recall_by_count"] == pytest.approx(1 / 3)
    assert scam["recall_by_amount"] == pytest.approx(50_000 / 100_000)
    assert scam["review_precision"] == pytest.approx(1 / 2)
    assert scam["deny_precision"] == 0.0
    assert (scam["loss_prevented"], scam["loss_let_through"]) == (50_000, 50_000)
    # shares of the queues add up to the overall precision
    assert ato["review_precision"] + scam["review_precision"] == m["review_precision"]
    assert m["missed_typologies"] == [SCAM]


def test_targets_are_reported_not_asserted() -> None:
    t = compute_metrics(table())["targets"]
    assert set(t) == {"fraud_recall_by_amount", "review_rate", "false_deny_rate"}
    assert [v["met"] for v in t.values()] == [False, False, False]
    ok = compute_metrics(table([(1, ATO, 100, "deny", 1)] + [(0, "", 10, "allow", 1)] * 999))
    assert ok["targets"]["fraud_recall_by_amount"]["met"] is True
    assert ok["targets"]["review_rate"]["met"] is True
    assert ok["targets"]["false_deny_rate"]["met"] is True


def test_a_challenge_counts_only_where_the_policy_says_so() -> None:
    m = compute_metrics(table(), CatchPolicy(challenge_stops=()))
    assert m["fraud_recall_by_count"] == pytest.approx(2 / 6)
    assert m["per_typology"][ATO]["recall_by_amount"] == pytest.approx(0.2)
    everything = compute_metrics(table(), CatchPolicy(challenge_stops=(ATO, "scam")))
    assert everything["fraud_recall_by_count"] == pytest.approx(4 / 6)


def test_typology_names_match_exactly_or_by_prefix() -> None:
    policy = CatchPolicy()
    assert policy.challenge_caught("account_takeover")
    assert policy.challenge_caught("account_takeover_sim_swap")
    assert policy.challenge_caught("card_testing")
    assert not policy.challenge_caught("account_takeovers")
    assert not policy.challenge_caught("stolen_card_topup")
    assert not policy.challenge_caught("scam_safe_account")


def test_undefined_ratios_are_none_not_zero() -> None:
    m = compute_metrics(table([(0, "", 10, "allow", 1), (0, "", 20, "allow", 2)]))
    assert m["fraud_recall_by_count"] is None
    assert m["fraud_recall_by_amount"] is None
    assert m["review_precision"] is None
    assert m["deny_precision"] is None
    assert m["review_rate"] == 0.0
    assert m["per_typology"] == {}
    assert m["missed_typologies"] == []
    assert m["targets"]["fraud_recall_by_amount"]["met"] is None


def test_fraud_without_a_typology_is_grouped_not_dropped() -> None:
    m = compute_metrics(table([(1, "", 10, "deny", 1), (0, "", 20, "allow", 1)]))
    assert list(m["per_typology"]) == ["(no typology)"]
    assert m["per_typology"]["(no typology)"]["recall_by_count"] == 1.0
