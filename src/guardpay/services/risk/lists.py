"""Block and allow lists, kept by analysts: users, devices, IPs, card fingerprints and
payees, each entry with a reason and an optional expiry (a temporary block lapses by
itself). A card is listed by its fingerprint (the PAN's blind index), never its number:
given a bound card's id, the fingerprint is looked up, so the same card is caught on any
account that binds it. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from guardpay.errors import InvalidRequest, NotFound
from guardpay.services.platform import access
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import new_id
from guardpay.storage.risk import ListEntry
from guardpay.storage.uow import UnitOfWork

LISTS = ("block", "allow")
ENTITIES = ("user", "device", "ip", "card", "payee")
EDIT_ROLE = "analyst"


def _value(ctx: Context, entity: str, value: str) -> str:
    if entity != "card":
        return value
    card = ctx.uow.identity.card(value)
    if card is None or card.pan_index is None:
        raise NotFound("no such card (list a card by its id)", code="card_not_found", param="value")
    return card.pan_index


def add_entry(
    ctx: Context,
    list_name: str,
    entity: str,
    value: str,
    reason: str,
    expires_in: timedelta | None = None,
) -> ListEntry:
    operator = access.require_role(ctx, EDIT_ROLE)
    if list_name not in LISTS:
        raise InvalidRequest("list is block or allow", code="parameter_invalid", param="list")
    if entity not in ENTITIES:
        raise InvalidRequest(
            f"entity is one of {', '.join(ENTITIES)}", code="parameter_invalid", param="entity"
        )
    if expires_in is not None and expires_in <= timedelta(0):
        raise InvalidRequest(
            "expires_in must be positive", code="parameter_invalid", param="expires_in"
        )
    now = ctx.now()
    entry = ListEntry(
        new_id("lst"),
        list_name,
        entity,
        _value(ctx, entity, value.strip()),
        reason,
        f"operator:{operator.id}",
        now,
        None if expires_in is None else now + expires_in,
    )
    ctx.uow.risk.add_list_entry(entry)
    ctx.audit(
        "risk.list_added",
        subject=entry.id,
        details={
            "list": list_name,
            "entity": entity,
            "reason": reason,
            "expires_at": None if entry.expires_at is None else entry.expires_at.isoformat(),
        },
    )
    return entry


def remove_entry(ctx: Context, entry_id: str) -> ListEntry:
    """End an entry now (it stays on record, expired); the entry as it is now."""
    access.require_role(ctx, EDIT_ROLE)
    if not ctx.uow.risk.expire_list_entry(entry_id, ctx.now()):
        raise NotFound("no such list entry", code="list_entry_not_found", param="entry_id")
    ctx.audit("risk.list_removed", subject=entry_id)
    return next(e for e in ctx.uow.risk.list_entries(ctx.now(), True) if e.id == entry_id)


def live_entries(ctx: Context) -> list[ListEntry]:
    access.require_role(ctx, "viewer")
    return ctx.uow.risk.list_entries(ctx.now())


def seed_entries(
    uow: UnitOfWork, entries: Iterable[tuple[str, str, str]], *, by: str, at: datetime
) -> None:
    """Store (list, entity, value) entries as given, with no role, no audit entry and no
    card lookup: `by` is their reason and author, their ids `rl_<by>00000` on in order,
    created `at`, never expiring. Only for filling a throwaway database (the risk
    benchmark); analysts use `add_entry`."""
    for i, (list_name, entity, value) in enumerate(entries):
        entry = ListEntry(f"rl_{by}{i:05d}", list_name, entity, value, by, by, at, None)
        uow.risk.add_list_entry(entry)
