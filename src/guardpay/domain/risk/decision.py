"""One decision from rule hits and the model's score.

Score: the model's points (`round(model_score * 100 * model_weight)`, 0 without a model)
plus every live score modifier, clamped to 0..100, mapped to an action by the rule set's
thresholds. Forced actions set a minimum on top of that: the result is the most severe
of the two. An `allow` forced action is an allow-list: it overrides everything except a
live forced `deny` (a block-list hit must win over an allow-list). Shadow hits are kept
in the decision so they can be recorded and measured (`shadow_action` is what the
decision would have been had they acted) but never change action, score or reasons.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from guardpay.errors import InvalidRequest

MODEL_REASON = "model_high_score"


class Action(StrEnum):
    """Ordered by severity (not alphabetically): allow < challenge < review < deny."""

    ALLOW = "allow"
    CHALLENGE = "challenge"
    REVIEW = "review"
    DENY = "deny"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: str) -> bool:
        return self.rank < Action(other).rank

    def __le__(self, other: str) -> bool:
        return self.rank <= Action(other).rank

    def __gt__(self, other: str) -> bool:
        return self.rank > Action(other).rank

    def __ge__(self, other: str) -> bool:
        return self.rank >= Action(other).rank


_RANK = {action: rank for rank, action in enumerate(Action)}


@dataclass(frozen=True)
class Thresholds:
    challenge: int
    review: int
    deny: int

    def action_for(self, score: int) -> Action:
        if score >= self.deny:
            return Action.DENY
        if score >= self.review:
            return Action.REVIEW
        return Action.CHALLENGE if score >= self.challenge else Action.ALLOW


@dataclass(frozen=True)
class RuleHit:
    """One rule whose condition held: exactly one of `action` and `score` is set."""

    rule: str
    reason: str
    action: Action | None
    score: int | None
    shadow: bool


class Scored(Protocol):
    """What a decision needs of a rule set: its thresholds (domain/risk/rules.py)."""

    @property
    def thresholds(self) -> Thresholds: ...


@dataclass(frozen=True)
class Decision:
    action: Action
    score: int  # 0..100
    reasons: tuple[str, ...]  # most severe first
    hits: tuple[RuleHit, ...]  # every hit, shadow ones included
    shadow_action: Action  # the action had shadow rules acted too


def decide(
    rule_set: Scored,
    hits: Sequence[RuleHit],
    model_score: float | None,
    model_weight: float = 1.0,
) -> Decision:
    """Combine rule hits and the model (None: no model) into one decision.

    A model score outside 0..1 is clamped and NaN counts as no model, so a misbehaving
    model cannot make the payment path fail; a bad weight is configuration, and raises."""
    if not (math.isfinite(model_weight) and model_weight >= 0):
        raise InvalidRequest("model_weight must be finite and >= 0", code="model_weight_invalid")
    points = _model_points(model_score, model_weight)
    live = [h for h in hits if not h.shadow]
    action, score, reasons = _combine(rule_set.thresholds, live, points)
    shadow_action = action
    if len(live) != len(hits):
        shadow_action = _combine(rule_set.thresholds, hits, points)[0]
    return Decision(action, score, reasons, tuple(hits), shadow_action)


def _model_points(model_score: float | None, weight: float) -> int:
    if model_score is None or math.isnan(model_score):
        return 0
    return round(min(max(model_score, 0.0), 1.0) * 100 * weight)


def _combine(
    thresholds: Thresholds, hits: Sequence[RuleHit], points: int
) -> tuple[Action, int, tuple[str, ...]]:
    score = min(max(points + sum(h.score for h in hits if h.score is not None), 0), 100)
    forced = {h.action for h in hits if h.action is not None}
    action = max([thresholds.action_for(score), *(forced - {Action.ALLOW})])
    if Action.ALLOW in forced and Action.DENY not in forced:
        action = Action.ALLOW
    return action, score, _reasons(thresholds, hits, points)


def _reasons(thresholds: Thresholds, hits: Sequence[RuleHit], points: int) -> tuple[str, ...]:
    """Forced actions first (most severe first), then score modifiers by size; the model
    is one of those when it alone would have challenged. Each code appears once."""
    ranked: list[tuple[tuple[int, int], str]] = []
    for h in hits:
        key = (2, h.action.rank) if h.action is not None else (1, h.score or 0)
        ranked.append((key, h.reason))
    if points >= thresholds.challenge:
        ranked.append(((1, points), MODEL_REASON))
    ranked.sort(key=lambda entry: entry[0], reverse=True)
    return tuple(dict.fromkeys(reason for _, reason in ranked))
