"""Structured logging with secrets removed before anything is written.

Two nets, for logs and for audit details alike (`scrub`): any field whose name suggests
a secret or personal identifier is replaced whatever its value, and any number of 11 or
more digits in any string (a phone, card or ID number) is masked to its first 3 and last 4
digits. So a careless `log.info(..., password=pw)` or `details={"note": f"card {pan}"}`
cannot leak what it names.

A number counts whether written unbroken or in groups, as people write card, ID and phone
numbers ("6222 0277 7777 7777 778", "310104-19900307-123X", "138.1234.5678"): groups of
3 or more digits joined by single spaces, dashes or dots (the last may be shorter); a
trailing ID check letter stays, as it does after an unbroken number. Grouped digits that
are not one long number stay whole: a timestamp ("2026-11-22 02:53:59": its 2-digit
groups break the run), an IPv4 address or an amount with thousands separated (no group
of 4 or more digits), a decimal ("123456789.50": one dot between two groups). The price
is that a few unrelated numbers written side by side ("ids 1234 5678 9012") are masked
too: in a log, masking too much is the safe side. A run of digits inside a word is not a
number someone wrote: a SHA-256 in hex ("…aa55422921066a99d", the hash of a filed report
that the audit log must keep exactly) or an id stays whole, while a number glued to an
ID's check letter X ("…0307123X") is still masked.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from functools import lru_cache
from typing import Any

import structlog

# A field is secret if one of its `_`/`-`/`.`-separated words is (so `card_number` and
# `new_password` are, `company` and `passed` are not), or it names an identity number.
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pin",
        "secret",
        "token",
        "otp",
        "pan",
        "card",
        "cvv",
        "cvv2",
        "phone",
        "key",
        "authorization",
        "cookie",
        "credential",
        "credentials",
    }
)
_SECRET_NAMES = ("id_number", "national_id", "document_number", "sms_code", "one_time_code")
_WORD = re.compile(r"[_\-.]")


@lru_cache(maxsize=4096)
def is_secret_field(name: str) -> bool:
    """Field names are few and asked again for every log line and audit entry."""
    lowered = name.lower()
    if any(n in lowered for n in _SECRET_NAMES):
        return True
    return any(word in _SECRET_WORDS for word in _WORD.split(lowered))


REDACTED = "[redacted]"
_LONG_DIGITS = re.compile(r"\d{11,}")
_MIN_DIGITS = 11
_ELEVEN_DIGITS = 10 ** (_MIN_DIGITS - 1)  # the smallest number of 11 digits
#: Digits, unbroken or in groups (see the module's docstring); `_mask_run` decides.
_DIGIT_RUN = re.compile(
    r"(?<![0-9A-Za-z])\d{3,}(?:[ .-]\d{3,})*(?:[ .-]\d{1,2})?(?![0-9A-WYZa-wyz])"
)
_SEPARATOR = re.compile(r"[ .-]")


def _mask_in_place(text: str) -> str:
    """Every digit but the first 3 and the last 4 becomes `*`; separators stay."""
    total = sum(c.isdigit() for c in text)
    out, seen = [], 0
    for c in text:
        if c.isdigit():
            seen += 1
            c = c if seen <= 3 or seen > total - 4 else "*"
        out.append(c)
    return "".join(out)


def _mask_digits(match: re.Match[str]) -> str:
    return _mask_in_place(match.group(0))


def _one_number(run: str, groups: list[str]) -> bool:
    """Whether grouped digits are one long number rather than an IPv4 address, an amount
    with thousands separated (no group of 4 digits) or a decimal (one dot)."""
    lengths = [len(g) for g in groups]
    if sum(lengths) < _MIN_DIGITS or max(lengths) < 4:
        return False
    return not (len(groups) == 2 and "." in run)


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    groups = _SEPARATOR.split(run)
    if len(groups) > 1 and _one_number(run, groups):
        return _mask_in_place(run)
    return _LONG_DIGITS.sub(_mask_digits, run)  # any unbroken run of 11+ within


def scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return _DIGIT_RUN.sub(_mask_run, value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _ELEVEN_DIGITS:
        return scrub_value(str(value))
    if isinstance(value, Mapping):
        return scrub(value)
    if isinstance(value, list | tuple):
        return [scrub_value(v) for v in value]
    return value


def scrub(fields: Mapping[str, Any], keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A copy with secret-named fields replaced and long digit runs masked."""
    return {
        k: REDACTED if k not in keep and is_secret_field(k) else scrub_value(v)
        for k, v in fields.items()
    }


def redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    cleaned = scrub(event, keep=frozenset({"event"}))
    event.clear()
    event.update(cleaned)
    return event


def configure(level: int = logging.INFO, *, json: bool = False) -> None:
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),  # stdout is for --json
    )


#: How much the CLI and `guardpay serve` log (debug, info, warning, error; default
#: warning: the CLI's stderr stays quiet) and how (console, or json for a log pipeline):
#: config.py `Settings.log_level` / `log_format` read these variables; `serve
#: --log-level/--log-format` write them, so its worker processes inherit the choice.
LOG_LEVEL_ENV = "GUARDPAY_LOG_LEVEL"
LOG_FORMAT_ENV = "GUARDPAY_LOG_FORMAT"
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
FORMATS = ("console", "json")


def configure_named(level: str = "warning", form: str = "console") -> None:
    """`configure` by the names the settings use (the edge passes its `Settings.log_level`
    and `log_format`); an unknown name is refused, not ignored (a server quietly logging
    nothing is what an operator must not get)."""
    level, form = level.lower(), form.lower()
    if level not in LEVELS:
        raise ValueError(f"{LOG_LEVEL_ENV} must be one of {', '.join(LEVELS)}, not {level!r}")
    if form not in FORMATS:
        raise ValueError(f"{LOG_FORMAT_ENV} must be one of {', '.join(FORMATS)}, not {form!r}")
    configure(LEVELS[level], json=form == "json")
