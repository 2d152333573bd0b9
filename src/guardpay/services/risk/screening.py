"""What risk control is told about a request, and the list look-ups that go with it.

`payment_request` gathers, for one payment, what the features need from the platform's
own records (the payer's account age and class, the last login-password change, the
balance, the payee's age and kind) and from the request (device, IP, location); the risk
engine adds the history (services/risk/engine.py). Block and allow lists are read here, in the
request's transaction, so an entry an analyst adds applies to the very next request.

A credential change counts when the login password was changed after registration (a
password set at sign-up is no change); that is the account-takeover signal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from guardpay.domain.auth.stepup import Challenge
from guardpay.domain.identity.classes import AccountClass
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.risk.decision import Action
from guardpay.domain.risk.features import RiskRequest
from guardpay.errors import (
    InsufficientFunds,
    NotFound,
    PermissionDenied,
    RequestDenied,
    StepUpRequired,
)
from guardpay.services.platform.context import Context
from guardpay.services.risk.engine import Assessment, engine_of
from guardpay.storage.engine.db import as_utc
from guardpay.storage.payments import PaymentRow

#: opens the step-up a request must pass: (context, user id, purpose) -> the challenge
StepUpStarter = Callable[[Context, str, str], Challenge]
WALLET = AccountCode.CUSTOMER_WALLET.name.lower()  # the wallets row's purpose
CLASS_NUMBER = {AccountClass.I.value: 1, AccountClass.II.value: 2, AccountClass.III.value: 3}
_SIGN_UP_GRACE = timedelta(minutes=1)
#: payment kinds (payments.kind) that are transfers between people, for the features
TRANSFER_KINDS = frozenset({"p2p"})
#: request kinds paid from the wallet: refused for the balance before risk is asked
DEBITS = frozenset({"payment", "transfer", "red_packet", "withdrawal"})


def list_flags(ctx: Context, keys: Sequence[tuple[str, str | None]]) -> tuple[bool, bool]:
    """(block hit, allow hit) for these (entity, value) pairs; allow counts only for the
    user and the payee (an allow-listed IP must not whitewash whoever uses it)."""
    present = [(e, v) for e, v in keys if v]
    hits = ctx.uow.risk.list_hits(present, ctx.now())
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


@dataclass(frozen=True)
class Subject:
    """What one request is about, beyond its user: kind and channel (schema.KINDS), the
    money (zero for account changes), the payee (`user` or `merchant`, id) if any, and
    extra list keys (a card's fingerprint)."""

    kind: str
    channel: str
    amount: int = 0
    currency: str = "CNY"
    payee: tuple[str, str] | None = None
    list_keys: tuple[tuple[str, str | None], ...] = ()


def _payee_created(ctx: Context, payee: tuple[str, str] | None) -> datetime | None:
    if payee is None:
        return None
    found = (
        ctx.uow.identity.merchant(payee[1])
        if payee[0] == "merchant"
        else ctx.uow.identity.user(payee[1])
    )
    return None if found is None else found.created_at


def request_for(ctx: Context, user_id: str, subject: Subject) -> RiskRequest:
    """The request as the features see it, from the platform's records and the actor."""
    user = ctx.uow.identity.user(user_id)
    if user is None:
        raise NotFound("no such user", param="user_id")
    actor, payee_id = ctx.actor, None if subject.payee is None else subject.payee[1]
    merchant = subject.payee is not None and subject.payee[0] == "merchant"
    keys = [
        ("user", user_id),
        ("device", actor.device_id),
        ("ip", actor.ip),
        ("payee", payee_id),
        *subject.list_keys,
    ]
    block, allow = list_flags(ctx, keys)
    wallet = ctx.uow.wallets.find("user", user_id, subject.currency, WALLET)  # opens none
    return RiskRequest(
        kind=subject.kind,
        channel=subject.channel,
        user_id=user_id,
        amount=subject.amount,
        currency=subject.currency,
        at=ctx.now(),
        account_created_at=user.created_at,
        balance_before=available(ctx, wallet),
        account_class=CLASS_NUMBER.get(user.account_class, 0),
        device_id=actor.device_id,
        ip=actor.ip,
        payee_id=payee_id,
        payee_is_merchant=merchant,
        merchant_id=payee_id if merchant else None,
        location=actor.location,
        credential_changed_at=credential_changed_at(ctx, user_id, user.created_at),
        payee_created_at=_payee_created(ctx, subject.payee),
        list_block_hit=block,
        list_allow_hit=allow,
    )


def payment_request(ctx: Context, row: PaymentRow) -> RiskRequest:
    kind = "transfer" if row.kind in TRANSFER_KINDS else "payment"
    subject = Subject(kind, row.kind, row.amount, row.currency, (row.payee_kind, row.payee_id))
    return request_for(ctx, row.payer_id, subject)


def available(ctx: Context, wallet_id: int | None) -> int:
    """What the wallet can spend now: posted balance less held (pending) debits; 0 for
    a wallet not opened yet."""
    account = None if wallet_id is None else ctx.uow.ledger_account(wallet_id)
    return 0 if account is None else account.available


def assess_payment(ctx: Context, row: PaymentRow) -> Assessment:
    """The decision about this payment, recorded against its id. A payment the balance
    cannot cover is refused first (`insufficient_funds`, as the ledger would): risk
    control has nothing to decide, and must not ask for a step-up that cannot help."""
    req = payment_request(ctx, row)
    _require_balance(req)
    return engine_of(ctx).assess(ctx, req, row.id)


def _require_balance(req: RiskRequest) -> None:
    if req.kind in DEBITS and req.balance_before < req.amount:
        raise InsufficientFunds("the balance is not enough for this payment", param="amount")


def screen(
    ctx: Context,
    user_id: str,
    subject: Subject,
    subject_id: str | None,
    *,
    stepped_up: bool,
    purpose: str = "payment",
    learn: bool = True,
    review_refuses: bool = False,
    begin_step_up: StepUpStarter | None = None,
) -> Assessment:
    """The gate for requests other than payments (escrow, red packets, withdrawals,
    top-ups, card binding, account changes), which have no held state: `deny` refuses
    with 403 `request_denied`; `challenge` and `review` ask for a step-up unless the
    caller already passed one (the client answers it and retries with its id). Both
    refusals keep the decision (`UnitOfWork.keep`: it commits). With `review_refuses`
    (withdrawals) `review` refuses with 403 `review_required` instead: no step-up lets
    money leave the platform past a review. The feature state learns
    of a denial, and of a request let through (it counts once it commits); `learn=False`
    for logins, so signing in never makes a device "known" before it pays. A caller that
    has not stepped up passes `begin_step_up` (services/auth), which opens the challenge:
    risk control decides, authentication asks."""
    req = request_for(ctx, user_id, subject)
    _require_balance(req)
    verdict = engine_of(ctx).assess(ctx, req, subject_id)
    action = verdict.decision.action
    if action is Action.DENY:
        _refuse(ctx, verdict, learn, DENIED)
    if action is Action.REVIEW and review_refuses:
        _refuse(ctx, verdict, learn, FOR_REVIEW)
    if action in (Action.CHALLENGE, Action.REVIEW) and not stepped_up:
        if begin_step_up is None:
            raise TypeError("screen(stepped_up=False) needs begin_step_up")
        challenge = begin_step_up(ctx, user_id, purpose)
        ctx.uow.keep()  # the decision and the challenge the client must answer
        raise StepUpRequired(
            "confirm it is you to continue",
            methods=list(challenge.methods),
            challenge_id=challenge.id,
        )
    if learn:
        engine_of(ctx).learn(ctx, req, accepted=True)
    return verdict


@dataclass(frozen=True)
class _Refusal:
    audit: str
    code: str
    message: str
    error: type[PermissionDenied] = PermissionDenied


DENIED = _Refusal(
    "risk.request_denied",
    "request_denied",
    "risk control declined this request; contact support if it was you",
    RequestDenied,
)
#: money leaving the platform (a withdrawal) under review: not on a step-up, since a
#: taken-over account's thief may hold the SIM too; support reviews it with the customer
FOR_REVIEW = _Refusal(
    "risk.request_refused_for_review",
    "review_required",
    "this needs a check by our risk team before it can go ahead; please contact support",
)


def _refuse(ctx: Context, verdict: Assessment, learn: bool, why: _Refusal) -> NoReturn:
    """Refuse with a 403 that keeps the decision and audit entry (`UnitOfWork.keep`); the feature
    state counts it as a declined attempt."""
    req = verdict.request
    if learn:
        engine_of(ctx).learn(ctx, req, accepted=False)
    ctx.audit(
        why.audit, subject=req.user_id, details={"kind": req.kind, "decision": verdict.row.id}
    )
    ctx.uow.keep()  # the decision and its audit entry
    raise why.error(why.message, code=why.code)
