"""Rule sets: versioned YAML files of conditions in the rule language, with their tests.

    name: default                       # required, the rule set's name
    version: 7                          # required, int >= 1; bump on every change
    description: ...                    # optional
    thresholds: {challenge: 40, review: 70, deny: 90}   # required, 1 <= c < r < d <= 100
    rules:                              # required, evaluated in order
      - name: new_device_drain          # required, unique, [a-z][a-z0-9_]*
        description: ...                # optional
        when: device_new and amount >= 50_000        # required, a bool expression (expr.py)
        action: challenge               # allow | challenge | review | deny: a forced minimum
                                        #   (`allow` is an allow-list override), OR
        score: 35                       # an int -100..100 added to the total score
        reason: ato_new_device_drain    # optional reason code (default: the rule name)
        shadow: false                   # optional: hits are recorded but never act
    examples:                           # optional; `guardpay rules test` runs them
      - name: drain from a new phone    # required, unique
        features: {device_new: true, amount: 90_000}   # the rest default (schema.default_value)
        model_score: 0.3                # optional: the model's score 0..1 for this case
        expect: challenge               # required: the decision's action
        hits: [new_device_drain]        # optional: exactly these rules hit (shadow included)

The file is read with yaml's node API so every problem - YAML syntax, an unknown or
duplicate key, a missing field, a bad value, and any error inside a `when` expression -
is a `RuleSetError` naming the file line and column. A loaded `RuleSet` is immutable;
`digest` (sha256 of the text) is what a decision records as "rule set version".
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import yaml

from guardpay.domain.risk.decision import Action as Action
from guardpay.domain.risk.decision import RuleHit as RuleHit
from guardpay.domain.risk.decision import Thresholds as Thresholds
from guardpay.domain.risk.decision import decide
from guardpay.domain.risk.expr import Expression, ExpressionError, parse_condition
from guardpay.domain.risk.rules_position import position_in_file
from guardpay.domain.risk.schema import FEATURES, FeatureType, Value, default_value
from guardpay.errors import InvalidRequest

DEFAULT_RULES_FILE = "default_rules.yaml"
_IDENT = re.compile(r"[a-z][a-z0-9_]*\Z")
_TOP = {
    "name": True,
    "version": True,
    "description": False,
    "thresholds": True,
    "rules": True,
    "examples": False,
}
_RULE = {
    "name": True,
    "description": False,
    "when": True,
    "action": False,
    "score": False,
    "reason": False,
    "shadow": False,
}
_EXAMPLE = {"name": True, "features": False, "model_score": False, "expect": True, "hits": False}
_THRESHOLDS = {"challenge": True, "review": True, "deny": True}
_SAFE = yaml.constructor.SafeConstructor()


class RuleSetError(InvalidRequest):
    """A rule set that cannot be loaded; `line` and `column` are 1-based in the file."""

    code = "rule_set_invalid"

    def __init__(self, source: str, line: int, column: int, detail: str) -> None:
        super().__init__(f"{source}:{line}:{column}: {detail}", param="rule_set")
        self.source, self.line, self.column, self.detail = source, line, column, detail


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    when: Expression
    action: Action | None
    score: int | None
    reason: str
    shadow: bool
    line: int

    @property
    def hit(self) -> RuleHit:
        return RuleHit(self.name, self.reason, self.action, self.score, self.shadow)


@dataclass(frozen=True)
class Example:
    name: str
    features: Mapping[str, Value]
    expect: Action
    hits: tuple[str, ...] | None
    model_score: float | None
    line: int


@dataclass(frozen=True)
class ExampleResult:
    name: str
    passed: bool
    expected: Action
    got: Action
    expected_hits: tuple[str, ...] | None
    got_hits: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class RuleSet:
    name: str
    version: int
    description: str
    thresholds: Thresholds
    rules: tuple[Rule, ...]
    examples: tuple[Example, ...]
    digest: str
    text: str = field(default="", repr=False, compare=False)  # the YAML it was read from
    program: tuple[tuple[Callable[[Mapping[str, Value]], Value], RuleHit], ...] = field(
        init=False, repr=False, compare=False
    )

    @property
    def label(self) -> str:
        return label_of(self.name, self.version, self.digest)

    def __post_init__(self) -> None:
        # Precomputed (test, hit) pairs: evaluating a rule is one closure call.
        object.__setattr__(self, "program", tuple((r.when.evaluate, r.hit) for r in self.rules))


def label_of(name: str, version: int, digest: str) -> str:
    """How a decision names the rule set that made it: `name@version:digest12`."""
    return f"{name}@{version}:{digest[:12]}"


def evaluate(rule_set: RuleSet, features: Mapping[str, Value]) -> list[RuleHit]:
    """The rules whose condition holds, in file order. `features` must be complete (every
    name in FEATURES; see `with_defaults`)."""
    return [hit for test, hit in rule_set.program if test(features)]


def with_defaults(features: Mapping[str, Value]) -> dict[str, Value]:
    """A complete feature mapping: what `features` names, the schema default otherwise."""
    return {name: features.get(name, default_value(kind)) for name, kind in FEATURES.items()}


def run_examples(rule_set: RuleSet) -> list[ExampleResult]:
    """Decide every example and compare with what it expects: the rule set's unit tests."""
    results = []
    for ex in rule_set.examples:
        hits = evaluate(rule_set, with_defaults(ex.features))
        got = decide(rule_set, hits, ex.model_score).action
        got_hits = tuple(h.rule for h in hits)
        passed = got is ex.expect and (ex.hits is None or set(ex.hits) == set(got_hits))
        results.append(ExampleResult(ex.name, passed, ex.expect, got, ex.hits, got_hits, ex.line))
    return results


