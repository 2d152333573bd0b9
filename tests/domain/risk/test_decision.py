"""Combining rule hits and the model: thresholds, clamping, forced actions, the allow-list
override, shadow hits and reason order."""

from __future__ import annotations

import dataclasses
import math

import pytest

from guardpay.domain.risk.decision import MODEL_REASON, Action, Decision, decide
from guardpay.domain.risk.rules import RuleHit, RuleSet, load_rule_set
from guardpay.errors import InvalidRequest

RULES = load_rule_set("""\
name: t
version: 1
thresholds: {challenge: 40, review: 70, deny: 90}
rules: []
""")


def score(points: int, reason: str = "", shadow: bool = False) -> RuleHit:
    name = reason or f"score_{points}"
    return RuleHit(name, name, None, points, shadow)


def force(action: Action, reason: str = "", shadow: bool = False) -> RuleHit:
    name = reason or f"force_{action}"
    return RuleHit(name, name, action, None, shadow)


def run(*hits: RuleHit, model: float | None = None, rules: RuleSet = RULES) -> Decision:
    return decide(rules, list(hits), model)


def test_actions_are_ordered_by_severity_not_alphabet() -> None:
    assert Action.ALLOW < Action.CHALLENGE < Action.REVIEW < Action.DENY
    assert Action.DENY > Action.REVIEW >= Action.REVIEW
    assert Action.ALLOW <= Action.ALLOW
    assert max(Action.REVIEW, Action.DENY, Action.CHALLENGE) is Action.DENY
    assert sorted(Action) == [Action.ALLOW, Action.CHALLENGE, Action.REVIEW, Action.DENY]
    assert [a.rank for a in Action] == [0, 1, 2, 3]
    assert Action("deny") is Action.DENY


@pytest.mark.parametrize(
    ("points", "action"),
    [
        (0, Action.ALLOW),
        (39, Action.ALLOW),
        (40, Action.CHALLENGE),
        (69, Action.CHALLENGE),
        (70, Action.REVIEW),
        (89, Action.REVIEW),
        (90, Action.DENY),
        (100, Action.DENY),
    ],
)
def test_thresholds_map_the_score_to_an_action(points: int, action: Action) -> None:
    decision = run(score(points))
    assert (decision.action, decision.score) == (action, points)


def test_no_hits_and_no_model_is_allow_with_score_zero() -> None:
    assert run() == Decision(Action.ALLOW, 0, (), (), Action.ALLOW)


def test_score_is_clamped_to_0_100() -> None:
    assert run(score(80, "a"), score(70, "b")).score == 100
    assert run(score(-50, "a"), score(20, "b")).score == 0
    assert run(score(-30), model=0.5).score == 20


def test_model_points_and_weight() -> None:
    assert run(model=0.456).score == 46
    assert decide(RULES, [], 0.8, model_weight=0.5).score == 40
    assert run(model=1.7).score == 100  # clamped: a misbehaving model cannot break things
    assert run(model=-0.2).score == 0
    assert run(model=math.nan).score == 0  # NaN counts as no model
    assert run(model=None).score == 0
    assert run(model=0.95).action is Action.DENY


@pytest.mark.parametrize("weight", [-1.0, math.inf, math.nan])
def test_a_bad_model_weight_is_a_configuration_error(weight: float) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decide(RULES, [], 0.5, model_weight=weight)
    assert caught.value.code == "model_weight_invalid"


def test_model_reason_only_when_the_model_alone_would_challenge() -> None:
    assert MODEL_REASON not in run(score(30), model=0.39).reasons
    assert run(score(31), model=0.39).action is Action.REVIEW  # together: 70
    assert run(model=0.40).reasons == (MODEL_REASON,)


def test_forced_action_is_a_minimum_and_the_score_can_exceed_it() -> None:
    assert run(force(Action.REVIEW)).action is Action.REVIEW
    assert run(force(Action.REVIEW)).score == 0
    assert run(force(Action.CHALLENGE), score(75)).action is Action.REVIEW
    assert run(force(Action.CHALLENGE), score(95)).action is Action.DENY
    assert run(force(Action.DENY), score(-100)).action is Action.DENY


def test_allow_list_overrides_score_and_forced_actions_except_deny() -> None:
    allow = force(Action.ALLOW, "allow_listed")
    assert run(allow, score(95), force(Action.REVIEW)).action is Action.ALLOW
    assert run(allow, score(95)).score == 95  # the score is still recorded
    assert run(allow, model=0.99).action is Action.ALLOW
    assert run(allow, force(Action.DENY, "blocked")).action is Action.DENY


def test_shadow_hits_never_act_but_are_kept() -> None:
    shadow_deny = force(Action.DENY, "trial_deny", shadow=True)
    shadow_score = score(100, "trial_score", shadow=True)
    decision = run(shadow_deny, shadow_score)
    assert (decision.action, decision.score, decision.reasons) == (Action.ALLOW, 0, ())
    assert decision.hits == (shadow_deny, shadow_score)
    assert decision.shadow_action is Action.DENY  # what it would have been


def test_a_shadow_deny_does_not_defeat_the_allow_list() -> None:
    decision = run(force(Action.ALLOW, "allow_listed"), force(Action.DENY, shadow=True))
    assert decision.action is Action.ALLOW
    assert decision.shadow_action is Action.DENY


def test_shadow_action_equals_action_without_shadow_hits() -> None:
    decision = run(score(50))
    assert decision.shadow_action is decision.action is Action.CHALLENGE


def test_reasons_most_severe_first_and_unique() -> None:
    decision = run(
        score(10, "small"),
        force(Action.CHALLENGE, "ch"),
        score(35, "big"),
        force(Action.DENY, "blocked"),
        score(20, "trial", shadow=True),
        RuleHit("other_rule", "big", None, 5, False),  # same reason code as `big`
        model=0.45,
    )
    assert decision.reasons == ("blocked", "ch", MODEL_REASON, "big", "small")


def test_decision_is_immutable() -> None:
    decision = run(score(10))
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.action = Action.DENY  # type: ignore[misc]
