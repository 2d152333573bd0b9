"""Backtests: a rule set replayed over the decisions the platform stored.

Every decision kept the features it was made on, so a candidate rule set is evaluated
against exactly what production saw, without recomputing history, and compared with the
outcomes known since (labels, and the maturity rule of services/risk/models.py). Per
rule: hits, and precision and recall against fraud; overall: what the candidate would
have decided, and how many known frauds it would have stopped (review or deny).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from guardpay.domain.auth.roles import Role
from guardpay.domain.risk.decision import Action, decide
from guardpay.domain.risk.rules import RuleHit, RuleSet, evaluate, with_defaults
from guardpay.services.platform.access import require_role
from guardpay.services.platform.context import Context
from guardpay.services.risk.engine import engine_of
from guardpay.services.risk.models import outcome_of
from guardpay.storage.risk import DecisionRow
from guardpay.storage.uow import UnitOfWork

STOPPING = frozenset({Action.REVIEW, Action.DENY})


@dataclass
class RuleStats:
    hits: int = 0
    fraud_hits: int = 0
    labelled_hits: int = 0

    def precision(self) -> float | None:
        return None if self.labelled_hits == 0 else self.fraud_hits / self.labelled_hits


@dataclass
class Backtest:
    decisions: int = 0
    fraud: int = 0
    legit: int = 0
    stopped_fraud: int = 0
    stopped_legit: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    rules: dict[str, RuleStats] = field(default_factory=dict)

    def as_dict(self, rule_set: RuleSet) -> dict[str, object]:
        per_rule = {
            name: {
                "hits": s.hits,
                "fraud_hits": s.fraud_hits,
                "precision": s.precision(),
                "recall": None if self.fraud == 0 else s.fraud_hits / self.fraud,
                "shadow": rule.shadow,
            }
            for rule in rule_set.rules
            for name, s in [(rule.name, self.rules[rule.name])]
        }
        return {
            "rule_set": rule_set.name,
            "version": rule_set.version,
            "decisions": self.decisions,
            "fraud": self.fraud,
            "legit": self.legit,
            "actions": dict(self.actions),
            "stopped_fraud": self.stopped_fraud,
            "stopped_legit": self.stopped_legit,
            "rules": per_rule,
        }


def backtest(
    rule_set: RuleSet, rows: Iterable[DecisionRow], now: datetime, mature_days: int = 30
) -> Backtest:
    """Replay `rows` (stored decisions) through `rule_set`; the recorded model score
    stays as it was, so only the rules change."""
    out = Backtest(rules={r.name: RuleStats() for r in rule_set.rules})
    for row in rows:
        features = with_defaults(row.features)
        hits = evaluate(rule_set, features)
        score = features.get("model_score") if row.model_version is not None else None
        action = decide(rule_set, hits, None if score is None else float(score)).action
        label = outcome_of(row, now, mature_days)
        _count(out, hits, action, label)
    return out


def backtest_stored(
    uow: UnitOfWork,
    rule_set: RuleSet,
    now: datetime,
    mature_days: int = 30,
    since: datetime | None = None,
) -> Backtest:
    """`backtest` over every stored decision since `since` (all of them without)."""
    return backtest(rule_set, uow.risk.history(since), now, mature_days)


def _count(out: Backtest, hits: list[RuleHit], action: Action, label: int | None) -> None:
    out.decisions += 1
    out.actions[action.value] += 1
    out.fraud += label == 1
    out.legit += label == 0
    if action in STOPPING:
        out.stopped_fraud += label == 1
        out.stopped_legit += label == 0
    for hit in hits:
        stats = out.rules[hit.rule]
        stats.hits += 1
        stats.labelled_hits += label is not None
        stats.fraud_hits += label == 1


def active_rules(ctx: Context) -> RuleSet:
    """The rule set deciding now (any operator may read it)."""
    require_role(ctx, Role.VIEWER)
    return engine_of(ctx).rules.current()


def backtest_recent(ctx: Context, days: int = 30) -> tuple[RuleSet, Backtest]:
    """The active rule set replayed over the last `days` of stored decisions (an analyst
    or above: it reads every decision of the period)."""
    require_role(ctx, Role.ANALYST)
    rule_set = engine_of(ctx).rules.current()
    return rule_set, backtest_days(ctx, rule_set, days)


def backtest_days(ctx: Context, rule_set: RuleSet, days: int) -> Backtest:
    """`rule_set` replayed over the stored decisions of the last `days`."""
    now = ctx.now()
    return backtest_stored(ctx.uow, rule_set, now, since=now - timedelta(days=days))
