"""Rule sets: loading, every loading error at its file line and column, evaluation, and
running a rule set's own examples."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from guardpay.domain.risk.decision import Action
from guardpay.domain.risk.rules import (
    RuleHit,
    RuleSetError,
    evaluate,
    load_rule_set,
    load_rule_set_file,
    run_examples,
    with_defaults,
)
from guardpay.errors import InvalidRequest

HEAD = """\
name: test
version: 3
thresholds: {challenge: 40, review: 70, deny: 90}
"""

GOOD = (
    HEAD
    + """\
description: A small rule set.
rules:
  - name: new_device_drain
    description: Takeover.
    when: device_new and amount_share_of_balance >= 0.8
    action: challenge
    reason: ato_drain
  - name: big_new_payee
    when: payee_new and amount >= 500_000
    score: 35
  - name: night
    when: hour_local <= 5
    score: 10
    shadow: true
examples:
  - name: drain
    features: {device_new: true, amount_share_of_balance: 0.9, hour_local: 12}
    expect: challenge
    hits: [new_device_drain]
  - name: quiet
    features: {hour_local: 12}
    expect: allow
  - name: with a model
    features: {hour_local: 12, payee_new: true, amount: 600_000}
    model_score: 0.4
    expect: review
"""
)


def test_a_rule_set_loads_with_everything_it_says() -> None:
    rs = load_rule_set(GOOD, source="good.yaml")
    assert (rs.name, rs.version, rs.description) == ("test", 3, "A small rule set.")
    assert (rs.thresholds.challenge, rs.thresholds.review, rs.thresholds.deny) == (40, 70, 90)
    drain, big, night = rs.rules
    assert (drain.name, drain.action, drain.score, drain.reason) == (
        "new_device_drain",
        Action.CHALLENGE,
        None,
        "ato_drain",
    )
    assert drain.description == "Takeover."
    assert drain.line == 6
    assert (big.action, big.score, big.reason, big.shadow) == (None, 35, "big_new_payee", False)
    assert night.shadow is True
    assert [e.name for e in rs.examples] == ["drain", "quiet", "with a model"]
    assert rs.examples[0].hits == ("new_device_drain",)
    assert rs.examples[1].hits is None
    assert rs.examples[2].model_score == 0.4
    assert rs.examples[2].features["model_score"] == 0.4


def test_digest_identifies_the_content() -> None:
    a = load_rule_set(GOOD)
    assert len(a.digest) == 64
    assert load_rule_set(GOOD, source="elsewhere").digest == a.digest
    assert load_rule_set(GOOD.replace("score: 35", "score: 36")).digest != a.digest


def test_a_rule_set_is_immutable() -> None:
    rs = load_rule_set(GOOD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rs.version = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        rs.examples[0].features["amount"] = 1  # type: ignore[index]


def test_evaluate_returns_hits_in_file_order_with_shadow_flags() -> None:
    rs = load_rule_set(GOOD)
    features = with_defaults(
        {
            "device_new": True,
            "amount_share_of_balance": 0.95,
            "payee_new": True,
            "amount": 600_000,
            "hour_local": 2,
        }
    )
    assert evaluate(rs, features) == [
        RuleHit("new_device_drain", "ato_drain", Action.CHALLENGE, None, False),
        RuleHit("big_new_payee", "big_new_payee", None, 35, False),
        RuleHit("night", "night", None, 10, True),
    ]
    assert evaluate(rs, with_defaults({"hour_local": 12})) == []


def test_with_defaults_fills_every_feature_from_the_schema() -> None:
    features = with_defaults({"amount": 5})
    assert features["amount"] == 5
    assert features["device_new"] is False
    assert features["kind"] == ""
    assert features["speed_kmh"] == 0.0


def test_examples_run_and_report() -> None:
    results = run_examples(load_rule_set(GOOD))
    assert [(r.name, r.passed, r.expected, r.got) for r in results] == [
        ("drain", True, Action.CHALLENGE, Action.CHALLENGE),
        ("quiet", True, Action.ALLOW, Action.ALLOW),
        ("with a model", True, Action.REVIEW, Action.REVIEW),  # 40 model + 35 rule = 75
    ]
    assert results[0].got_hits == ("new_device_drain",)


def test_a_failing_example_says_what_it_got() -> None:
    text = GOOD.replace("expect: challenge", "expect: deny").replace(
        "expect: allow", "expect: allow\n    hits: [big_new_payee]"
    )
    drain, quiet, _ = run_examples(load_rule_set(text))
    assert (drain.passed, drain.expected, drain.got) == (False, Action.DENY, Action.CHALLENGE)
    assert (quiet.passed, quiet.expected, quiet.got) == (False, Action.ALLOW, Action.ALLOW)
    assert (quiet.expected_hits, quiet.got_hits) == (("big_new_payee",), ())


def test_load_from_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD.replace("score: 35", "score: [35]"), encoding="utf-8")
    with pytest.raises(RuleSetError) as caught:
        load_rule_set_file(path)
    assert str(caught.value).startswith(f"{path}:13:12: ")
    path.write_text(GOOD, encoding="utf-8")
    assert load_rule_set_file(path).name == "test"


def rules_doc(body: str) -> str:
    return HEAD + "rules:\n" + textwrap.dedent(body)


# (document, line, column, words): positions are 1-based in the file
ERRORS = [
    ("name: x\nversion: 1\n  bad: [", 3, 6, "YAML"),
    ("", 1, 1, "empty rule set"),
    ("- just a list\n", 1, 1, "rule set must be a mapping"),
    (HEAD + "rule:\n  []\n", 4, 1, "unknown key 'rule' in rule set; did you mean 'rules'?"),
    (HEAD.replace("version: 3\n", ""), 1, 1, "rule set is missing 'version'"),
    (HEAD + "name: again\nrules: []\n", 4, 1, "duplicate key 'name'"),
    (HEAD.replace("version: 3", "version: three") + "rules: []\n", 2, 10, "version must be"),
    (HEAD.replace("version: 3", "version: 0") + "rules: []\n", 2, 10, "version must be"),
    (HEAD.replace("90}", "60}") + "rules: []\n", 3, 13, "thresholds must rise"),
    (HEAD.replace("deny: 90", "deny: 190") + "rules: []\n", 3, 47, "thresholds.deny"),
    (HEAD.replace("deny: 90", "dny: 90") + "rules: []\n", 3, 41, "did you mean 'deny'?"),
    (HEAD + "rules: {}\n", 4, 8, "rules must be a list"),
    (
        rules_doc("""\
        - name: a
          when: amount > 1
          action: block
        """),
        7,
        11,
        "action must be one of allow | challenge | review | deny",
    ),
    (
        rules_doc("""\
        - name: a
          when: amount > 1
          action: deny
          score: 10
        """),
        5,
        3,
        "needs exactly one of 'action' and 'score'",
    ),
    (
        rules_doc("""\
        - name: a
          when: amount > 1
        """),
        5,
        3,
        "needs exactly one of 'action' and 'score'",
    ),
    (
        rules_doc("""\
        - name: a
          action: deny
        """),
        5,
        3,
        "rule is missing 'when'",
    ),
    (
        rules_doc("""\
        - name: a
          when: amount > 1
          score: 10
          weight: 2
        """),
        8,
        3,
        "unknown key 'weight' in rule",
    ),
    (
        rules_doc("""\
        - name: a
          when: amount > 1
          score: 10
        - name: a
          when: amount > 2
          score: 10
        """),
        8,
        3,
        "duplicate rule name 'a'",
    ),
    (
        rules_doc("""\
        - name: Big Rule
          when: amount > 1
          score: 10
        """),
        5,
        9,
        "lower_snake_case",
    ),
    (
        rules_doc("""\
        - name: a
          when: amount > 1
          score: 1000
        """),
        7,
        10,
        "score must be an integer -100..100",
    ),
    (
        rules_doc("""\
        - name: a
          when: amount > 1
          score: 10
          shadow: maybe
        """),
        8,
        11,
        "shadow must be true or false",
    ),
    # expression errors land on the offending character in the file
    (
        rules_doc("""\
        - name: a
          when: amount >= 5 and devce_new
          score: 10
        """),
        6,
        25,
        "rule 'a': unknown feature 'devce_new'; did you mean 'device_new'?",
    ),
    (
        rules_doc("""\
        - name: a
          when: "amount >= 5 and kind < 3"
          score: 10
        """),
        6,
        31,
        "'<' needs number, got str",
    ),
    (
        rules_doc("""\
        - name: a
          when: >-
            amount >= 5
            and payee.new
          score: 10
        """),
        8,
        14,
        "attribute access",
    ),
    (
        rules_doc("""\
        - name: a
          when: |
            device_new and
              amount + 1
          score: 10
        """),
        7,
        16,
        "'and' needs bool, got int",
    ),
    (
        rules_doc("""\
        - name: a
          when: amount >=
          score: 10
        """),
        6,
        18,
        "end of expression",
    ),
    (
        rules_doc("""\
        - name: a
          when: amount
          score: 10
        """),
        6,
        9,
        "condition must be bool",
    ),
    (
        rules_doc("""\
        - name: a
          when: [amount]
          score: 10
        """),
        6,
        9,
        "when must be an expression",
    ),
]

EXAMPLE_RULE = rules_doc("""\
    - name: a
      when: amount > 1
      score: 10
    """)
ERRORS += [
    (EXAMPLE_RULE + "examples:\n  - name: e\n    expect: hold\n", 10, 13, "expect must be"),
    (
        EXAMPLE_RULE + "examples:\n  - name: e\n    features: {amout: 1}\n    expect: allow\n",
        10,
        16,
        "did you mean 'amount'?",
    ),
    (
        EXAMPLE_RULE + "examples:\n  - name: e\n    features: {amount: '1'}\n    expect: allow\n",
        10,
        24,
        "feature 'amount' must be int",
    ),
    (
        EXAMPLE_RULE + "examples:\n  - name: e\n    features: {device_new: 1}\n    expect: allow\n",
        10,
        28,
        "feature 'device_new' must be bool",
    ),
    (
        EXAMPLE_RULE + "examples:\n  - name: e\n    expect: allow\n    hits: [a, b]\n",
        11,
        15,
        "hits names an unknown rule 'b'",
    ),
    (
        EXAMPLE_RULE + "examples:\n  - name: e\n    expect: allow\n    model_score: 2\n",
        11,
        18,
        "model_score must be within 0..1",
    ),
    (
        EXAMPLE_RULE + "examples:\n  - name: e\n    expect: allow\n  - name: e\n    expect: deny\n",
        11,
        5,
        "duplicate example name 'e'",
    ),
]


@pytest.mark.parametrize(("text", "line", "column", "words"), ERRORS)
def test_errors_name_the_file_line_and_column(
    text: str, line: int, column: int, words: str
) -> None:
    with pytest.raises(RuleSetError) as caught:
        load_rule_set(text, source="r.yaml")
    error = caught.value
    assert words in error.detail
    assert (error.line, error.column) == (line, column), error.message
    assert error.message == f"r.yaml:{line}:{column}: {error.detail}"
    assert isinstance(error, InvalidRequest)
    assert error.code == "rule_set_invalid"


def test_float_features_accept_integers_in_examples() -> None:
    rs = load_rule_set(
        EXAMPLE_RULE + "examples:\n  - name: e\n    features: {speed_kmh: 950}\n    expect: allow\n"
    )
    assert rs.examples[0].features["speed_kmh"] == 950.0
    assert isinstance(rs.examples[0].features["speed_kmh"], float)
