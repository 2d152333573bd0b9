"""Red packets: the packet's own holding account between the sender and the claimers.

Fund     sender wallet -> packet holding      the total               code RED_PACKET
Claim    packet holding -> claimer wallet     one share               code RED_PACKET
Expiry   packet holding -> sender wallet      the unclaimed shares    code RED_PACKET

The shares sum exactly to the total (`domain.payments.red_packets.split`), so after
every share is claimed or returned the holding account is at zero.
"""

from __future__ import annotations

from guardpay.domain.ledger.chart import TransferCode
from guardpay.domain.ledger.model import Transfer


def fund(
    *, sender: int, holding: int, amount: int, ledger: int, transfer_id: int
) -> list[Transfer]:
    """The sender's total into the packet."""
    return [_move(sender, holding, amount, ledger, transfer_id)]


def claim(
    *, holding: int, claimer: int, amount: int, ledger: int, transfer_id: int
) -> list[Transfer]:
    """One share out to the user who claimed it."""
    return [_move(holding, claimer, amount, ledger, transfer_id)]


def give_back(
    *, holding: int, sender: int, amount: int, ledger: int, transfer_id: int
) -> list[Transfer]:
    """What nobody claimed, back to the sender on expiry."""
    return [_move(holding, sender, amount, ledger, transfer_id)]


def _move(debit: int, credit: int, amount: int, ledger: int, transfer_id: int) -> Transfer:
    return Transfer(transfer_id, debit, credit, amount, ledger=ledger, code=TransferCode.RED_PACKET)
