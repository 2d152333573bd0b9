"""What risk control is told about a request, and the list look-ups that go with it.

`payment_request` gathers, for one payment, what the features need from the platform's
own records (the payer's account age and class, the last login-password change, the
balance, the payee's age and kind) and from the request (device, IP, location); the risk
engine adds the history (services/risk.py). Block and allow lists are read here, in the
request's transaction, so an entry an analyst adds applies to the very next request.

A credential change counts when the login password was changed after registration (a
password set at sign-up is no change); that is the account-takeover signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from guardpay.domain.identity.classes import AccountClass
from guardpay.domain.risk.features import RiskRequest
from guardpay.errors import InvalidRequest
from guardpay.services import identity, wallets
from guardpay.services.context import Context
from guardpay.services.risk import Assessment
from guardpay.storage.db import as_utc
from guardpay.storage.payments import PaymentRow
from guardpay.storage.risk import RiskRepository

CLASS_NUMBER = {AccountClass.I: 1, AccountClass.II: 2, AccountClass.III: 3}
_SIGN_UP_GRACE = timedelta(minutes=1)
#: payment kinds (payments.kind) that are transfers between people, for the features
TRANSFER_KINDS = frozenset({"p2p"})


def list_flags(ctx: Context, keys: Sequence[tuple[str, str | None]]) -> tuple[bool, bool]:
    """(block hit, allow hit) for these (entity, value) pairs; allow counts only for the
    user and the payee (an allow-listed IP must not whitewash whoever uses it)."""
    present = [(e, v) for e, v in keys if v]
    hits = RiskRepository(ctx.uow.conn).list_hits(present, ctx.now())
    block = any(h.list == "block" for h in hits)
    allow = any(h.list == "allow" and h.entity in ("user", "payee") for h in hits)
    return block, allow


def credential_changed_at(ctx: Context, user_id: str, created: datetime) -> datetime | None:
    creds = ctx.uow.auth.credentials(user_id)
    changed = None if creds is None else creds.login_changed_at
    if changed is None:
        return None
    changed = as_utc(changed)
    return changed if changed > as_utc(created) + _SIGN_UP_GRACE else None


def payment_request(ctx: Context, row: PaymentRow, standing: identity.Standing) -> RiskRequest:
    user = ctx.uow.identity.user(row.payer_id)
    assert user is not None  # lock_payer found it
    merchant = row.payee_kind == "merchant"
    payee = (ctx.uow.identity.merchant(row.payee_id) if merchant
             else ctx.uow.identity.user(row.payee_id))  # fmt: skip
    wallet = wallets.wallet(ctx, "user", row.payer_id, row.currency)
    actor = ctx.actor
    block, allow = list_flags(ctx, [("user", row.payer_id), ("device", actor.device_id),
                                    ("ip", actor.ip), ("payee", row.payee_id)])  # fmt: skip
    changed = credential_changed_at(ctx, row.payer_id, user.created_at)
    return RiskRequest(
        kind="transfer" if row.kind in TRANSFER_KINDS else "payment", channel=row.kind,
        user_id=row.payer_id, amount=row.amount, currency=row.currency, at=ctx.now(),
        account_created_at=user.created_at,
        balance_before=available(ctx, wallet),
        account_class=CLASS_NUMBER.get(standing.account_class, 0),
        device_id=actor.device_id, ip=actor.ip, payee_id=row.payee_id,
        payee_is_merchant=merchant, merchant_id=row.payee_id if merchant else None,
        location=actor.location, credential_changed_at=changed,
        payee_created_at=None if payee is None else payee.created_at,
        list_block_hit=block, list_allow_hit=allow,
    )  # fmt: skip


def available(ctx: Context, wallet_id: int) -> int:
    """What the wallet can spend now: posted balance less held (pending) debits."""
    account = ctx.uow.ledger_queries.account(wallet_id)
    return 0 if account is None else account.available


def assess_payment(ctx: Context, row: PaymentRow, standing: identity.Standing) -> Assessment:
    """The decision about this payment, recorded against its id. A payment the balance
    cannot cover is refused first (`insufficient_funds`, as the ledger would): risk
    control has nothing to decide, and must not ask for a step-up that cannot help."""
    req = payment_request(ctx, row, standing)
    if req.balance_before < row.amount:
        raise InvalidRequest("the balance is not enough for this payment",
                             code="insufficient_funds", param="amount")  # fmt: skip
    return ctx.risk.assess(ctx, req, row.id)
