"""Top-up and withdrawal through the bank channel: the postings (the state machine is in
`domain/payments/funding.py`).

The accounting (signs as the ledger stores them: a transfer debits one account and
credits another; a wallet's balance is credits - debits, the RESERVE's is debits -
credits because it is an asset):

Top-up of X from a bound card
    request  PENDING   debit BANK_IN_FLIGHT, credit wallet X   (not spendable: pending)
    success  POST the pending transfer                          } linked: both or neither
             debit RESERVE, credit BANK_IN_FLIGHT X             }
    failure  VOID the pending transfer
    Net on success: RESERVE +X (cash arrived at the custodian), wallet +X (we owe it),
    BANK_IN_FLIGHT back to 0.

Withdrawal of X to a bound card
    request  PENDING   debit wallet, credit BANK_IN_FLIGHT X   (held: cannot be spent twice)
    success  POST the pending transfer                          } linked
             debit BANK_IN_FLIGHT, credit RESERVE X             }
    failure  VOID the pending transfer (the hold is released: money back)
    Net on success: RESERVE -X, wallet -X, BANK_IN_FLIGHT back to 0.

So BANK_IN_FLIGHT's *posted* balance is always zero and the money the bank has not
confirmed yet is visible only as its pending counters (debits_pending: top-ups in flight;
credits_pending: withdrawals in flight). Posted, the reserve equals every credit-normal
account (liabilities plus the platform's own fee revenue and loss reserve) at all times:
that is what `reconcile reserve` proves, together with the pending counters matching the
fundings still in flight.

Transfer ids derive from the funding id, so a retried callback produces the very same
events and the ledger answers `exists` instead of moving money twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from guardpay.domain.ledger.chart import TransferCode
from guardpay.domain.ledger.model import Transfer, TransferFlags


class Kind(StrEnum):
    TOP_UP = "top_up"
    WITHDRAWAL = "withdrawal"


class Step(StrEnum):
    HOLD = "hold"
    POST = "post"
    MOVE = "move"
    VOID = "void"


def transfer_id(funding_id: str, step: Step) -> int:
    """A 62-bit ledger id from the funding id and step: the same on every retry, never 0,
    and above 2^61 so it stays clear of small hand-made ids in tests and tools."""
    digest = hashlib.sha256(f"guardpay.funding:{funding_id}:{step.value}".encode()).digest()
    return (1 << 61) | (int.from_bytes(digest[:8], "big") & ((1 << 61) - 1))


@dataclass(frozen=True, slots=True)
class Accounts:
    """The ledger accounts one funding touches (all in the same ledger)."""

    wallet: int
    reserve: int
    in_flight: int
    ledger: int


def hold(funding_id: str, kind: Kind, amount: int, acc: Accounts) -> list[Transfer]:
    """The pending transfer made when the funding is requested."""
    debit, credit = (
        (acc.in_flight, acc.wallet) if kind is Kind.TOP_UP else (acc.wallet, acc.in_flight)
    )
    hold_id = transfer_id(funding_id, Step.HOLD)
    flags = TransferFlags.PENDING
    return [
        Transfer(hold_id, debit, credit, amount, ledger=acc.ledger, code=_code(kind), flags=flags)
    ]


def settle(funding_id: str, kind: Kind, amount: int, acc: Accounts) -> list[Transfer]:
    """Post the hold and move the money between the reserve and the suspense, linked."""
    debit, credit = (
        (acc.reserve, acc.in_flight) if kind is Kind.TOP_UP else (acc.in_flight, acc.reserve)
    )
    post = Transfer(
        transfer_id(funding_id, Step.POST),
        pending_id=transfer_id(funding_id, Step.HOLD),
        flags=TransferFlags.POST_PENDING | TransferFlags.LINKED,
    )
    move = Transfer(
        transfer_id(funding_id, Step.MOVE),
        debit,
        credit,
        amount,
        ledger=acc.ledger,
        code=_code(kind),
    )
    return [post, move]


def void(funding_id: str) -> list[Transfer]:
    """Release the hold: nothing reaches the wallet (top-up) or the money is back."""
    return [
        Transfer(
            transfer_id(funding_id, Step.VOID),
            pending_id=transfer_id(funding_id, Step.HOLD),
            flags=TransferFlags.VOID_PENDING,
        )
    ]


def _code(kind: Kind) -> int:
    return int(TransferCode.TOP_UP if kind is Kind.TOP_UP else TransferCode.WITHDRAWAL)
