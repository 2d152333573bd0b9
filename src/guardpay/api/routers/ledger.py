"""Read-only ledger endpoints, for operators. Ids are strings in JSON (they exceed 2^53);
amounts are integers of minor units beside the currency of the account's ledger.

Every route needs an operator's session with at least the viewer role (`READ_ROLE`): the
ledger holds every wallet's balance and every transfer, so neither an anonymous client nor
a user may read it (a user sees their own payments and fundings under `/v1/me/...`). The
check comes with the context every route reads through (`Reader`), so a route added
here later cannot read without it; the reads are services/ledger/browse.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Generic, TypeVar

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from guardpay.api.deps import Caller, InOneUnit, operator_then
from guardpay.api.routers.common import errors
from guardpay.domain.auth.roles import Role
from guardpay.domain.ledger.model import INT64_MAX, Account, Transfer
from guardpay.domain.money import BY_LEDGER
from guardpay.services.ledger import browse
from guardpay.services.platform import access
from guardpay.services.platform.context import Context

if TYPE_CHECKING:  # a type only: the rows come from the service
    from guardpay.storage.ledger_queries import BalanceRow

#: The least role that may read the ledger.
READ_ROLE = Role.VIEWER


def _ledger_reader(op: Caller) -> Context:
    """401 without a session, 403 `operator_required` for a user's session and
    `insufficient_role` for a disabled operator's (services/auth/operators.py)."""
    access.require_role(op.ctx, READ_ROLE)
    return op.ctx


router = APIRouter(
    route_class=InOneUnit, prefix="/ledger", tags=["ledger"], responses=errors(401, 403)
)


T = TypeVar("T")

#: The context of a ledger route, handed over only once the operator's role is
#: checked: every route takes it, so none reads the ledger unchecked.
Reader = Annotated[Context, Depends(operator_then(_ledger_reader))]
Limit = Annotated[int, Query(ge=1, le=1000)]
#: Ids and cursors are 64-bit: anything outside is a bad parameter, not a server error.
AccountId = Annotated[int, Path(ge=1, le=INT64_MAX)]
TransferId = Annotated[int, Path(ge=1, le=INT64_MAX)]
Cursor = Annotated[int, Query(ge=0, le=INT64_MAX)]


class AccountOut(BaseModel):
    id: str
    ledger: int
    currency: str | None
    code: int
    flags: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    timestamp: int

    @classmethod
    def of(cls, a: Account) -> AccountOut:
        cur = BY_LEDGER.get(a.ledger)
        return cls(
            id=str(a.id),
            ledger=a.ledger,
            currency=cur.code if cur else None,
            code=a.code,
            flags=a.flags,
            debits_pending=a.debits_pending,
            debits_posted=a.debits_posted,
            credits_pending=a.credits_pending,
            credits_posted=a.credits_posted,
            timestamp=a.timestamp,
        )


class TransferOut(BaseModel):
    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    pending_id: str
    ledger: int
    code: int
    flags: int
    timeout: int
    user_data_64: int
    user_data_32: int
    timestamp: int

    @classmethod
    def of(cls, t: Transfer) -> TransferOut:
        return cls(
            id=str(t.id),
            debit_account_id=str(t.debit_account_id),
            credit_account_id=str(t.credit_account_id),
            amount=t.amount,
            pending_id=str(t.pending_id),
            ledger=t.ledger,
            code=t.code,
            flags=t.flags,
            timeout=t.timeout,
            user_data_64=t.user_data_64,
            user_data_32=t.user_data_32,
            timestamp=t.timestamp,
        )


class ListOut(BaseModel, Generic[T]):
    data: list[T]
    has_more: bool
    next_cursor: str | None


def _page(items: list[T], cursor: int | None) -> ListOut[T]:
    return ListOut[T](
        data=items, has_more=cursor is not None, next_cursor=None if cursor is None else str(cursor)
    )


@router.get("/accounts", response_model=ListOut[AccountOut])
def list_accounts(ctx: Reader, limit: Limit = 100, cursor: Cursor = 0) -> ListOut[AccountOut]:
    page = browse.accounts(ctx, cursor, limit)
    return _page([AccountOut.of(a) for a in page.items], page.next_cursor)


@router.get("/accounts/{account_id}", response_model=AccountOut)
def get_account(ctx: Reader, account_id: AccountId) -> AccountOut:
    return AccountOut.of(browse.account(ctx, account_id))


@router.get("/accounts/{account_id}/transfers", response_model=ListOut[TransferOut])
def account_transfers(
    ctx: Reader, account_id: AccountId, limit: Limit = 100, cursor: Cursor | None = None
) -> ListOut[TransferOut]:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    page = browse.account_transfers(ctx, account_id, cursor, limit)
    return _page([TransferOut.of(t) for t in page.items], page.next_cursor)


class BalanceOut(BaseModel):
    timestamp: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


@router.get("/accounts/{account_id}/balances", response_model=ListOut[BalanceOut])
def balance_history(
    ctx: Reader, account_id: AccountId, limit: Limit = 100, cursor: Cursor = 0
) -> ListOut[BalanceOut]:
    """Balances after each change, oldest first (accounts with the history flag)."""
    page = browse.balance_history(ctx, account_id, cursor, limit)
    return _page([_balance(b) for b in page.items], page.next_cursor)


def _balance(b: BalanceRow) -> BalanceOut:
    return BalanceOut(**b.__dict__)


@router.get("/transfers/{transfer_id}", response_model=TransferOut)
def get_transfer(ctx: Reader, transfer_id: TransferId) -> TransferOut:
    return TransferOut.of(browse.transfer(ctx, transfer_id))
