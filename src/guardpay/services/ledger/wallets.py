"""Wallets on the chart of accounts: every owner's money in every currency is one ledger
account, opened on first use; the platform's own accounts have fixed ids per currency.

Platform accounts (reserve, bank in flight, fee revenue, loss reserve) get the id
`code * 1_000_000 + ISO numeric currency` (the CNY reserve is 200_000_156), so every
process agrees on them without a lookup; owners' accounts get random 62-bit ids above
2^40, which can never meet a platform id. Opening is idempotent: two requests racing to
open the same wallet end with one account, both using it (`wallet`).
"""

from __future__ import annotations

import secrets

from guardpay.domain.ledger.chart import FLAGS, AccountCode
from guardpay.domain.ledger.model import Account
from guardpay.domain.ledger.results import Result
from guardpay.domain.money import Money, currency
from guardpay.errors import LedgerRejected, StorageError
from guardpay.services.ledger import books as ledger
from guardpay.services.platform.context import Context

PLATFORM_CODES = (
    AccountCode.RESERVE,
    AccountCode.BANK_IN_FLIGHT,
    AccountCode.FEE_REVENUE,
    AccountCode.LOSS_RESERVE,
)
_OWNER_ID_FLOOR = 2**40


def platform_account_id(code: AccountCode, currency_code: str) -> int:
    return int(code) * 1_000_000 + currency(currency_code).numeric


def open_platform_accounts(ctx: Context, currency_code: str) -> dict[AccountCode, int]:
    """Open (or find) the platform's accounts in this currency."""
    ledger_id = currency(currency_code).numeric
    ids = {code: platform_account_id(code, currency_code) for code in PLATFORM_CODES}
    events = [Account(i, ledger_id, int(code), int(FLAGS[code])) for code, i in ids.items()]
    _require_opened(ledger.execute(ctx.uow, events, clock=ctx.ledger_clock))
    return ids


def find(
    ctx: Context,
    owner_kind: str,
    owner_id: str,
    currency_code: str,
    code: AccountCode = AccountCode.CUSTOMER_WALLET,
) -> int | None:
    """The owner's account of this kind, or None: for readers, which must not open one
    (a balance shown, a risk feature computed: no money moves, so no account is due)."""
    return ctx.uow.wallets.find(owner_kind, owner_id, currency_code, code.name.lower())


def wallet(
    ctx: Context,
    owner_kind: str,
    owner_id: str,
    currency_code: str,
    code: AccountCode = AccountCode.CUSTOMER_WALLET,
) -> int:
    """The ledger account holding this owner's money of this kind; opened on first use.

    The wallets row is claimed before the ledger account opens: a request racing another
    to open the same wallet waits on the row's key (PostgreSQL) until the other commits,
    then takes the account the other opened, so neither fails and no account is left
    without an owner. (SQLite runs one writer at a time: the second sees the first's row.)
    """
    repo = ctx.uow.wallets
    purpose = code.name.lower()
    found = repo.find(owner_kind, owner_id, currency_code, purpose)
    if found is not None:
        return found
    account_id = _OWNER_ID_FLOOR + secrets.randbelow(2**62 - _OWNER_ID_FLOOR)
    if not repo.insert_if_absent(
        owner_kind, owner_id, currency_code, purpose, account_id, ctx.now()
    ):
        winner = repo.find(owner_kind, owner_id, currency_code, purpose)
        if winner is None:  # cannot be: the row that stopped the insert is committed
            raise StorageError("a wallet row vanished while it was being opened")
        return winner
    ledger_id = currency(currency_code).numeric
    opened = ledger.execute(
        ctx.uow,
        [Account(account_id, ledger_id, int(code), int(FLAGS[code]))],
        clock=ctx.ledger_clock,
    )
    _require_opened(opened)
    return account_id


def balance(ctx: Context, account_id: int, currency_code: str) -> Money:
    """Posted credits minus debits: what a liability account owes its owner."""
    account = ctx.uow.ledger_account(account_id)
    return Money(account.balance if account else 0, currency(currency_code).code)


def _require_opened(results: list[Result]) -> None:
    bad = [r for r in results if not r.succeeded]
    if bad:
        raise LedgerRejected(f"could not open the account: {bad[0].value}", code=bad[0].value)
