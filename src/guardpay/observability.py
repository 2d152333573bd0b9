"""Structured logging with secrets removed before anything is written.

Two nets, for logs and for audit details alike (`scrub`): any field whose name suggests
a secret or personal identifier is replaced whatever its value, and any run of 11 or more
digits in any string (a phone, card or ID number) is masked to its first 3 and last 4.
So a careless `log.info(..., password=pw)` or `details={"note": f"card {pan}"}` cannot
leak what it names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = re.compile(
    r"pass(word)?|secret|token|otp|pan|card|cvv|id_number|national_id|phone|key|authorization",
    re.IGNORECASE,
)
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
        k: REDACTED if k not in keep and _SECRET_KEYS.search(k) else scrub_value(v)
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
        logger_factory=structlog.PrintLoggerFactory(),
    )
