"""Bank cards: bind (after the issuer's four-element check), list masked, unbind.

The PAN is stored encrypted under the holder's data key, with a blind index that finds
the same card without decrypting: a card active on any account cannot be bound again
(`card_already_bound`, the same answer whoever holds it, so it does not reveal whose it
is). Payments refer to a card by its random token, never by its number. The CVV2 and
expiry of a credit card travel to the issuer for the one check and are dropped.

Binding needs a verified identity: the four elements are the holder's legal name and ID
number as verified, the card and the phone number reserved at the bank. A passed check
also counts as the bank-card verification channel for the account class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from guardpay.adapters.kyc import FourElements, Kyc, Verdict
from guardpay.domain.identity.cards import Card, CardSecurity, card_security, parse_card
from guardpay.domain.identity.classes import AccountClass, Channel, class_for
from guardpay.domain.identity.masking import mask_card
from guardpay.domain.identity.phone import normalize_phone
from guardpay.errors import Conflict, InvalidRequest, NotFound
from guardpay.services.identity.common import live_user, today
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import new_id
from guardpay.storage.identity import CardRow, DocumentRow


@dataclass(frozen=True)
class BankCard:
    """A bound card as shown anywhere: bank, type and the masked number only."""

    id: str
    token: str | None
    number: str  # "6222 **** **** 1234"
    bank_code: str
    bank: str
    card_type: str
    scheme: str
    status: str
    bound_at: datetime


def card_view(row: CardRow) -> BankCard:
    masked = f"{row.bin[:4]} **** **** {row.last4}" if row.last4 else "**** **** **** ****"
    return BankCard(
        row.id,
        row.token,
        masked,
        row.bank_code,
        row.bank,
        row.card_type,
        row.scheme,
        row.status,
        row.bound_at,
    )


def _verified_document(ctx: Context, user_id: str) -> DocumentRow:
    document = ctx.uow.identity.document_of(user_id)
    if document is None:
        raise InvalidRequest(
            "verify your identity before binding a card",
            code="identity_not_verified",
            param="user_id",
        )
    return document


def bind_card(
    ctx: Context,
    kyc: Kyc,
    user_id: str,
    pan: str,
    reserved_phone: str,
    *,
    cvv2: str | None = None,
    expiry: str | None = None,
) -> BankCard:
    """Bind a card to a verified user. Refusals raise and change nothing:
    `invalid_card_number`, `unsupported_card_bin`, `invalid_phone_number`, `cvv2_required`,
    `expired_card`, ..., `identity_not_verified`, `card_already_bound`,
    `card_verification_failed`, or `verification_unavailable` when the issuer is down."""
    card = parse_card(pan)
    phone = normalize_phone(reserved_phone, param="reserved_phone")
    security = card_security(card.card_type, cvv2, expiry, today(ctx))
    live_user(ctx, user_id, for_update=True)
    document = _verified_document(ctx, user_id)
    pan_index = ctx.vault.blind_index("pan", card.pan)
    if ctx.uow.identity.active_card_by_index(pan_index) is not None:
        raise Conflict(
            "this card is already bound to an account",
            code="card_already_bound",
            param="card_number",
        )
    _screen(ctx, user_id, pan_index)
    _four_element_check(ctx, kyc, document, card, phone, security)
    row = _new_card(ctx, user_id, card, pan_index)
    ctx.uow.identity.insert_card(row)
    cls = _count_channel(ctx, document, row.bound_at)
    ctx.audit(
        "card.bound",
        subject=user_id,
        details={
            "instrument_id": row.id,
            "instrument": mask_card(card.pan),
            "bank": card.bank_code,
            "type": card.card_type.value,
            "account_class": cls.value,
        },
    )
    return card_view(row)


def _screen(ctx: Context, user_id: str, pan_index: str) -> None:
    """Risk control sees every binding with the card's fingerprint (its blind index), so
    a block-listed card is refused on any account; card testing shows in the velocity."""
    from guardpay.services.risk.screening import Subject, screen

    subject = Subject("card_binding", "card", list_keys=(("card", pan_index),))
    screen(ctx, user_id, subject, None, stepped_up=True)


def _four_element_check(
    ctx: Context,
    kyc: Kyc,
    document: DocumentRow,
    card: Card,
    phone: str,
    security: CardSecurity | None,
) -> None:
    """The issuer confirms the card belongs to the verified name and ID number and that
    `phone` is the number reserved with it (`card_verification_failed` otherwise)."""
    user_id = document.user_id
    name = ctx.vault.decrypt(user_id, "legal_name", document.name_enc)
    number = ctx.vault.decrypt(user_id, "document_number", document.number_enc)
    verdict = kyc.bank_cards.verify(FourElements(name, number, card.pan, phone), security)
    if verdict is not Verdict.MATCH:
        raise InvalidRequest(
            "the bank could not confirm this card with your name, ID number and reserved phone",
            code="card_verification_failed",
            param="card_number",
        )


def seed_card(ctx: Context, user_id: str, pan: str) -> CardRow:
    """A debit card stored as `bind_card` stores one, without its checks, the four-element
    verification or the audit entry. Only for filling a database with people who already
    hold cards (the simulator's set-up)."""
    card = parse_card(pan)
    row = _new_card(ctx, user_id, card, ctx.vault.blind_index("pan", card.pan))
    ctx.uow.identity.insert_card(row)
    return row


def _new_card(ctx: Context, user_id: str, card: Card, pan_index: str) -> CardRow:
    """The stored card: PAN sealed for its holder, a random token for payments to use."""
    return CardRow(
        id=new_id("card"),
        user_id=user_id,
        pan_enc=ctx.vault.encrypt(user_id, "pan", card.pan),
        pan_index=pan_index,
        token=new_id("tok"),
        bin=card.bin,
        last4=card.last4,
        bank_code=card.bank_code,
        bank=card.bank,
        card_type=card.card_type.value,
        scheme=card.scheme,
        status="active",
        bound_at=ctx.now(),
        unbound_at=None,
    )


def _count_channel(ctx: Context, document: DocumentRow, at: datetime) -> AccountClass:
    """A passed four-element check is a verification channel: record it, re-class."""
    repo, user_id = ctx.uow.identity, document.user_id
    repo.add_attempts(user_id, [(Channel.BANK_CARD_FOUR_ELEMENTS.value, "passed")], at)
    cls = class_for(repo.passed_channels(user_id))
    repo.set_verified(user_id, cls.value, document.number_index, at)
    return cls


def list_cards(ctx: Context, user_id: str) -> list[BankCard]:
    """The user's active cards, masked."""
    live_user(ctx, user_id)
    return [card_view(r) for r in ctx.uow.identity.cards_of(user_id)]


def unbind_card(ctx: Context, user_id: str, card_id: str) -> None:
    """Unbind one of the user's active cards; it may then be bound again (by anyone)."""
    live_user(ctx, user_id)
    card = ctx.uow.identity.card(card_id)
    if card is None or card.user_id != user_id or card.status != "active":
        raise NotFound("no such active card on this account", param="card_id")
    ctx.uow.identity.unbind_card(card_id, ctx.now())
    ctx.audit("card.unbound", subject=user_id, details={"instrument_id": card_id})
