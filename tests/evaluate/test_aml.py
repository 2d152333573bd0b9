"""AML detection judged on labelled simulated data: movements mapped the platform's way,
laundering accounts read from the labels, flagged accounts grouped into alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pyarrow as pa

from guardpay.evaluate.aml import alert_groups, evaluate, laundering_accounts, transactions

T0 = datetime(2025, 3, 1, 9, tzinfo=UTC)


def row(
    user: str,
    payee: str = "",
    amount: int = 10_000,
    *,
    kind: str = "transfer",
    hours: float = 0,
    merchant: str = "",
    status: str = "succeeded",
    laundering: str = "",
    fraud: bool = False,
) -> dict[str, Any]:
    at = T0 + timedelta(hours=hours)
    return {
        "tx_id": f"t{user}{payee}{hours}{kind}",
        "ts": at,
        "day": int(hours // 24),
        "kind": kind,
        "channel": kind,
        "user_id": user,
        "payee_id": payee,
        "payee_is_merchant": bool(merchant),
        "merchant_id": merchant,
        "amount": amount,
        "currency": "CNY",
        "device_id": f"dev-{user}",
        "status": status,
        "is_fraud": int(fraud),
        "is_laundering": int(bool(laundering)),
        "laundering_typology": laundering,
    }


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows)


def test_movements_are_mapped_the_platforms_way() -> None:
    moved = transactions(
        frame(
            [
                row("P1", kind="topup", amount=500),
                row("P1", kind="withdrawal", amount=400, hours=1),
                row("P1", merchant="M1", kind="payment", amount=300, hours=2),
                row("P1", merchant="M1", kind="refund", amount=100, hours=3),
                row("P1", "P2", amount=50, hours=4),
                row("P1", "P2", amount=60, hours=5, status="failed"),
            ]
        )
    ).to_pylist()

    assert [(m["source"], m["target"], m["amount"]) for m in moved] == [
        ("card:P1", "P1", 500),
        ("P1", "card:P1", 400),
        ("P1", "M1", 300),
        ("M1", "P1", 100),
        ("P1", "P2", 50),
    ]
    assert moved[0]["at"] == T0.replace(tzinfo=None)


def test_laundering_accounts_are_the_payers_and_people_paid() -> None:
    labelled = frame(
        [
            row("L1", "L2", laundering="cycle"),
            row("L3", merchant="M1", kind="payment", laundering="structuring"),
            row("P1", "P2"),
        ]
    )

    assert laundering_accounts(labelled) == {"L1": "cycle", "L2": "cycle", "L3": "structuring"}


def test_flagged_accounts_that_moved_money_among_themselves_are_one_alert() -> None:
    moved = pa.table({"source": ["a", "b", "x", "q"], "target": ["b", "c", "y", "a"]})

    groups = alert_groups(moved, {"a", "b", "c", "y", "z"})

    assert sorted(sorted(g) for g in groups) == [["a", "b", "c"], ["y"], ["z"]]


def test_a_mule_network_is_caught_whole_as_one_alert() -> None:
    case = [row(f"F{i}", "MULE", 300_000, hours=i / 4, laundering="mule_network") for i in range(4)]
    case += [
        row("MULE", f"O{i}", 290_000, hours=3 + i / 4, laundering="mule_network") for i in range(4)
    ]
    life = [row(f"P{i}", f"P{i + 1}", 5_000, hours=i) for i in range(40)]

    figures = evaluate(frame(case + life))

    assert figures["laundering_accounts"] == 9
    assert figures["per_typology"]["mule_network"]["caught"] == 9
    assert figures["precision"] == 1.0
    assert figures["alerts"] == 1
    assert figures["flagged_accounts"] == 9
