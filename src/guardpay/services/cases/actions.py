"""Actions taken from a case on the customer's account.

Freezing and unfreezing are four-eyes actions (services/auth/operators.py): the analyst
asks, and the action runs only when another operator, a supervisor or above, approves;
nobody approves their own request, which the server enforces. A freeze stops money
leaving the customer's accounts (the ledger's `debits_frozen` on every wallet, or a
merchant's settlement accounts): payments, transfers and withdrawals from them are
refused `account_frozen`, while money owed to them (a refund) still lands. Each request
and each approved action is audited under the case's id as well as the approval's.

Holding funds is an analyst's own action: an amount of the customer's wallet is held as
a pending ledger transfer to the platform's compliance-hold account (postings
`compliance`), so the customer cannot spend it while the balance stays theirs; releasing
voids it. A hold outlives its case until someone releases it (a confirmed case's money
may be owed to a victim), and every hold and release is audited under the case's id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from guardpay.domain.auth.records import Approval
from guardpay.domain.auth.roles import Role
from guardpay.domain.cases.model import Case, Event, Status
from guardpay.domain.ledger.chart import FLAGS, AccountCode
from guardpay.domain.ledger.ids import new_transfer_id
from guardpay.domain.ledger.model import Account, AccountFlags, AccountFlagsChange
from guardpay.domain.ledger.results import Result
from guardpay.domain.money import Money, currency
from guardpay.domain.payments.postings import compliance
from guardpay.errors import Conflict, InsufficientFunds, InvalidRequest, NotFound
from guardpay.services.auth import operators
from guardpay.services.cases.alerts import audit_case
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import wallets
from guardpay.services.platform.access import require_role
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import timed_id
from guardpay.storage.cases import Hold

FREEZE, UNFREEZE = "account.freeze", "account.unfreeze"
HELD, RELEASED = "held", "released"


def request_freeze(ctx: Context, case_id: str, reason: str) -> Approval:
    """Ask for the case's customer to be frozen; runs once a supervisor approves."""
    return _request(ctx, case_id, FREEZE, reason)


def request_unfreeze(ctx: Context, case_id: str, reason: str) -> Approval:
    return _request(ctx, case_id, UNFREEZE, reason)


def _request(ctx: Context, case_id: str, action: str, reason: str) -> Approval:
    require_role(ctx, Role.ANALYST)
    case = _case(ctx, case_id)
    if action == FREEZE and case.status is Status.CLOSED:
        raise Conflict("the case is closed", code="case_transition_invalid")
    payload = {"case_id": case.id, "account": case.subject, "reason": reason.strip()[:500]}
    approval = operators.request_approval(ctx, action, payload, Role.SUPERVISOR)
    audit_case(ctx, case, [Event("action_requested", {"action": action, "approval": approval.id})])
    return approval


def _freeze(ctx: Context, approval: Approval) -> Mapping[str, Any]:
    return _set_frozen(ctx, approval, frozen=True)


def _unfreeze(ctx: Context, approval: Approval) -> Mapping[str, Any]:
    return _set_frozen(ctx, approval, frozen=False)


def _set_frozen(ctx: Context, approval: Approval, *, frozen: bool) -> Mapping[str, Any]:
    """The approved action: every account money leaves the customer by, flagged. Checked
    again as it runs: asked by an analyst or above, and a freeze only while the case is
    open (a request that waited past the case's close lapses)."""
    operators.require_requester(ctx, approval, Role.ANALYST)
    case = _case(ctx, str(approval.payload.get("case_id", "")))
    if frozen and case.status is Status.CLOSED:
        raise Conflict("the case was closed since the freeze was asked for", code="case_closed")
    accounts = customer_accounts(ctx, case.subject)
    flag = int(AccountFlags.DEBITS_FROZEN)
    changes = [
        AccountFlagsChange(a, set_flags=flag) if frozen else AccountFlagsChange(a, clear_flags=flag)
        for a in accounts
    ]
    results = ledger.execute(ctx.uow, changes, clock=ctx.ledger_clock) if changes else []
    if any(r is not Result.ok for r in results):
        raise Conflict("the ledger refused the change", code="ledger_rejected")
    done = "account_frozen" if frozen else "account_unfrozen"
    details = {"approval": approval.id, "accounts": len(accounts)}
    audit_case(ctx, case, [Event(done, details)])
    return {"case_id": case.id, "account": case.subject, "frozen": frozen, "accounts": accounts}


