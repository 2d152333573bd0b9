"""Top-up and withdrawal through the bank channel: the state machine. Pure, no I/O.

The postings (the pending hold, the linked post and reserve move, the void) and the
funding kinds live in `domain/payments/postings/funding.py` with every other kind's,
and are re-exported here for the callers that know them from this module.

State machine: processing -> succeeded | failed. The first final answer from the bank
wins; a later conflicting answer (failure after success, or the reverse) changes nothing
and is recorded as an anomaly, because money that settled at the bank cannot be undone
by a stray message.
"""

from __future__ import annotations

from enum import StrEnum

from guardpay.domain.payments.postings.funding import (
    Accounts,
    Kind,
    Step,
    hold,
    settle,
    transfer_id,
    void,
)

__all__ = [
    "DIRECTION",
    "Accounts",
    "Action",
    "BankStatus",
    "Kind",
    "State",
    "Step",
    "decide",
    "hold",
    "next_state",
    "settle",
    "transfer_id",
    "void",
]


class State(StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class BankStatus(StrEnum):
    """A bank's final answer about one instruction."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Action(StrEnum):
    """What to do with a callback, decided from the funding's state alone."""

    SETTLE = "settle"  # post the hold and move the reserve
    VOID = "void"  # release the hold
    ALREADY = "already"  # the same final answer again: nothing to do
    CONFLICT = "conflict"  # a different answer after a final one: an anomaly


#: Which direction the money moves at the bank, as the statement names it.
DIRECTION = {Kind.TOP_UP: "in", Kind.WITHDRAWAL: "out"}


def decide(state: State, status: BankStatus) -> Action:
    """The transition for a bank answer; only `processing` moves, first answer wins."""
    if state is State.PROCESSING:
        return Action.SETTLE if status is BankStatus.SUCCEEDED else Action.VOID
    final_for = {BankStatus.SUCCEEDED: State.SUCCEEDED, BankStatus.FAILED: State.FAILED}
    return Action.ALREADY if final_for[status] is state else Action.CONFLICT


def next_state(action: Action, state: State) -> State:
    return {Action.SETTLE: State.SUCCEEDED, Action.VOID: State.FAILED}.get(action, state)
