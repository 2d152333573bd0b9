"""Red packets: a sender funds a packet of N shares; each user claims one share, once;
on expiry the unclaimed rest goes back to the sender.

Money: creation moves the total from the sender's wallet to the packet's own holding
account (`RED_PACKET_HOLDING`, one per packet, so "the packet is settled" is simply "its
holding account is at zero"); a claim moves one share out to the claimer's wallet; expiry
moves the unclaimed shares back. Each step is one unit of work with its rows, its ledger
transfer and its audit entry, so they commit together or not at all.

Authentication and limits are a payment's: the sender shows the payment password and/or
a passed "payment" step-up (with neither, a step-up challenge is begun and
`step_up_required` answered, committed like every auth refusal). Funding a packet is
recorded as a succeeded `payments` row of kind `red_packet` paid to the packet, checked
by `payments_limits.check_limits` first, so it counts against the sender's account-class
balance-payment allowance like a P2P transfer (no QR limit applies).

Concurrency: claims and expiry lock the packet row first, so the last share goes to one
claimer, and a share is never both claimed and refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.ids import new_transfer_id
from guardpay.domain.money import Money, currency
from guardpay.domain.payments.limits import DEFAULT, PaymentSettings
from guardpay.domain.payments.postings import red_packets as postings
from guardpay.domain.payments.red_packets import RandomSource, Split, check_split, split
from guardpay.errors import Conflict, InvalidRequest, NotFound
from guardpay.services.ledger import wallets
from guardpay.services.payments import pipeline
from guardpay.services.payments.pipeline import Authorization
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import new_id
from guardpay.services.risk.screening import Subject
from guardpay.storage.red_packets import PacketRow, ShareRow

KIND = "red_packet"
DEFAULT_TTL = timedelta(hours=24)
MAX_TTL = timedelta(days=7)
MIN_TTL = timedelta(minutes=1)


@dataclass(frozen=True)
class NewPacket:
    """What the sender asks for; `amount` is the total, split into `shares`."""

    amount: Money
    shares: int
    split: Split = Split.RANDOM
    expires_in: timedelta = DEFAULT_TTL
    message: str | None = None


@dataclass(frozen=True)
class RedPacket:
    row: PacketRow
    shares: list[ShareRow]

    def claims_seen_by(self, viewer: str) -> list[ShareRow]:
        """The claimed shares, to the sender and to those who claimed one: anyone else
        with the packet's id sees only what is left (who took how much is theirs)."""
        claimed = [s for s in self.shares if s.claimer_id is not None]
        if viewer == self.row.sender_id or viewer in {s.claimer_id for s in claimed}:
            return claimed
        return []

    @property
    def remaining_shares(self) -> int:
        return sum(1 for s in self.shares if s.claimer_id is None)

    @property
    def remaining_amount(self) -> int:
        return (
            0
            if self.row.status == "expired"
            else sum(s.amount for s in self.shares if s.claimer_id is None)
        )


@dataclass(frozen=True)
class Claimed:
    """One successful claim: whose share, how much, when."""

    packet_id: str
    claimer_id: str
    amount: int
    currency: str
    claimed_at: datetime


def holding(ctx: Context, packet_id: str, currency_code: str) -> int:
    """The packet's own holding account (opened on first use)."""
    return wallets.wallet(ctx, KIND, packet_id, currency_code, AccountCode.RED_PACKET_HOLDING)


def _validate(new: NewPacket) -> None:
    """Refuse an impossible packet before anything (auth bookkeeping included) happens."""
    try:
        check_split(new.amount.amount, new.shares)
    except ValueError as e:
        raise InvalidRequest(str(e), code="invalid_red_packet", param="shares") from e
    if not MIN_TTL <= new.expires_in <= MAX_TTL:
        raise InvalidRequest(
            "a red packet expires in 1 minute to 7 days",
            code="invalid_red_packet",
            param="expires_in",
        )


def _packet(
    ctx: Context, packet_id: str, sender_id: str, payment_id: str, new: NewPacket
) -> PacketRow:
    now = ctx.now()
    return PacketRow(
        packet_id,
        sender_id,
        payment_id,
        new.amount.amount,
        new.amount.currency,
        new.shares,
        new.split.value,
        new.message,
        "open",
        0,
        now + new.expires_in,
        now,
        now,
    )