def load_default_rule_set() -> RuleSet:
    """The rule set shipped with guardpay (`default_rules.yaml`, package data)."""
    text = resources.files("guardpay.domain.risk").joinpath(DEFAULT_RULES_FILE).read_text("utf-8")
    return load_rule_set(text, source=DEFAULT_RULES_FILE)


def load_rule_set_file(path: Path | str) -> RuleSet:
    path = Path(path)
    return load_rule_set(path.read_text(encoding="utf-8"), source=str(path))


def load_rule_set(text: str, source: str = "<rules>") -> RuleSet:
    """Parse and check a rule set; raises `RuleSetError` with the file position."""
    doc = _Doc(text, source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise RuleSetError(source, line, col, f"YAML: {exc.problem or exc}") from exc
    if root is None:
        raise RuleSetError(source, 1, 1, "empty rule set")
    top = doc.mapping(root, "rule set", _TOP)
    rules = doc.rules(top["rules"])
    names = {r.name for r in rules}
    examples = doc.examples(top["examples"], names) if "examples" in top else ()
    return RuleSet(
        name=doc.ident(top["name"], "name"),
        version=doc.integer(top["version"], "version", 1, 2**31),
        description=doc.string(top["description"], "description") if "description" in top else "",
        thresholds=doc.thresholds(top["thresholds"]),
        rules=rules,
        examples=examples,
        digest=hashlib.sha256(text.encode()).hexdigest(),
        text=text,
    )


class _Doc:
    """Reads checked values out of the composed node tree, failing at the node's position."""

    def __init__(self, text: str, source: str) -> None:
        self.text, self.source = text, source

    def fail(self, node: yaml.Node, detail: str) -> RuleSetError:
        mark = node.start_mark
        return RuleSetError(self.source, mark.line + 1, mark.column + 1, detail)

    def mapping(self, node: yaml.Node, what: str, keys: dict[str, bool]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else ""
            if name not in keys:
                close = difflib.get_close_matches(name, list(keys), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise self.fail(key, f"unknown key '{name}' in {what}{hint}")
            if name in out:
                raise self.fail(key, f"duplicate key '{name}' in {what}")
            out[name] = value
        missing = [k for k, required in keys.items() if required and k not in out]
        if missing:
            raise self.fail(node, f"{what} is missing '{missing[0]}'")
        return out

    def scalar(self, node: yaml.Node, what: str) -> object:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value")
        return _SAFE.construct_object(node)

    def string(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node, what)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(node, f"{what} must be text")
        return value

    def ident(self, node: yaml.Node, what: str) -> str:
        value = self.string(node, what)
        if not _IDENT.match(value):
            raise self.fail(node, f"{what} must be lower_snake_case, got {value!r}")
        return value

    def integer(self, node: yaml.Node, what: str, low: int, high: int) -> int:
        value = self.scalar(node, what)
        if type(value) is not int or not low <= value <= high:
            raise self.fail(node, f"{what} must be an integer {low}..{high}")
        return value

    def boolean(self, node: yaml.Node, what: str) -> bool:
        value = self.scalar(node, what)
        if not isinstance(value, bool):
            raise self.fail(node, f"{what} must be true or false")
        return value

    def action(self, node: yaml.Node, what: str) -> Action:
        value = self.scalar(node, what)
        if value not in {a.value for a in Action}:
            choices = " | ".join(a.value for a in Action)
            raise self.fail(node, f"{what} must be one of {choices}, got {value!r}")
        return Action(str(value))

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def thresholds(self, node: yaml.Node) -> Thresholds:
        keys = self.mapping(node, "thresholds", _THRESHOLDS)
        t = Thresholds(*(self.integer(keys[k], f"thresholds.{k}", 1, 100) for k in _THRESHOLDS))
        if not t.challenge < t.review < t.deny:
            raise self.fail(node, "thresholds must rise: challenge < review < deny")
        return t

    def rules(self, node: yaml.Node) -> tuple[Rule, ...]:
        rules: list[Rule] = []
        for item in self.sequence(node, "rules"):
            rule = self.rule(item)
            if any(r.name == rule.name for r in rules):
                raise self.fail(item, f"duplicate rule name '{rule.name}'")
            rules.append(rule)
        return tuple(rules)

    def rule(self, node: yaml.Node) -> Rule:
        keys = self.mapping(node, "rule", _RULE)
        name = self.ident(keys["name"], "rule name")
        if ("action" in keys) == ("score" in keys):
            raise self.fail(node, f"rule '{name}' needs exactly one of 'action' and 'score'")
        return Rule(
            name=name,
            description=self.string(keys["description"], "description")
            if "description" in keys
            else "",
            when=self.condition(keys["when"], name),
            action=self.action(keys["action"], "action") if "action" in keys else None,
            score=self.integer(keys["score"], "score", -100, 100) if "score" in keys else None,
            reason=self.ident(keys["reason"], "reason") if "reason" in keys else name,
            shadow=self.boolean(keys["shadow"], "shadow") if "shadow" in keys else False,
            line=node.start_mark.line + 1,
        )

    def condition(self, node: yaml.Node, rule: str) -> Expression:
        if not isinstance(node, yaml.ScalarNode) or not node.value.strip():
            raise self.fail(node, f"rule '{rule}': when must be an expression")
        try:
            return parse_condition(node.value)
        except ExpressionError as exc:
            line, col = position_in_file(self.text, node, exc.line, exc.column)
            raise RuleSetError(self.source, line, col, f"rule '{rule}': {exc.detail}") from exc

    def examples(self, node: yaml.Node, rule_names: set[str]) -> tuple[Example, ...]:
        examples: list[Example] = []
        for item in self.sequence(node, "examples"):
            ex = self.example(item, rule_names)
            if any(e.name == ex.name for e in examples):
                raise self.fail(item, f"duplicate example name '{ex.name}'")
            examples.append(ex)
        return tuple(examples)

    def example(self, node: yaml.Node, rule_names: set[str]) -> Example:
        keys = self.mapping(node, "example", _EXAMPLE)
        hits = None
        if "hits" in keys:
            hits = tuple(self.string(n, "hit") for n in self.sequence(keys["hits"], "hits"))
            for hit_node, hit in zip(keys["hits"].value, hits, strict=True):
                if hit not in rule_names:
                    raise self.fail(hit_node, f"hits names an unknown rule '{hit}'")
        model = None
        if "model_score" in keys:
            model = self.number(keys["model_score"], "model_score")
            if not 0.0 <= model <= 1.0:
                raise self.fail(keys["model_score"], "model_score must be within 0..1")
        features = self.features(keys["features"]) if "features" in keys else {}
        if model is not None:
            features["model_score"] = model
        return Example(
            name=self.string(keys["name"], "example name"),
            features=MappingProxyType(features),
            expect=self.action(keys["expect"], "expect"),
            hits=hits,
            model_score=model,
            line=node.start_mark.line + 1,
        )

    def number(self, node: yaml.Node, what: str) -> float:
        value = self.scalar(node, what)
        if type(value) not in (int, float):
            raise self.fail(node, f"{what} must be a number")
        assert isinstance(value, int | float)
        return float(value)

    def features(self, node: yaml.Node) -> dict[str, Value]:
        """Example features, each checked against its schema type."""
        out: dict[str, Value] = {}
        known = dict.fromkeys(FEATURES, False)
        for key, value_node in self.mapping(node, "features", known).items():
            kind = FEATURES[key]
            value = self.scalar(value_node, key)
            if kind is FeatureType.FLOAT and type(value) is int:
                value = float(value)
            python_type = {
                FeatureType.INT: int,
                FeatureType.FLOAT: float,
                FeatureType.BOOL: bool,
                FeatureType.STR: str,
            }[kind]
            if type(value) is not python_type:
                raise self.fail(value_node, f"feature '{key}' must be {kind}")
            assert isinstance(value, int | float | bool | str)
            out[key] = value
        return out
