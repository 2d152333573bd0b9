"""The wall clock, in one place below every layer: use cases take a clock (so tests move
time), and this is the one they default to."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
