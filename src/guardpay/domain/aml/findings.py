"""What a scenario returns: one row per account it flags, with the evaluated values that
made it fire, so an analyst (and the model) can see why.

A scenario builds its findings with `finding()`, which fixes the columns and their
types; `combine()` folds every scenario's findings into one row per account: the scores
combine as independent evidence (1 - the product of 1 - score), the typologies and
explanations are listed in a stable order.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from ibis import _

SCHEMA = ibis.schema(
    {
        "account": dt.String(nullable=False),
        "typology": dt.String(nullable=False),
        "score": dt.Float64(nullable=False),
        "transactions": dt.Int64(nullable=False),
        "first_seen": dt.Timestamp(nullable=False),
        "last_seen": dt.Timestamp(nullable=False),
        "evidence": dt.String(nullable=False),
    }
)
COLUMNS = tuple(SCHEMA.names)


def finding(
    table: ir.Table,
    typology: str,
    *,
    account: ir.Value,
    score: ir.Value,
    transactions: ir.Value,
    first_seen: ir.Value,
    last_seen: ir.Value,
    evidence: ir.Value,
) -> ir.Table:
    """`table`'s rows as findings of `typology` (each argument an expression over it)."""
    return table.select(
        account=account.cast("string"),
        typology=ibis.literal(typology),
        score=score.cast("float64").clip(lower=0.0, upper=1.0),
        transactions=transactions.cast("int64"),
        first_seen=first_seen.cast("timestamp"),
        last_seen=last_seen.cast("timestamp"),
        evidence=evidence.cast("string"),
    )


def said(*parts: tuple[str, ir.Value]) -> ir.StringValue:
    """`name=value` pairs joined by spaces: a finding's evidence, built in the engine."""
    pieces: list[ir.StringValue] = []
    for name, value in parts:
        pieces.append(ibis.literal(f"{name}=") + value.cast("string"))
    joined = pieces[0]
    for piece in pieces[1:]:
        joined = joined + ibis.literal(" ") + piece
    return joined


def union(findings: Sequence[ir.Table]) -> ir.Table:
    """Every scenario's findings in one table (an empty scan still has the columns)."""
    if not findings:
        return ibis.memtable([], schema=SCHEMA)
    return ibis.union(*findings, distinct=False) if len(findings) > 1 else findings[0]


def combine(findings: ir.Table) -> ir.Table:
    """One row per account: `score` (independent evidence), `typologies` and
    `explanation` (`;`-joined, by typology), `first_seen`, `last_seen`."""
    per_typology = findings.group_by(["account", "typology"]).aggregate(
        score=findings.score.max(),
        first_seen=findings.first_seen.min(),
        last_seen=findings.last_seen.max(),
        evidence=findings.evidence.min(),
        transactions=findings.transactions.sum(),
    )
    # the product of (1 - score) as a sum of logs; a certain finding (1.0) stays certain
    missing = (1.0 - per_typology.score).clip(lower=1e-9).ln()
    return (
        per_typology.mutate(miss=missing, said=per_typology.typology + ": " + per_typology.evidence)
        .group_by("account")
        .aggregate(
            score=1.0 - _.miss.sum().exp(),
            typologies=_.typology.collect().sort().join(","),
            explanation=_.said.collect().sort().join("; "),
            transactions=_.transactions.sum(),
            first_seen=_.first_seen.min(),
            last_seen=_.last_seen.max(),
        )
        .order_by([ibis.desc("score"), "account"])
    )
