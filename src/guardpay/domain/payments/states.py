"""The payment state machine (DESIGN.md "Payments").

    created -> requires_action -> processing -> succeeded | failed | canceled
    created -> processing                      (authenticated up front)
    created | requires_action -> canceled      (abandoned before money moved)

`transition(state, target)` is the only way a status changes: it returns the new state
and the event that records the change, and raises `IllegalTransition` for anything
else, so a succeeded payment can never be failed later by a confused caller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from guardpay.errors import Conflict


class Status(StrEnum):
    CREATED = "created"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


ALLOWED: dict[Status, frozenset[Status]] = {
    Status.CREATED: frozenset({Status.REQUIRES_ACTION, Status.PROCESSING, Status.CANCELED}),
    Status.REQUIRES_ACTION: frozenset({Status.PROCESSING, Status.CANCELED}),
    Status.PROCESSING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED}),
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELED: frozenset(),
}
FINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED})


class IllegalTransition(Conflict):
    """A status change the state machine does not allow (409 `illegal_transition`)."""

    code = "illegal_transition"


@dataclass(frozen=True)
class PaymentState:
    id: str
    status: Status = Status.CREATED
    failure_code: str | None = None


@dataclass(frozen=True)
class StatusChanged:
    payment_id: str
    old: Status
    new: Status
    at: datetime
    failure_code: str | None = None


def transition(
    state: PaymentState, target: Status, at: datetime, failure_code: str | None = None
) -> tuple[PaymentState, list[StatusChanged]]:
    """Move to `target`; a failure code only goes with `failed` (and is required there)."""
    if target not in ALLOWED[state.status]:
        raise IllegalTransition(
            f"a {state.status.value} payment cannot become {target.value}", param="status"
        )
    if (target is Status.FAILED) != (failure_code is not None):
        raise ValueError("failed needs a failure code, and only failed has one")
    new = replace(state, status=target, failure_code=failure_code)
    return new, [StatusChanged(state.id, state.status, target, at, failure_code)]
