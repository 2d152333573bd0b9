"""The rule sets that decided, and one of them beside the active set.

The risk engine keeps each rule set's text the first time it decides (`risk_rule_sets`,
in a short unit of work of its own after the deciding one commits: `keep`),
so an analyst can see every version that ran, read what changed (a diff of the two
files), and replay both over the same recent decisions: per rule its hits and precision
in each, and what each would have stopped. Rule sets still come from the rule file
(GUARDPAY_RISK_RULES, reviewed and deployed like code); this is where a change is
judged, before and after.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime, timedelta

from guardpay.domain.auth.roles import Role
from guardpay.domain.risk.rules import Rule, RuleSet, load_rule_set
from guardpay.errors import NotFound
from guardpay.services.platform.access import require_role
from guardpay.services.platform.context import Context
from guardpay.services.risk.backtest import Backtest, RuleStats, backtest_days
from guardpay.services.risk.engine import engine_of
from guardpay.storage.risk import RuleSetRow
from guardpay.storage.uow import UnitOfWork


@dataclass(frozen=True)
class Side:
    """One rule in one of the two sets (None where that set has no such rule)."""

    rule: Rule | None
    stats: RuleStats | None


@dataclass(frozen=True)
class Comparison:
    active: RuleSet
    other: RuleSet
    results: tuple[Backtest, Backtest]  # (active, other), over the same decisions
    rules: list[tuple[str, Side, Side]]  # by name: the active set's order, then the other's
    diff: list[str]  # unified, from the other set's file to the active one's
    since: datetime


def keep(uow: UnitOfWork, row: RuleSetRow) -> None:
    """Keep a rule set that decided (the engine's `keep_rule_set`, in its own unit)."""
    uow.risk.remember_rule_set(row)


def versions(ctx: Context) -> list[RuleSetRow]:
    """Every rule set that decided, newest first (any operator may read them)."""
    require_role(ctx, Role.VIEWER)
    return ctx.uow.risk.rule_sets()


def compare_with_active(ctx: Context, digest: str, days: int = 30) -> Comparison:
    """The version `digest` beside the active set, both replayed over the last `days` of
    decisions (an analyst's: it reads every decision of the period)."""
    require_role(ctx, Role.ANALYST)
    row = ctx.uow.risk.rule_set(digest)
    if row is None:
        raise NotFound("no such rule set version", code="rule_set_not_found", param="digest")
    active, other = engine_of(ctx).rules.current(), load_rule_set(row.text, source=row.label)
    since = ctx.now() - timedelta(days=days)
    results = (backtest_days(ctx, active, days), backtest_days(ctx, other, days))
    return Comparison(
        active,
        other,
        results,
        _by_rule(active, other, results),
        _diff(other, active),
        since,
    )


def _by_rule(
    active: RuleSet, other: RuleSet, results: tuple[Backtest, Backtest]
) -> list[tuple[str, Side, Side]]:
    mine, theirs = {r.name: r for r in active.rules}, {r.name: r for r in other.rules}
    return [
        (
            name,
            Side(mine.get(name), results[0].rules.get(name)),
            Side(theirs.get(name), results[1].rules.get(name)),
        )
        for name in dict.fromkeys([*mine, *theirs])
    ]


def _diff(old: RuleSet, new: RuleSet) -> list[str]:
    lines = difflib.unified_diff(
        old.text.splitlines(),
        new.text.splitlines(),
        fromfile=old.label,
        tofile=new.label,
        lineterm="",
    )
    return list(lines)
