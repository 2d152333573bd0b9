"""The escrow (guarantee trade) state machine (DESIGN.md "Payments").

    held -> shipped -> released            (the buyer confirms, or auto-confirm)
    held | shipped -> refunded             (refund before release)
    held | shipped -> disputed -> released | refunded   (an operator resolves it)

Released and refunded are final. A disputed trade is frozen: only an operator's
resolution moves it, so neither the buyer's confirm, the auto-confirm job nor a refund
can slip money out while the parties disagree. `step` is pure and the only way a trade's
status changes; anything else raises `IllegalEscrowTransition` (or its `EscrowDisputed`
case), so a service cannot release a trade twice or refund a released one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from guardpay.errors import Conflict

DEFAULT_AUTO_CONFIRM_DAYS = 10


class EscrowStatus(StrEnum):
    HELD = "held"
    SHIPPED = "shipped"
    DISPUTED = "disputed"
    RELEASED = "released"
    REFUNDED = "refunded"


class Action(StrEnum):
    SHIP = "ship"
    CONFIRM = "confirm"  # by the buyer, or by the auto-confirm job
    REFUND = "refund"
    DISPUTE = "dispute"
    RESOLVE_RELEASE = "resolve_release"
    RESOLVE_REFUND = "resolve_refund"


class IllegalEscrowTransition(Conflict):
    """The trade's status does not allow this action (409 `escrow_illegal_transition`)."""

    code = "escrow_illegal_transition"


class EscrowDisputed(IllegalEscrowTransition):
    """The trade is frozen by a dispute until an operator resolves it (409)."""

    code = "escrow_disputed"


_S = EscrowStatus
RULES: dict[tuple[EscrowStatus, Action], EscrowStatus] = {
    (_S.HELD, Action.SHIP): _S.SHIPPED,
    (_S.SHIPPED, Action.CONFIRM): _S.RELEASED,
    (_S.HELD, Action.REFUND): _S.REFUNDED,
    (_S.SHIPPED, Action.REFUND): _S.REFUNDED,
    (_S.HELD, Action.DISPUTE): _S.DISPUTED,
    (_S.SHIPPED, Action.DISPUTE): _S.DISPUTED,
    (_S.DISPUTED, Action.RESOLVE_RELEASE): _S.RELEASED,
    (_S.DISPUTED, Action.RESOLVE_REFUND): _S.REFUNDED,
}
FINAL = frozenset({EscrowStatus.RELEASED, EscrowStatus.REFUNDED})


def allowed(status: EscrowStatus) -> frozenset[Action]:
    """What may happen to a trade in `status` (the buttons a screen offers)."""
    return frozenset(action for (s, action) in RULES if s is status)


def step(status: EscrowStatus, action: Action) -> EscrowStatus:
    """The status after `action`, or the specific refusal (disputed trades are frozen)."""
    target = RULES.get((status, action))
    if target is not None:
        return target
    if status is EscrowStatus.DISPUTED:
        raise EscrowDisputed("this trade is disputed until an operator resolves it", param="status")
    raise IllegalEscrowTransition(f"a {status.value} trade cannot {action.value}", param="status")


def auto_confirm_at(shipped_at: datetime, days: int = DEFAULT_AUTO_CONFIRM_DAYS) -> datetime:
    """After this instant a shipped trade the buyer never confirmed is confirmed for them."""
    if type(days) is not int or days < 1:
        raise ValueError("auto-confirm is a whole number of days, at least one")
    return shipped_at + timedelta(days=days)


def auto_confirm_due(
    status: EscrowStatus,
    shipped_at: datetime | None,
    now: datetime,
    days: int = DEFAULT_AUTO_CONFIRM_DAYS,
) -> bool:
    """Only a shipped (not disputed) trade is ever auto-confirmed, and only once due."""
    if status is not EscrowStatus.SHIPPED or shipped_at is None:
        return False
    return now > auto_confirm_at(shipped_at, days)
