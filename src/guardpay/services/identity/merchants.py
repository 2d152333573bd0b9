"""Merchants: registration, second-level sub-merchants, and the name a payer sees.

A merchant is a business: its legal and display names are not personal data and are
stored plainly. The registration number may identify a sole proprietor, so it is
encrypted under the merchant's own key and found through a blind index, which is also
what makes it unique (`merchant_already_registered`). Sub-merchants (the shops of a
platform) may lack a registration number of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from guardpay.domain.identity.merchants import (
    DISPLAY_NAME_MAX,
    LEGAL_NAME_MAX,
    ParentMerchant,
    check_mcc,
    check_parent,
    normalize_label,
    normalize_registration_number,
    payment_descriptor,
)
from guardpay.errors import Conflict, InvalidRequest, NotFound
from guardpay.services.identity.common import live_user, require_operator, require_self_or_operator
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import new_id
from guardpay.storage.identity import MerchantRow


@dataclass(frozen=True)
class Merchant:
    id: str
    parent_id: str | None
    legal_name: str
    display_name: str
    descriptor: str  # what travels with every payment to this merchant
    mcc: str
    status: str
    settlement_account_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class _Names:
    legal: str
    display: str
    mcc: str


def _check(legal_name: str, display_name: str, mcc: str) -> _Names:
    legal = normalize_label(
        legal_name, param="legal_name", max_len=LEGAL_NAME_MAX, code="invalid_merchant_name"
    )
    display = normalize_label(
        display_name, param="display_name", max_len=DISPLAY_NAME_MAX, code="invalid_merchant_name"
    )
    return _Names(legal, display, check_mcc(mcc))


def _check_account(settlement_account_id: int | None) -> None:
    if settlement_account_id is not None and not 0 < settlement_account_id < 2**63:
        raise InvalidRequest(
            "a settlement account id is a ledger account id (1 to 2^63-1)",
            code="invalid_settlement_account",
            param="settlement_account_id",
        )


def _view(ctx: Context, row: MerchantRow) -> Merchant:
    parent_name = None
    if row.parent_id is not None:
        parent = ctx.uow.identity.merchant(row.parent_id)
        parent_name = parent.display_name if parent else None
    return Merchant(
        row.id,
        row.parent_id,
        row.legal_name,
        row.display_name,
        payment_descriptor(row.display_name, parent_name),
        row.mcc,
        row.status,
        row.settlement_account_id,
        row.created_at,
    )


def _registration(
    ctx: Context, merchant_id: str, registration: str | None
) -> tuple[str | None, str | None]:
    """(token, blind index) of a registration number, refusing one already registered."""
    if registration is None:
        return None, None
    index = ctx.vault.blind_index("registration_number", registration)
    if ctx.uow.identity.merchant_by_registration(index) is not None:
        raise Conflict(
            "a merchant with this registration number exists",
            code="merchant_already_registered",
            param="registration_number",
        )
    return ctx.vault.encrypt(merchant_id, "registration_number", registration), index


def _create(
    ctx: Context,
    names: _Names,
    registration: str | None,
    parent_id: str | None,
    settlement_account_id: int | None,
) -> Merchant:
    merchant_id = new_id("mer")
    encrypted, index = _registration(ctx, merchant_id, registration)
    row = MerchantRow(
        merchant_id,
        parent_id,
        names.legal,
        names.display,
        encrypted,
        index,
        names.mcc,
        "active",
        settlement_account_id,
        ctx.now(),
    )
    ctx.uow.identity.insert_merchant(row)
    action = "merchant.registered" if parent_id is None else "merchant.sub_merchant_added"
    ctx.audit(
        action,
        subject=merchant_id,
        details={"parent": parent_id, "mcc": names.mcc, "display_name": names.display},
    )
    return _view(ctx, row)


def register_merchant(
    ctx: Context,
    *,
    legal_name: str,
    display_name: str,
    registration_number: str,
    mcc: str,
    settlement_account_id: int | None = None,
) -> Merchant:
    """A top-level merchant, identified by its unified social credit code."""
    names = _check(legal_name, display_name, mcc)
    registration = normalize_registration_number(registration_number)
    _check_account(settlement_account_id)
    return _create(ctx, names, registration, None, settlement_account_id)


def add_sub_merchant(
    ctx: Context,
    parent_id: str,
    *,
    legal_name: str,
    display_name: str,
    mcc: str,
    registration_number: str | None = None,
    settlement_account_id: int | None = None,
) -> Merchant:
    """A second-level merchant under an active top-level one (`invalid_parent_merchant`)."""
    names = _check(legal_name, display_name, mcc)
    registration = None
    if registration_number is not None:
        registration = normalize_registration_number(registration_number)
    _check_account(settlement_account_id)
    parent = ctx.uow.identity.merchant(parent_id)
    if parent is None:
        raise NotFound("no such merchant", param="parent_id")
    check_parent(ParentMerchant(parent.status, parent.parent_id))
    return _create(ctx, names, registration, parent_id, settlement_account_id)


def get_merchant(ctx: Context, merchant_id: str) -> Merchant:
    row = ctx.uow.identity.merchant(merchant_id)
    if row is None:
        raise NotFound("no such merchant", param="merchant_id")
    return _view(ctx, row)


def list_sub_merchants(ctx: Context, parent_id: str) -> list[Merchant]:
    get_merchant(ctx, parent_id)
    return [_view(ctx, r) for r in ctx.uow.identity.sub_merchants(parent_id)]


# -- staff: the users who act for a merchant in the wallet's shop view --------------------
STAFF_ROLE = "supervisor"


def add_staff(ctx: Context, merchant_id: str, user_id: str) -> None:
    """Let a user act for the merchant (show its codes, see what it received, refund):
    a supervisor's decision, since staff can send the merchant's money back out."""
    require_operator(ctx, STAFF_ROLE)
    get_merchant(ctx, merchant_id)
    live_user(ctx, user_id)
    if ctx.uow.identity.add_staff(merchant_id, user_id, ctx.actor.label, ctx.now()):
        ctx.audit("merchant.staff_added", subject=merchant_id, details={"user": user_id})


def remove_staff(ctx: Context, merchant_id: str, user_id: str) -> None:
    """Take the user off the merchant's staff (someone who left the shop): a supervisor's,
    audited; at once, their open wallet pages can no longer act for it."""
    require_operator(ctx, STAFF_ROLE)
    get_merchant(ctx, merchant_id)
    if ctx.uow.identity.remove_staff(merchant_id, user_id):
        ctx.audit("merchant.staff_removed", subject=merchant_id, details={"user": user_id})


def shops_of(ctx: Context, user_id: str) -> list[Merchant]:
    """The merchants a user acts for (their own list only)."""
    require_self_or_operator(ctx, user_id, "viewer")
    return [get_merchant(ctx, m) for m in ctx.uow.identity.staff_merchants(user_id)]
