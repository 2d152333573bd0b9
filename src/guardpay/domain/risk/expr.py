"""The rule language: small, typed, and safe by construction.

A rule condition is text written by risk analysts, so it is treated as untrusted input:
it is tokenized (expr_lex.py) and parsed here (a Pratt parser) into frozen dataclasses,
type-checked against the feature schema, and compiled once into nested closures. Nothing
ever reaches Python's `eval`, `exec`, `compile` or `ast`, and the grammar has no way to
name a Python object: no attribute access, no subscripts, no names starting with `_`, and
calls only to `min`, `max` and `abs`.

    expr     := or
    or       := and ("or" and)*
    and      := not ("and" not)*
    not      := "not" not | compare
    compare  := sum (("=="|"!="|"<"|"<="|">"|">=") sum | ["not"] "in" list)?
    sum      := product (("+"|"-") product)*
    product  := unary (("*"|"/") unary)*
    unary    := "-" unary | primary
    primary  := NUMBER | STRING | "true" | "false" | FEATURE | FUNC "(" expr ("," expr)* ")"
              | "(" expr ")"
    list     := "[" [literal ("," literal)*] "]"

Numbers are `50_000`, `0.8`, `1e3`; strings '...' or "..." (escapes \\ \' \" \n \t).
Types: int and float are numeric and mix (int op int stays int, `/` always gives a float);
bool only with and/or/not/==/!=; str only with ==, != and in. Comparisons do not chain.
Division by zero evaluates to 0.0: a ratio over an empty history is "no signal", and a
payment must never fail because a rule divided by a zero feature.

Every error carries a 1-based line and column within the expression text; the rule-set
loader shifts them to the position in the YAML file. A well-typed expression evaluated
on a complete feature mapping does not raise (integer literals are bounded by 10**18 so
int/float mixing cannot overflow in practice).
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from guardpay.domain.risk.expr_lex import (
    MAX_INT,
    WORDS,
    ExpressionError,
    ExpressionSyntaxError,
    ExpressionTypeError,
    Token,
    UnknownNameError,
    tokenize,
)
from guardpay.domain.risk.schema import FEATURES, FeatureType, Value

__all__ = [
    "FUNCTIONS",
    "MAX_INT",
    "NUM",
    "Binary",
    "Call",
    "Expression",
    "ExpressionError",
    "ExpressionSyntaxError",
    "ExpressionTypeError",
    "Feature",
    "Literal",
    "Membership",
    "Node",
    "Unary",
    "UnknownNameError",
    "parse_condition",
    "parse_expression",
]

NUM = frozenset({FeatureType.INT, FeatureType.FLOAT})
FUNCTIONS = ("abs", "max", "min")
_COMPARE = frozenset({"==", "!=", "<", "<=", ">", ">="})
_BP = {"or": 10, "and": 20, "in": 40, "not in": 40, "+": 50, "-": 50, "*": 60, "/": 60}
_BP.update(dict.fromkeys(_COMPARE, 40))
_NOT_BP, _NEG_BP = 30, 70


# -- the syntax tree --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Literal:
    value: Value
    type: FeatureType
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    type: FeatureType
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-" or "not"
    operand: Node
    type: FeatureType
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # or and == != < <= > >= + - * /
    left: Node
    right: Node
    type: FeatureType
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Membership:
    operand: Node
    values: tuple[Value, ...]
    negated: bool
    type: FeatureType
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Node, ...]
    type: FeatureType
    line: int
    column: int


Node = Literal | Feature | Unary | Binary | Membership | Call


@dataclass(frozen=True)
class Expression:
    """A parsed, checked and compiled expression; `evaluate(features)` is the fast path."""

    source: str
    tree: Node
    type: FeatureType
    features: frozenset[str]
    evaluate: Callable[[Mapping[str, Value]], Value] = field(repr=False, compare=False)


def parse_expression(text: str, schema: Mapping[str, FeatureType] = FEATURES) -> Expression:
    """Parse, type-check and compile `text`; raises an `ExpressionError` subclass."""
    parser = _Parser(text, schema)
    tree = parser.expression(0)
    if parser.peek().kind != "eof":
        raise parser.unexpected(parser.peek())
    return Expression(text, tree, tree.type, frozenset(parser.names), _compile(tree))


def parse_condition(text: str, schema: Mapping[str, FeatureType] = FEATURES) -> Expression:
    """An expression that must be true/false: what a rule's `when` is."""
    expr = parse_expression(text, schema)
    if expr.type is not FeatureType.BOOL:
        t = expr.tree
        raise ExpressionTypeError(f"a condition must be bool, got {expr.type}", t.line, t.column)
    return expr


