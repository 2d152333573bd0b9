"""The console's look at people and merchants: found by id, by the full phone number (its
blind index: phones are stored encrypted), or by a masked one as screens and tickets show
it ("138****5678": the blind index of each of the at most 10,000 numbers it can be, looked
up by the unique index; the search is audited, as it may name several people), shown
masked to any operator. Seeing one field in full is `privacy.reveal_field` (a reason,
audited)."""

from __future__ import annotations

from dataclasses import dataclass

from guardpay.domain.auth.records import Device
from guardpay.domain.identity.phone import normalize_phone, unmasked
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


def find_masked(ctx: Context, pattern: str) -> list[User]:
    """Everyone whose phone a masked number can be, shown masked, by id."""
    require_operator(ctx, LOOK_ROLE)
    indexes = ctx.vault.blind_indexes("phone", unmasked(pattern))
    found = [user_view(ctx, row) for row in ctx.uow.identity.users_by_phone_indexes(indexes)]
    details = {"masked_phone": pattern.strip()[:20], "found": [u.id for u in found]}
    ctx.audit("person.searched", details=details)
    return found


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
