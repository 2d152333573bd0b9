"""Structured logging with secrets removed before anything is written.

Two nets, for logs and for audit details alike (`scrub`): any field whose name suggests
a secret or personal identifier is replaced whatever its value, and any run of 11 or more
digits in any string (a phone, card or ID number) is masked to its first 3 and last 4.
So a careless `log.info(..., password=pw)` or `details={"note": f"card {pan}"}` cannot
leak what it names.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

# A field is secret if one of its `_`/`-`/`.`-separated words is (so `card_number` and
# `new_password` are, `company` and `passed` are not), or it names an identity number.
_SECRET_WORDS = frozenset(
    {"password", "passwd", "pass", "pin", "secret", "token", "otp", "pan", "card", "cvv",
     "cvv2", "phone", "key", "authorization", "cookie", "credential", "credentials"}
)  # fmt: skip
_SECRET_NAMES = ("id_number", "national_id", "document_number", "sms_code", "one_time_code")
_WORD = re.compile(r"[_\-.]")


def is_secret_field(name: str) -> bool:
    lowered = name.lower()
    if any(n in lowered for n in _SECRET_NAMES):
        return True
    return any(word in _SECRET_WORDS for word in _WORD.split(lowered))


REDACTED = "[redacted]"
_LONG_DIGITS = re.compile(r"\d{11,}")


def _mask_digits(match: re.Match[str]) -> str:
    digits = match.group(0)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return _LONG_DIGITS.sub(_mask_digits, value)
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) >= 11:
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
#: warning: the CLI's stderr stays quiet) and how (console, or json for a log pipeline).
#: `serve --log-level/--log-format` set them, so its worker processes inherit them.
LOG_LEVEL_ENV = "GUARDPAY_LOG_LEVEL"
LOG_FORMAT_ENV = "GUARDPAY_LOG_FORMAT"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}  # fmt: skip
FORMATS = ("console", "json")


def configure_from_environment() -> None:
    """`configure` as the environment says; an unknown value is refused, not ignored
    (a server quietly logging nothing is what an operator must not get)."""
    level = os.environ.get(LOG_LEVEL_ENV, "warning").lower()
    form = os.environ.get(LOG_FORMAT_ENV, "console").lower()
    if level not in LEVELS:
        raise ValueError(f"{LOG_LEVEL_ENV} must be one of {', '.join(LEVELS)}, not {level!r}")
    if form not in FORMATS:
        raise ValueError(f"{LOG_FORMAT_ENV} must be one of {', '.join(FORMATS)}, not {form!r}")
    configure(LEVELS[level], json=form == "json")
