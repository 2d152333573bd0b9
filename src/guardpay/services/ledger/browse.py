"""The ledger as it is, read for operators: accounts, an account's transfers and its
balance history, one transfer. No role is checked here: the one edge that serves these
(api/routers/ledger.py) hands its routes the context only once the reader's role is
checked, so a route added there cannot read without it."""

from __future__ import annotations

from guardpay.domain.ledger.model import Account, Transfer
from guardpay.errors import NotFound
from guardpay.services.platform.context import Context
from guardpay.storage.ledger_queries import BalanceRow, Page


def account(ctx: Context, account_id: int) -> Account:
    """The account, or 404."""
    found = ctx.uow.ledger_queries.account(account_id)
    if found is None:
        raise NotFound(f"no account {account_id}", param="account_id")
    return found


def accounts(ctx: Context, after: int, limit: int) -> Page[Account]:
    """Accounts in the order they were opened, after the cursor `after`."""
    return ctx.uow.ledger_queries.accounts(after=after, limit=limit)


def account_transfers(
    ctx: Context, account_id: int, cursor: int | None, limit: int
) -> Page[Transfer]:
    """The account's transfers, newest first; 404 for an account that does not exist."""
    account(ctx, account_id)
    return ctx.uow.ledger_queries.account_transfers(account_id, cursor=cursor, limit=limit)


def balance_history(ctx: Context, account_id: int, cursor: int, limit: int) -> Page[BalanceRow]:
    """Balances after each change, oldest first; 404 for an account that does not exist."""
    account(ctx, account_id)
    return ctx.uow.ledger_queries.balance_history(account_id, cursor=cursor, limit=limit)


def transfer(ctx: Context, transfer_id: int) -> Transfer:
    """The transfer, or 404."""
    found = ctx.uow.ledger_queries.transfer(transfer_id)
    if found is None:
        raise NotFound(f"no transfer {transfer_id}", param="transfer_id")
    return found