# -- parsing and type checking ----------------------------------------------------------
class _Parser:
    """Pratt parser that type-checks as it builds, so each node knows its type."""

    def __init__(self, text: str, schema: Mapping[str, FeatureType]) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.schema = schema
        self.names: set[str] = set()

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.peek()
        self.pos += 1
        return tok

    def expect(self, text: str) -> Token:
        if self.peek().text != text or self.peek().kind not in ("op", "name"):
            raise self.unexpected(self.peek(), f"expected '{text}'")
        return self.advance()

    def unexpected(self, tok: Token, expected: str = "") -> ExpressionSyntaxError:
        special = {
            ".": "attribute access ('.') is not allowed",
            "[": "subscripts are not allowed; a list may only follow 'in'",
            "(": f"only {', '.join(FUNCTIONS)} can be called",
        }
        if tok.kind == "op" and tok.text in special:
            return ExpressionSyntaxError(special[tok.text], tok.line, tok.column)
        got = "end of expression" if tok.kind == "eof" else repr(tok.text)
        lead = f"{expected}, got " if expected else "unexpected "
        return ExpressionSyntaxError(lead + got, tok.line, tok.column)

    def infix(self) -> str | None:
        tok = self.peek()
        if tok.kind == "name" and tok.text == "not" and self.peek(1).text == "in":
            return "not in"
        if tok.kind in ("op", "name") and tok.text in _BP:
            return tok.text
        return None

    def expression(self, min_bp: int) -> Node:
        left, compared = self.prefix(), False
        while (op := self.infix()) is not None and _BP[op] > min_bp:
            tok = self.advance()
            if compared and _BP[op] == 40:
                raise ExpressionSyntaxError(
                    "comparisons cannot be chained; use 'and'", tok.line, tok.column
                )
            if op == "not in":
                self.advance()
            if op in ("in", "not in"):
                left = self.membership(left, op == "not in", tok)
            else:
                left = _binary(op, left, self.expression(_BP[op]), tok)
            compared = _BP[op] == 40
        if _missing_operator(self.peek()):
            raise self.unexpected(self.peek(), "expected an operator")
        return left

    def prefix(self) -> Node:
        tok = self.advance()
        if tok.kind == "num":
            kind = FeatureType.INT if isinstance(tok.value, int) else FeatureType.FLOAT
            return Literal(tok.value, kind, tok.line, tok.column)
        if tok.kind == "str":
            return Literal(tok.value, FeatureType.STR, tok.line, tok.column)
        if tok.kind == "name":
            return self.name(tok)
        if tok.text == "-":
            operand = self.expression(_NEG_BP)
            _need(operand, NUM, "unary '-'", tok)
            return Unary("-", operand, operand.type, tok.line, tok.column)
        if tok.text == "(":
            inner = self.expression(0)
            self.expect(")")
            return inner
        if tok.text == "[":
            raise ExpressionSyntaxError("a list may only follow 'in'", tok.line, tok.column)
        raise self.unexpected(tok, "expected an expression")

    def name(self, tok: Token) -> Node:
        word = tok.text
        if word in ("true", "false"):
            return Literal(word == "true", FeatureType.BOOL, tok.line, tok.column)
        if word == "not":
            operand = self.expression(_NOT_BP)
            _need(operand, {FeatureType.BOOL}, "'not'", tok)
            return Unary("not", operand, FeatureType.BOOL, tok.line, tok.column)
        if word in WORDS:
            raise self.unexpected(tok, "expected an expression")
        if self.peek().text == "(" and self.peek().kind == "op":
            return self.call(tok)
        if word in FUNCTIONS:
            raise ExpressionSyntaxError(f"{word}() must be called", tok.line, tok.column)
        if word not in self.schema:
            close = difflib.get_close_matches(word, list(self.schema), n=1, cutoff=0.6)
            raise UnknownNameError(word, close[0] if close else None, tok.line, tok.column)
        self.names.add(word)
        return Feature(word, self.schema[word], tok.line, tok.column)

    def call(self, tok: Token) -> Node:
        if tok.text not in FUNCTIONS:
            what = "is not a function"
            what = "is a feature, not a function" if tok.text in self.schema else what
            allowed = ", ".join(FUNCTIONS)
            raise ExpressionSyntaxError(
                f"'{tok.text}' {what} (allowed: {allowed})", tok.line, tok.column
            )
        self.expect("(")
        args = [self.expression(0)]
        while self.peek().text == ",":
            self.advance()
            args.append(self.expression(0))
        self.expect(")")
        wanted = "exactly 1 argument" if tok.text == "abs" else "at least 2 arguments"
        if (len(args) == 1) != (tok.text == "abs"):
            raise ExpressionTypeError(
                f"{tok.text}() takes {wanted}, got {len(args)}", tok.line, tok.column
            )
        for arg in args:
            _need(arg, NUM, f"{tok.text}()", tok)
        kind = _numeric_result(*(a.type for a in args))
        return Call(tok.text, tuple(args), kind, tok.line, tok.column)

    def membership(self, left: Node, negated: bool, op: Token) -> Node:
        if left.type is FeatureType.BOOL:
            raise ExpressionTypeError("'in' does not apply to bool", op.line, op.column)
        self.expect("[")
        values: list[Value] = []
        while self.peek().text != "]" or self.peek().kind != "op":
            if values:
                self.expect(",")
            values.append(self._list_item(left.type))
        self.advance()
        return Membership(left, tuple(values), negated, FeatureType.BOOL, left.line, left.column)

    def _list_item(self, wanted: FeatureType) -> Value:
        sign, tok = 1, self.advance()
        if tok.text == "-" and tok.kind == "op":
            sign, tok = -1, self.advance()
            if tok.kind != "num":
                raise self.unexpected(tok, "expected a number")
        if tok.kind not in ("num", "str") and tok.text not in ("true", "false"):
            raise self.unexpected(tok, "expected a literal")
        kind = {"num": FeatureType.INT, "str": FeatureType.STR}.get(tok.kind, FeatureType.BOOL)
        if (kind in NUM) != (wanted in NUM) or kind is FeatureType.BOOL:
            raise ExpressionTypeError(f"list item must be {wanted}", tok.line, tok.column)
        if isinstance(tok.value, str) and tok.kind == "str":
            return tok.value
        assert isinstance(tok.value, int | float)
        return sign * tok.value