def create_red_packet(
    ctx: Context,
    sender_id: str,
    new: NewPacket,
    given: Authorization,
    *,
    rng: RandomSource | None = None,
    settings: PaymentSettings = DEFAULT,
) -> RedPacket:
    """Authenticate the sender, check their limits, split, and fund the holding account."""
    _validate(new)
    packet_id = new_id("rp")
    risk = Subject("red_packet", KIND, new.amount.amount, new.amount.currency)
    debit = pipeline.Debit(
        pipeline.RED_PACKET, sender_id, (KIND, packet_id), new.amount, given, risk
    )
    pay = pipeline.debit(ctx, debit, settings)
    row = _packet(ctx, packet_id, sender_id, pay.id, new)
    amounts = split(new.amount.amount, new.shares, new.split, rng)
    shares = [ShareRow(packet_id, i, a, None, None) for i, a in enumerate(amounts)]
    ctx.uow.red_packets.insert(row, shares)
    cur = new.amount.currency
    fund = postings.fund(
        sender=wallets.wallet(ctx, "user", sender_id, cur),
        holding=holding(ctx, packet_id, cur),
        amount=row.amount,
        ledger=currency(cur).numeric,
        transfer_id=new_transfer_id(),
    )
    pipeline.move(ctx, pipeline.RED_PACKET, fund)
    ctx.audit(
        "red_packet.created",
        subject=packet_id,
        details={
            "sender": sender_id,
            "payment": pay.id,
            "amount": row.amount,
            "currency": cur,
            "shares": new.shares,
            "split": row.split,
            "factors": pay.factors,
        },
    )
    return RedPacket(row, shares)


def _locked(ctx: Context, packet_id: str) -> PacketRow:
    row = ctx.uow.red_packets.packet(packet_id, lock=True)
    if row is None:
        raise NotFound("no such red packet", code="red_packet_not_found", param="packet_id")
    return row


def _claimable(ctx: Context, row: PacketRow, shares: list[ShareRow], user_id: str) -> ShareRow:
    """The share this user gets, or the specific reason they get none."""
    if any(s.claimer_id == user_id for s in shares):
        raise Conflict("you already claimed this red packet", code="red_packet_already_claimed")
    if row.status == "expired" or ctx.now() >= row.expires_at:
        raise Conflict("this red packet has expired", code="red_packet_expired")
    free = [s for s in shares if s.claimer_id is None]
    if not free:
        raise Conflict("this red packet is all taken", code="red_packet_empty")
    return free[0]


def claim_red_packet(ctx: Context, user_id: str, packet_id: str) -> Claimed:
    """Take the next unclaimed share, under the packet's row lock (one winner per share)."""
    row = _locked(ctx, packet_id)
    shares = ctx.uow.red_packets.shares(packet_id)
    share = _claimable(ctx, row, shares, user_id)
    now = ctx.now()
    ctx.uow.red_packets.claim_share(packet_id, share.seq, user_id, now)
    if sum(1 for s in shares if s.claimer_id is None) == 1:
        ctx.uow.red_packets.set_status(packet_id, "empty", now)
    cur = row.currency
    claim = postings.claim(
        holding=holding(ctx, packet_id, cur),
        claimer=wallets.wallet(ctx, "user", user_id, cur),
        amount=share.amount,
        ledger=currency(cur).numeric,
        transfer_id=new_transfer_id(),
    )
    pipeline.move(ctx, pipeline.RED_PACKET, claim)
    ctx.audit(
        "red_packet.claimed",
        subject=packet_id,
        details={"claimer": user_id, "share": share.seq, "amount": share.amount, "currency": cur},
    )
    return Claimed(packet_id, user_id, share.amount, cur, now)


def _expire_one(ctx: Context, packet_id: str, now: datetime) -> bool:
    """Return the unclaimed shares to the sender; False if a claim emptied it meanwhile."""
    row = _locked(ctx, packet_id)
    if row.status != "open" or row.expires_at > now:
        return False
    left = sum(s.amount for s in ctx.uow.red_packets.shares(packet_id) if s.claimer_id is None)
    cur = row.currency
    if left:
        back = postings.give_back(
            holding=holding(ctx, packet_id, cur),
            sender=wallets.wallet(ctx, "user", row.sender_id, cur),
            amount=left,
            ledger=currency(cur).numeric,
            transfer_id=new_transfer_id(),
        )
        pipeline.move(ctx, pipeline.RED_PACKET, back)
    ctx.uow.red_packets.set_status(packet_id, "expired", now, refunded=left)
    ctx.audit(
        "red_packet.expired",
        subject=packet_id,
        details={"sender": row.sender_id, "refunded": left, "currency": cur},
    )
    return True


def expire_red_packets(ctx: Context, now: datetime | None = None) -> list[str]:
    """The expiry job: settle every open packet past its expiry; the ids it settled."""
    at = ctx.now() if now is None else now
    return [i for i in ctx.uow.red_packets.due(at) if _expire_one(ctx, i, at)]


def get_red_packet(ctx: Context, packet_id: str) -> RedPacket:
    """A packet and its shares; whoever has the id may look (they need it to claim)."""
    row = ctx.uow.red_packets.packet(packet_id)
    if row is None:
        raise NotFound("no such red packet", code="red_packet_not_found", param="packet_id")
    return RedPacket(row, ctx.uow.red_packets.shares(packet_id))
