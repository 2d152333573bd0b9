"""The rule language's lexical layer: its error types and the tokenizer.

`tokenize` turns expression text into `Token`s with 1-based line and column, rejecting
at this stage everything that could reach a Python object: names starting with `_`,
Python keywords, attribute access (`.`), subscripts and juxtaposed values. The parser
and the public API live in `expr.py`, which re-exports the error types.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass

from guardpay.domain.risk.schema import Value
from guardpay.errors import InvalidRequest

MAX_INT = 10**18
WORDS = frozenset({"and", "or", "not", "in", "true", "false"})
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}
_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<num>\d(?:_?\d)*(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?)"
    r"|(?P<name>[A-Za-z_]\w*)"
    r"""|(?P<str>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
    r"|(?P<op>==|!=|<=|>=|[<>+\-*/()\[\],.])",
    re.ASCII,
)


class ExpressionError(InvalidRequest):
    """An expression that cannot be used; `line`/`column` are 1-based in its text."""

    code = "expression_invalid"

    def __init__(self, detail: str, line: int, column: int) -> None:
        super().__init__(f"{line}:{column}: {detail}", param="when")
        self.detail, self.line, self.column = detail, line, column


class ExpressionSyntaxError(ExpressionError):
    """Not in the grammar: includes every construct that could reach Python objects."""


class UnknownNameError(ExpressionError):
    """A name that is not a feature; `suggestion` is the closest feature, if any."""

    def __init__(self, name: str, suggestion: str | None, line: int, column: int) -> None:
        hint = f"; did you mean '{suggestion}'?" if suggestion else ""
        super().__init__(f"unknown feature '{name}'{hint}", line, column)
        self.name, self.suggestion = name, suggestion


class ExpressionTypeError(ExpressionError):
    """Operands of the wrong type, a wrong number of arguments, or a non-bool condition."""


# -- tokens -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # num, str, name, op, eof
    text: str
    value: Value
    line: int
    column: int


def tokenize(text: str) -> list[Token]:
    """Split into tokens, tracking 1-based line and column for every one."""
    tokens: list[Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        col = pos - line_start + 1
        m = _TOKEN.match(text, pos)
        if m is None:
            what = "unterminated string" if text[pos] in "'\"" else f"unexpected {text[pos]!r}"
            raise ExpressionSyntaxError(what, line, col)
        kind, chunk = m.lastgroup or "", m.group()
        if kind == "num" and re.match(r"[\w.]", text[m.end() : m.end() + 1]):
            raise ExpressionSyntaxError("malformed number", line, col)
        if kind != "ws":
            value = _token_value(kind, chunk, line, col)
            tokens.append(Token(kind, chunk, value, line, col))
        elif "\n" in chunk:
            line += chunk.count("\n")
            line_start = pos + chunk.rindex("\n") + 1
        pos = m.end()
    tokens.append(Token("eof", "", "", line, len(text) - line_start + 1))
    _reject_object_access(tokens)
    return tokens


def _reject_object_access(tokens: list[Token]) -> None:
    """Attribute access, subscripts and juxtaposed values (`f'...'`, `a b`) are syntax
    errors before any name is resolved: `x.__class__` never gets to "unknown feature"."""
    after_value = False
    for tok in tokens:
        if tok.kind == "op" and tok.text == ".":
            raise ExpressionSyntaxError(
                "attribute access ('.') is not allowed", tok.line, tok.column
            )
        if tok.kind == "op" and tok.text == "[" and after_value:
            raise ExpressionSyntaxError("subscripts are not allowed", tok.line, tok.column)
        is_value = tok.kind in ("num", "str") or (tok.kind == "name" and tok.text not in WORDS)
        if is_value and after_value:
            raise ExpressionSyntaxError(
                f"expected an operator, got {tok.text!r}", tok.line, tok.column
            )
        after_value = is_value or tok.text in (")", "]")


def _token_value(kind: str, chunk: str, line: int, col: int) -> Value:
    if kind == "num":
        digits = chunk.replace("_", "")
        if not any(c in digits for c in ".eE"):
            if int(digits) > MAX_INT:
                raise ExpressionSyntaxError(f"integer literal above {MAX_INT}", line, col)
            return int(digits)
        if not math.isfinite(number := float(digits)):
            raise ExpressionSyntaxError("float literal out of range", line, col)
        return number
    if kind == "str":
        return _unescape(chunk[1:-1], line, col)
    if kind == "name" and chunk.startswith("_"):
        raise ExpressionSyntaxError(f"names starting with '_' are not allowed: {chunk}", line, col)
    if kind == "name" and chunk not in WORDS and keyword.iskeyword(chunk):
        hint = "; write true/false" if chunk in ("True", "False", "None") else ""
        raise ExpressionSyntaxError(f"'{chunk}' is not part of the rule language{hint}", line, col)
    return chunk


def _unescape(body: str, line: int, col: int) -> str:
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\":
            if body[i + 1] not in _ESCAPES:
                raise ExpressionSyntaxError(f"unknown escape \\{body[i + 1]}", line, col + i + 1)
            out.append(_ESCAPES[body[i + 1]])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)
