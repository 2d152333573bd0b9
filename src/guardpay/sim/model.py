"""What the planners hand the runner: requests to make (`Tx`) and their ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

Location = tuple[float, float]

#: request kinds (RiskRequest.kind) by simulated channel
KIND_OF = {
    "p2p": "transfer",
    "qr_static": "payment",
    "qr_order": "payment",
    "payment_code": "payment",
    "escrow": "payment",
    "red_packet": "red_packet",
    "topup": "topup",
    "withdrawal": "withdrawal",
    "refund": "refund",
}


@dataclass(frozen=True)
class Label:
    """The ground truth of one request: which case made it, and as what."""

    fraud: str = ""
    laundering: str = ""
    case_id: str = ""


ORDINARY = Label()


@dataclass(frozen=True)
class Where:
    """Where a request comes from, as the risk features see it."""

    device_id: str
    ip: str
    location: Location | None


@dataclass(frozen=True)
class Tx:
    """One money-moving request to make at `at`.

    `amount` is minor units; with `share` set it is instead that share of the payer's
    available balance when the request is made (a drain or a pass-through), rounded down
    to whole yuan, and the request is skipped when that comes to nothing. `can_step_up`:
    whether the person at the keyboard can answer an SMS challenge (a legitimate user
    can; a fraudster on a stolen account usually cannot).
    """

    at: datetime
    payer: int
    channel: str
    amount: int = 0
    payee: int = -1  # a person, for p2p
    merchant: int = -1  # a merchant, for merchant channels
    where: Where | None = None  # None: the payer's own phone at home
    can_step_up: bool = True
    label: Label = ORDINARY
    share_bp: int | None = None  # instead of an amount: this many basis points of the balance
    card: int = 0  # the payer's card: 0 their own, 1.. stolen ones
    ref: str = ""  # refund: the payment to refund


@dataclass(frozen=True)
class Step:
    """Something a case does that is not a money-moving request (e.g. a password change
    after a takeover): `action` names it for the runner."""

    at: datetime
    person: int
    action: str
    where: Where | None = None
    label: Label = ORDINARY
