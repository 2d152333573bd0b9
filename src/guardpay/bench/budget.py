"""What the API target leaves one payment on this machine, from what the run measured.

Why: requests per second on a shared machine swing by half within hours, so whether the
target is in reach is better read from CPU time. At the target rate the machine has
`cpus * 1000 / rate` CPU milliseconds per payment in all; the load generator (same
machine) takes its share, and the server may spend the rest. Comparing that allowance
with what the server spent says how far the target is, whatever the hour; and the floor
(the same request refused before any database work) says how much of the allowance the
HTTP stack alone already takes.
"""

from __future__ import annotations

import os
from typing import Any

TARGET_PAYMENTS_PER_SECOND = 1_000
TARGET_P99_MS = 100.0


def cpus() -> int:
    """The CPUs this process may run on (the machine's, unless pinned)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def target_met(payments_per_second: float, p99_ms: float, errors: int) -> bool:
    return (
        payments_per_second >= TARGET_PAYMENTS_PER_SECOND and p99_ms < TARGET_P99_MS and not errors
    )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _per(part: float | None, allowed: float | None) -> float | None:
    """`part` as a share of a positive allowance (None where either is unknown)."""
    return None if part is None or allowed is None or allowed <= 0 else round(part / allowed, 2)


def budget(
    *, cpus: int, client_ms: float | None, server_ms: float | None, floor_ms: float | None
) -> dict[str, Any]:
    """The allowance and the spend, per payment, in CPU milliseconds. `client_ms` is the
    load generator's, `server_ms` the server's per payment, `floor_ms` the server's per
    refused request; a figure that could not be read (None) leaves its lines None."""
    at_target = cpus * 1000 / TARGET_PAYMENTS_PER_SECOND
    allowed = None if client_ms is None else at_target - client_ms
    return {
        "target_payments_per_second": TARGET_PAYMENTS_PER_SECOND,
        "cpus": cpus,
        "cpu_ms_per_payment_at_target": _ms(at_target),
        "client_cpu_ms_per_payment": _ms(client_ms),
        "server_cpu_ms_allowed": _ms(allowed),
        "server_cpu_ms_spent": _ms(server_ms),
        "server_spent_per_allowed": _per(server_ms, allowed),
        "floor_share_of_allowed": _per(floor_ms, allowed),
    }
