"""The console's look at people and merchants: found by id or by the full phone number
(its blind index: phones are stored encrypted, so a partial or masked number finds
nobody), shown masked to any operator. Seeing one field in full is `privacy.reveal_field`
(a reason, audited)."""

from __future__ import annotations

from dataclasses import dataclass

from guardpay.domain.auth.records import Device
from guardpay.domain.identity.phone import normalize_phone
from guardpay.errors import InvalidRequest, NotFound
from guardpay.services.identity.cards import BankCard, card_view
from guardpay.services.identity.common import load_user, require_operator
from guardpay.services.identity.merchants import Merchant, get_merchant
from guardpay.services.identity.users import User, user_view
from guardpay.services.platform.context import Context
from guardpay.storage.risk import DecisionRow

LOOK_ROLE = "viewer"


@dataclass(frozen=True)
class Person:
    user: User
    cards: list[BankCard]  # masked: the bank and the last four digits
    devices: list[Device]  # their names, trust and use; the public keys are not secret
    decisions: list[DecisionRow]  # risk control's newest about them


def find(ctx: Context, query: str) -> str:
    """The id a query names: a user or merchant id, or a user's full phone number."""
    require_operator(ctx, LOOK_ROLE)
    wanted = query.strip()
    if wanted.startswith(("usr_", "mer_")):
        return wanted
    try:
        index = ctx.vault.blind_index("phone", normalize_phone(wanted))
    except InvalidRequest:
        raise InvalidRequest(
            "search by a user or merchant id, or by a full phone number",
            code="invalid_query",
            param="q",
        ) from None
    found = ctx.uow.identity.user_by_phone_index(index)
    if found is None:
        raise NotFound("nobody has this phone number", code="person_not_found", param="q")
    return found.id


def person(ctx: Context, user_id: str) -> Person:
    require_operator(ctx, LOOK_ROLE)
    row = load_user(ctx, user_id)
    statuses = ("active", "unbound")
    cards = [card_view(c) for c in ctx.uow.identity.cards_of(user_id, statuses=statuses)]
    devices = ctx.uow.auth.devices_of(user_id)
    decisions = ctx.uow.risk.decisions_of_user(user_id)
    return Person(user_view(ctx, row), cards, devices, decisions)


def merchant(ctx: Context, merchant_id: str) -> Merchant:
    require_operator(ctx, LOOK_ROLE)
    return get_merchant(ctx, merchant_id)
