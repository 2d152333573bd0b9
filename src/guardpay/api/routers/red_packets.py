"""Red packets over HTTP: send one (authenticated like a payment), claim a share, look.

Amounts are integers of minor units beside a currency; never floats. Sending without a
factor answers 401 `step_up_required` with the challenge to pass; send again with its
`step_up_challenge_id`. Claims answer 409 `red_packet_expired`, `red_packet_empty` or
`red_packet_already_claimed`. Claimers are shown only to the sender and the claimers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictInt

from guardpay.api.deps import InOneUnit, PayerCaller, UserCaller
from guardpay.api.routers.common import PathId, errors
from guardpay.api.routers.payments import Amount, AuthIn, Currency
from guardpay.domain.money import Money
from guardpay.domain.payments.red_packets import MAX_SHARES, Split
from guardpay.services.payments import red_packets

if TYPE_CHECKING:  # a type only: the rows come from the services
    from guardpay.storage.red_packets import ShareRow

router = APIRouter(route_class=InOneUnit, tags=["red packets"])
TTL = int(red_packets.DEFAULT_TTL.total_seconds())
Seconds = Annotated[StrictInt, Field(ge=60, le=7 * 86_400, description="Seconds")]


class RedPacketIn(AuthIn):
    amount: Amount
    currency: Currency = "CNY"
    shares: Annotated[StrictInt, Field(ge=1, le=MAX_SHARES)]
    split: Split = Split.RANDOM
    expires_in: Seconds = TTL
    message: str | None = Field(None, max_length=200)


class ClaimOut(BaseModel):
    claimer_id: str
    amount: int
    claimed_at: datetime


class RedPacketOut(BaseModel):
    id: str
    sender_id: str
    amount: int
    currency: str
    share_count: int
    split: str
    message: str | None
    status: str
    remaining_shares: int
    remaining_amount: int
    refunded: int
    expires_at: datetime
    created_at: datetime
    claims: list[ClaimOut]


def _claim(share: ShareRow) -> ClaimOut | None:
    if share.claimer_id is None or share.claimed_at is None:
        return None
    return ClaimOut(claimer_id=share.claimer_id, amount=share.amount, claimed_at=share.claimed_at)


def _out(packet: red_packets.RedPacket, viewer: str) -> RedPacketOut:
    r = packet.row
    claims = [c for c in map(_claim, packet.claims_seen_by(viewer)) if c is not None]
    return RedPacketOut(
        id=r.id,
        sender_id=r.sender_id,
        amount=r.amount,
        currency=r.currency,
        share_count=r.share_count,
        split=r.split,
        message=r.message,
        status=r.status,
        remaining_shares=packet.remaining_shares,
        remaining_amount=packet.remaining_amount,
        refunded=r.refunded,
        expires_at=r.expires_at,
        created_at=r.created_at,
        claims=claims,
    )


@router.post(
    "/red-packets",
    status_code=201,
    response_model=RedPacketOut,
    responses=errors(400, 401, 403, 409),
)
def create(caller: PayerCaller, body: RedPacketIn) -> RedPacketOut:
    """Fund a red packet from my balance; its shares are decided now."""
    new = red_packets.NewPacket(
        Money(body.amount, body.currency),
        body.shares,
        body.split,
        timedelta(seconds=body.expires_in),
        body.message,
    )
    packet = red_packets.create_red_packet(
        caller.ctx, caller.id, new, body.authorization(caller.proof)
    )
    return _out(packet, caller.id)


@router.post(
    "/red-packets/{packet_id}/claim", response_model=ClaimOut, responses=errors(401, 404, 409)
)
def claim(caller: UserCaller, packet_id: PathId) -> ClaimOut:
    """Take my share (once); it lands in my wallet."""
    got = red_packets.claim_red_packet(caller.ctx, caller.id, packet_id)
    return ClaimOut(claimer_id=got.claimer_id, amount=got.amount, claimed_at=got.claimed_at)


@router.get("/red-packets/{packet_id}", response_model=RedPacketOut, responses=errors(401, 404))
def get(caller: UserCaller, packet_id: PathId) -> RedPacketOut:
    return _out(red_packets.get_red_packet(caller.ctx, packet_id), caller.id)