def _missing_operator(tok: Token) -> bool:
    """After a complete operand, a value or `.`/`[`/`(` means an operator is missing (or
    an attempt at attribute access, subscripts or calls)."""
    if tok.kind == "name":
        return tok.text not in _BP and tok.text != "not"
    return tok.kind in ("num", "str") or (tok.kind == "op" and tok.text in (".", "[", "("))


def _need(
    node: Node, kinds: set[FeatureType] | frozenset[FeatureType], what: str, at: Token
) -> None:
    if node.type not in kinds:
        names = "number" if kinds == NUM else "/".join(sorted(kinds))
        raise ExpressionTypeError(f"{what} needs {names}, got {node.type}", at.line, at.column)


def _numeric_result(*kinds: FeatureType) -> FeatureType:
    return FeatureType.INT if all(k is FeatureType.INT for k in kinds) else FeatureType.FLOAT


def _binary(op: str, left: Node, right: Node, tok: Token) -> Node:
    """Type rules for a binary operator; errors point at the operator."""
    lt, rt = left.type, right.type
    if op in ("and", "or"):
        _need(left, {FeatureType.BOOL}, f"'{op}'", tok)
        _need(right, {FeatureType.BOOL}, f"'{op}'", tok)
        kind = FeatureType.BOOL
    elif op in ("==", "!="):
        if not ((lt in NUM and rt in NUM) or lt is rt):
            raise ExpressionTypeError(f"cannot compare {lt} with {rt}", tok.line, tok.column)
        kind = FeatureType.BOOL
    else:
        _need(left, NUM, f"'{op}'", tok)
        _need(right, NUM, f"'{op}'", tok)
        kind = FeatureType.BOOL if op in _COMPARE else _numeric_result(lt, rt)
        kind = FeatureType.FLOAT if op == "/" else kind
    return Binary(op, left, right, kind, left.line, left.column)


# -- compilation ------------------------------------------------------------------------
_Fn = Callable[[Mapping[str, Any]], Any]
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}


def _div(a: Any, b: Any) -> float:
    return float(a / b) if b else 0.0


def _compile(node: Node) -> _Fn:
    """Turn the tree into closures once, so evaluation is a few Python calls per node."""
    match node:
        case Literal(value=value):
            return lambda f: value
        case Feature(name=name):
            return itemgetter(name)
        case Unary(op="not", operand=operand):
            g = _compile(operand)
            return lambda f: not g(f)
        case Unary(operand=operand):
            g = _compile(operand)
            return lambda f: -g(f)
        case Membership(operand=operand, values=values, negated=negated):
            g, members = _compile(operand), frozenset(values)
            if negated:
                return lambda f: g(f) not in members
            return lambda f: g(f) in members
        case Call(function=name, args=args):
            fns = tuple(_compile(a) for a in args)
            if name == "abs":
                (g,) = fns
                return lambda f: abs(g(f))
            pick = min if name == "min" else max
            return lambda f: pick([g(f) for g in fns])
        case Binary():
            return _compile_binary(node)
    raise AssertionError(node)  # pragma: no cover


def _compile_binary(node: Binary) -> _Fn:
    left, right = _compile(node.left), _compile(node.right)
    if node.op == "and":
        return lambda f: left(f) and right(f)
    if node.op == "or":
        return lambda f: left(f) or right(f)
    if node.op == "/":
        return lambda f: _div(left(f), right(f))
    fn = _OPS[node.op]
    if isinstance(node.right, Literal):
        constant = node.right.value
        return lambda f: fn(left(f), constant)
    return lambda f: fn(left(f), right(f))
