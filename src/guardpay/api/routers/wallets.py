"""Balances and histories over HTTP: a user's wallets under `/v1/me/wallets` (their own
only: no id in the path), a merchant's settlement accounts under
`/v1/merchants/{merchant_id}/balances` (signed with the merchant's key, or an analyst
acting for it, like every merchant-side call). Read from the ledger, never opening an
account (services/ledger/wallet_views.py); amounts are integers of minor units beside their
currency, transfer ids strings (they are 64-bit)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from guardpay.api.deps import InOneUnit, MerchantCaller, UserCaller
from guardpay.api.routers.common import ListOut, Page, PathId, errors, page_of
from guardpay.services.ledger import wallet_views
from guardpay.services.ledger.wallet_views import Direction, Entry, History, Status, WalletView

router = APIRouter(route_class=InOneUnit, tags=["wallets"])
CurrencyPath = Annotated[str, Path(min_length=1, max_length=8, examples=["CNY"])]


class WalletOut(BaseModel):
    currency: str = Field(examples=["CNY"])
    balance: int = Field(description="Posted credits − posted debits, minor units")
    pending_in: int = Field(description="Held on the way in (pending credits)")
    pending_out: int = Field(
        description="Held on the way out: a payment in risk review, "
        "a withdrawal in flight (pending debits)"
    )
    available: int = Field(description="balance − pending_out: what can be spent now")

    @classmethod
    def of(cls, w: WalletView) -> WalletOut:
        return cls(**w.__dict__)


class EntryOut(BaseModel):
    """One ledger transfer. `posted` entries sum (in − out) to the balance, `pending` ones
    to pending_in/pending_out; `released`, `expired` and `voided` move nothing."""

    id: str = Field(description="The ledger transfer id (64-bit, so a string)")
    timestamp: datetime
    kind: str = Field(examples=["p2p", "top_up", "merchant_payment", "refund", "withdrawal"])
    direction: Direction
    amount: int
    currency: str
    status: Status
    hold_id: str | None = Field(description="For a posting or voiding: the hold it resolves")
    balance_after: int | None = Field(description="The wallet's balance right after it")

    @classmethod
    def of(cls, e: Entry) -> EntryOut:
        return cls(
            id=str(e.id),
            timestamp=e.at,
            kind=e.kind,
            direction=e.direction,
            amount=e.amount,
            currency=e.currency,
            status=e.status,
            hold_id=None if e.hold_id is None else str(e.hold_id),
            balance_after=e.balance_after,
        )


def _wallets(found: list[WalletView], page: Page) -> ListOut[WalletOut]:
    return page_of([WalletOut.of(w) for w in found], [w.currency for w in found], page)


def _entries(history: History) -> ListOut[EntryOut]:
    return ListOut[EntryOut](
        data=[EntryOut.of(e) for e in history.entries],
        has_more=history.next_cursor is not None,
        next_cursor=history.next_cursor,
    )


@router.get("/me/wallets", response_model=ListOut[WalletOut], responses=errors(400, 401, 403))
def my_wallets(caller: UserCaller, page: Page) -> ListOut[WalletOut]:
    """My wallets, one per currency I hold (none until money first arrives)."""
    return _wallets(wallet_views.user_wallets(caller.ctx, caller.id), page)


@router.get(
    "/me/wallets/{currency}/transactions",
    response_model=ListOut[EntryOut],
    responses=errors(400, 401, 403, 404),
)
def my_wallet_history(caller: UserCaller, currency: CurrencyPath, page: Page) -> ListOut[EntryOut]:
    """My wallet's ledger history, newest first; 404 `wallet_not_found` for a currency I
    hold none of, 400 `currency_invalid` for a code that is not three capital letters."""
    return _entries(
        wallet_views.user_history(caller.ctx, caller.id, currency, page.cursor, page.limit)
    )


@router.get(
    "/merchants/{merchant_id}/balances",
    response_model=ListOut[WalletOut],
    responses=errors(400, 401, 403, 404),
)
def merchant_balances(m: MerchantCaller, merchant_id: PathId, page: Page) -> ListOut[WalletOut]:
    """The merchant's settlement accounts, one per currency it has been paid in."""
    return _wallets(wallet_views.merchant_balances(m.ctx, merchant_id), page)


@router.get(
    "/merchants/{merchant_id}/balances/{currency}/transactions",
    response_model=ListOut[EntryOut],
    responses=errors(400, 401, 403, 404),
)
def merchant_balance_history(
    m: MerchantCaller, merchant_id: PathId, currency: CurrencyPath, page: Page
) -> ListOut[EntryOut]:
    """A settlement account's ledger history, newest first (payments in, fees and refunds
    out), paged like `/v1/me/wallets/{currency}/transactions`."""
    return _entries(
        wallet_views.merchant_history(m.ctx, merchant_id, currency, page.cursor, page.limit)
    )
