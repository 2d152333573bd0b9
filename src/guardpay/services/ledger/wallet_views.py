"""What an owner sees of their money: the wallets they hold (one per currency) and each
wallet's history, both read straight from the ledger, so they can never disagree with it.

Reading never opens an account (`wallets.wallet` opens on first use; a GET must not):
a currency the owner has no wallet in is 404 `wallet_not_found`, and a new user has
none at all. Users see their customer wallets, merchants their settlement accounts.

The history is one entry per ledger transfer touching the wallet, newest first, and it
replays: the signed amounts of the `posted` entries sum to `balance`, those of the
`pending` ones to `pending_in`/`pending_out`. A hold (a payment in risk review, a
withdrawal in flight) is `pending` while open; once resolved it is `released` (its
posting is an entry of its own, `posted`, as is a voiding, `voided`) or `expired`, so
no money is ever counted twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import PendingStatus, TransferFlags
from guardpay.domain.money import CURRENCIES
from guardpay.errors import InvalidRequest, NotFound
from guardpay.services.identity import facade as identity
from guardpay.services.identity import merchant_api
from guardpay.services.ledger import wallets
from guardpay.services.platform.context import Context
from guardpay.storage.ledger_queries import HistoryRow

USER, MERCHANT = "user", "merchant"
_CODE = re.compile(r"^[A-Z]{3}$")
_CURSOR = re.compile(r"^[0-9]{1,19}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RESOLVES = TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING
Direction = Literal["in", "out"]
Status = Literal["posted", "pending", "released", "expired", "voided"]


@dataclass(frozen=True)
class WalletView:
    """Money in minor units of `currency`. `available` = balance − pending debits: what
    can still be spent while holds are open."""

    currency: str
    balance: int
    pending_in: int
    pending_out: int
    available: int


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    kind: str
    direction: Direction
    amount: int
    currency: str
    status: Status
    hold_id: int | None
    balance_after: int | None


@dataclass(frozen=True)
class History:
    entries: list[Entry]
    next_cursor: str | None


# -- users ------------------------------------------------------------------------------
def user_wallets(ctx: Context, user_id: str) -> list[WalletView]:
    return _wallets(ctx, USER, user_id, AccountCode.CUSTOMER_WALLET)


def user_history(
    ctx: Context, user_id: str, currency_code: str, cursor: str | None, limit: int
) -> History:
    return _history(ctx, USER, user_id, AccountCode.CUSTOMER_WALLET, currency_code, cursor, limit)


# -- merchants --------------------------------------------------------------------------
def merchant_balances(ctx: Context, merchant_id: str) -> list[WalletView]:
    _require_merchant(ctx, merchant_id)
    return _wallets(ctx, MERCHANT, merchant_id, AccountCode.MERCHANT_SETTLEMENT)


def merchant_history(
    ctx: Context, merchant_id: str, currency_code: str, cursor: str | None, limit: int
) -> History:
    _require_merchant(ctx, merchant_id)
    return _history(
        ctx, MERCHANT, merchant_id, AccountCode.MERCHANT_SETTLEMENT, currency_code, cursor, limit
    )


def _require_merchant(ctx: Context, merchant_id: str) -> None:
    """Who may act for it (a key of its own or its parent's, or an analyst), and that it
    exists: an analyst asking about no merchant gets 404, not an empty list."""
    merchant_api.require_merchant(ctx, merchant_id)
    identity.get_merchant(ctx, merchant_id)


# -- shared -----------------------------------------------------------------------------
def _wallets(ctx: Context, kind: str, owner: str, code: AccountCode) -> list[WalletView]:
    held = ctx.uow.wallets.of_owner(kind, owner, code.name.lower())
    return [_view(ctx, cur, account_id) for cur, account_id in held]


def _view(ctx: Context, currency_code: str, account_id: int) -> WalletView:
    a = ctx.uow.ledger_queries.account(account_id)
    if a is None:  # the wallets row commits with its account; never absent
        return WalletView(currency_code, 0, 0, 0, 0)
    return WalletView(currency_code, a.balance, a.credits_pending, a.debits_pending, a.available)


def _history(
    ctx: Context,
    kind: str,
    owner: str,
    code: AccountCode,
    currency_code: str,
    cursor: str | None,
    limit: int,
) -> History:
    cur = _currency(currency_code)
    account_id = wallets.find(ctx, kind, owner, cur, code)
    if account_id is None:
        raise NotFound(f"no {cur} wallet here", code="wallet_not_found", param="currency")
    page = ctx.uow.ledger_queries.account_history(account_id, before=_before(cursor), limit=limit)
    entries = [_entry(row, account_id, cur) for row in page.items]
    return History(entries, None if page.next_cursor is None else str(page.next_cursor))


def _currency(text: str) -> str:
    """A well-formed code (`CNY`); one that is no currency of ours names no wallet (404)."""
    if not _CODE.match(text):
        raise InvalidRequest(
            "a currency is three capital letters, like CNY",
            code="currency_invalid",
            param="currency",
        )
    if text not in CURRENCIES:
        raise NotFound(f"no {text} wallet here", code="wallet_not_found", param="currency")
    return text


def _before(cursor: str | None) -> int | None:
    """The cursor is the ledger timestamp of the last entry shown (ledger timestamps are
    unique and only grow, so a page never shifts when newer transfers arrive)."""
    if cursor is None:
        return None
    if not _CURSOR.match(cursor) or int(cursor) >= 2**63:
        raise InvalidRequest("unknown cursor", code="invalid_cursor", param="cursor")
    return int(cursor)


def _entry(row: HistoryRow, account_id: int, cur: str) -> Entry:
    t = row.transfer
    hold = t.pending_id if t.flags & _RESOLVES else 0
    return Entry(
        id=t.id,
        at=_EPOCH + timedelta(microseconds=t.timestamp // 1_000),
        kind=_kind(t.code),
        direction="in" if t.credit_account_id == account_id else "out",
        amount=t.amount,
        currency=cur,
        status=_status(t.flags, row.hold_status),
        hold_id=hold or None,
        balance_after=row.balance_after,
    )


def _kind(code: int) -> str:
    try:
        return TransferCode(code).name.lower()
    except ValueError:
        return "other"


def _status(flags: int, hold_status: int | None) -> Status:
    """The entry's effect: `posted` moved the balance, `pending` holds money now; a
    resolved hold is `released` (or `expired`) and a voiding `voided`: neither moves it."""
    if flags & TransferFlags.VOID_PENDING:
        return "voided"
    if not flags & TransferFlags.PENDING:
        return "posted"
    if hold_status == PendingStatus.PENDING:
        return "pending"
    return "expired" if hold_status == PendingStatus.EXPIRED else "released"
