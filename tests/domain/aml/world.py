"""Typed factories for AML tests: money moves written the way an analyst would draw
them (who paid whom, how much, when), and a helper that runs one scenario over them."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
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


def labelled_world(seed: int, ordinary: int = 300, mules: int = 30) -> tuple[pa.Table, set[str]]:
    """Ordinary people paying friends small sums over a month, and mules who each take
    one large payment from a feeder and pass nearly all of it to a sink within hours.
    Only the mules are labelled: the feeders and sinks also move one large sum once, so
    what tells a mule apart is the money passing through."""
    rng = np.random.default_rng(seed)
    moves: list[Move] = []
    for i in range(ordinary):
        friends = rng.choice(ordinary, 5, replace=False)
        for _ in range(int(rng.integers(2, 9))):
            amount = yuan(int(rng.lognormal(4.5, 0.8)) + 1)
            moves.append(move(f"o{i}", f"o{rng.choice(friends)}", amount, days=rng.random() * 30))
    for i in range(mules):
        amount, at = yuan(int(rng.integers(10_000, 30_000))), rng.random() * 29
        kept = int(rng.integers(300, 800))
        moves.append(move(f"f{seed}_{i}", f"m{i}", amount, days=at))
        moves.append(move(f"m{i}", f"s{seed}_{i}", amount - yuan(kept), days=at, hours=2))
    return table(moves), {f"m{i}" for i in range(mules)}