def hold_funds(ctx: Context, case_id: str, amount: Money, reason: str) -> Hold:
    """Hold `amount` of the customer's wallet (a merchant's settlement account) from the
    case."""
    me = require_role(ctx, Role.ANALYST)
    case = _case(ctx, case_id)
    if case.status is Status.CLOSED:
        raise Conflict("the case is closed", code="case_transition_invalid")
    if amount.amount <= 0:
        raise InvalidRequest("hold a positive amount", code="invalid_amount", param="amount")
    kind, code = customer_kind(case.subject)
    found = wallets.find(ctx, kind, case.subject, amount.currency, code)
    if found is None:
        raise InsufficientFunds("the customer holds no money in this currency", param="amount")
    ledger_id = currency(amount.currency).numeric
    holding = _holding_account(ctx, amount.currency, ledger_id)
    held = compliance.hold(
        wallet=found,
        holding=holding,
        amount=amount.amount,
        ledger=ledger_id,
        transfer_id=new_transfer_id(),
    )
    [result] = ledger.execute(ctx.uow, [held], clock=ctx.ledger_clock)
    if result is Result.exceeds_credits:
        raise InsufficientFunds(
            "the wallet's available balance is less than the hold", param="amount"
        )
    if result is not Result.ok:
        raise Conflict(f"the ledger refused the hold ({result.value})", code="ledger_rejected")
    hold = Hold(
        timed_id("hold", ctx.now()),
        case.id,
        found,
        held.id,
        amount.amount,
        amount.currency,
        HELD,
        reason.strip()[:500],
        me.id,
        ctx.now(),
    )
    ctx.uow.cases.add_hold(hold)
    details = {"hold": hold.id, "amount": amount.amount, "currency": amount.currency}
    audit_case(ctx, case, [Event("funds_held", details)])
    return hold


def release_hold(ctx: Context, case_id: str, hold_id: str) -> Hold:
    """The held money spendable again (the pending transfer voided)."""
    me = require_role(ctx, Role.ANALYST)
    case = _case(ctx, case_id)
    hold = ctx.uow.cases.hold(hold_id, lock=True)
    if hold is None or hold.case_id != case.id:
        raise NotFound("no such hold on this case", code="hold_not_found", param="hold_id")
    if hold.status != HELD:
        raise Conflict("the hold is already released", code="hold_released")
    void = compliance.release(hold_id=hold.transfer_id, void_id=new_transfer_id())
    [result] = ledger.execute(ctx.uow, [void], clock=ctx.ledger_clock)
    if result is not Result.ok:
        raise Conflict(f"the ledger refused the release ({result.value})", code="ledger_rejected")
    done = replace(hold, status=RELEASED, released_by=me.id, released_at=ctx.now())
    ctx.uow.cases.save_hold(done)
    details = {"hold": hold.id, "amount": hold.amount, "currency": hold.currency}
    audit_case(ctx, case, [Event("funds_released", details)])
    return done


def _holding_account(ctx: Context, currency_code: str, ledger_id: int) -> int:
    """The platform's compliance-hold account in this currency, opened on first use."""
    account_id = wallets.platform_account_id(AccountCode.COMPLIANCE_HOLD, currency_code)
    code = AccountCode.COMPLIANCE_HOLD
    [opened] = ledger.execute(
        ctx.uow,
        [Account(account_id, ledger_id, int(code), int(FLAGS[code]))],
        clock=ctx.ledger_clock,
    )
    if opened not in (Result.ok, Result.exists):
        raise Conflict(f"the ledger refused the account ({opened.value})", code="ledger_rejected")
    return account_id


def customer_accounts(ctx: Context, subject: str) -> list[int]:
    """The ledger accounts a customer pays from: a user's wallets, a merchant's
    settlement accounts, in every currency opened."""
    kind, code = customer_kind(subject)
    return [a for _, a in ctx.uow.wallets.of_owner(kind, subject, code.name.lower())]


def customer_kind(subject: str) -> tuple[str, AccountCode]:
    """The owner kind of a customer's accounts, and the code of those it pays from."""
    if subject.startswith("mer_"):
        return "merchant", AccountCode.MERCHANT_SETTLEMENT
    return "user", AccountCode.CUSTOMER_WALLET


def _case(ctx: Context, case_id: str) -> Case:
    case = ctx.uow.cases.case(case_id)
    if case is None:
        raise NotFound("no such case", code="case_not_found", param="case_id")
    return case


operators.register_action(FREEZE, _freeze, min_role=Role.SUPERVISOR)
operators.register_action(UNFREEZE, _unfreeze, min_role=Role.SUPERVISOR)
