"""Typed factories for AML tests: money moves written the way an analyst would draw
them (who paid whom, how much, when), and a helper that runs one scenario over them."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from guardpay.adapters.analytics import DuckDBEngine, Engine
from guardpay.domain.aml.frame import SCHEMA, Params
from guardpay.domain.aml.registry import Run

#: when a test's story starts
T0 = datetime(2024, 3, 1, 9, 0)
_ids = itertools.count(1)

Move = dict[str, Any]


def yuan(amount: int) -> int:
    """Whole yuan in fen, the minor units every scenario reads."""
    return amount * 100


def move(
    source: str,
    target: str,
    amount: int,
    *,
    days: float = 0.0,
    hours: float = 0.0,
    minutes: float = 0.0,
    device: str | None = None,
    id: str | None = None,
) -> Move:
    """One transaction of `amount` minor units, `days`/`hours`/`minutes` after T0."""
    return {
        "id": id or f"tx{next(_ids)}",
        "source": source,
        "target": target,
        "amount": amount,
        "at": T0 + timedelta(days=days, hours=hours, minutes=minutes),
        "device": device,
    }


def table(moves: Iterable[Move]) -> pa.Table:
    return pa.Table.from_pylist(list(moves), schema=SCHEMA.to_pyarrow())


def findings(
    run: Run, moves: Iterable[Move], params: Params = Params(), engine: Engine | None = None
) -> dict[str, dict[str, Any]]:
    """What `run` finds in `moves`, by account (DuckDB unless `engine` is given)."""
    engine = engine or DuckDBEngine()
    rows = engine.run(run(engine.table(table(moves)), params)).to_pylist()
    by_account = {r["account"]: r for r in rows}
    assert len(by_account) == len(rows), f"an account found twice: {rows}"
    return by_account


def ring(
    accounts: list[str], amount: int, *, hours_apart: float = 6.0, fee_bp: int = 300
) -> list[Move]:
    """Money sent round `accounts` and back to the first, one hop every `hours_apart`
    hours, each hop `fee_bp` basis points smaller than the one before."""
    moves: list[Move] = []
    for hop, payer in enumerate(accounts):
        payee = accounts[(hop + 1) % len(accounts)]
        moves.append(move(payer, payee, amount, hours=hop * hours_apart))
        amount -= amount * fee_bp // 10_000
    return moves
