"""Ledger results -> the use case's refusal: one function for every money movement.

A service applies a posting set (`domain.payments.postings`) with the ledger and hands
the results to `require_applied`, naming how its refusals are worded (`Refusals`). All
applied (`ok`, or `exists` for a retry) is success; otherwise, in this order:

1. a balance too small for the set (`exceeds_credits`) -> the `Shortfall` refusal
   (400 `insufficient_funds` "the balance is not enough for this <subject>" unless the
   kind says otherwise);
2. a frozen account (`debit_account_frozen`, `credit_account_frozen`) -> 409
   `account_frozen` "an account of this <subject> is frozen";
3. anything else -> `LedgerRejected` (409) whose code is the ledger result, "the ledger
   refused the <subject>: <result>".

The call sites differ in a few ways, kept as parameters (each constant below is one
site's wording, so the differences show side by side):

- `subject`: the noun in every message (payment, trade, red packet, refund, funding);
- `Shortfall`: a refund's short balance is the merchant's settlement, a 409
  `merchant_balance_insufficient`, and only when its *last* leg (the merchant -> payer
  one) is short: a short fee-revenue leg falls through to `LedgerRejected`. A funding
  request words it "the wallet's available balance is too low"; a funding callback
  (post or void) has no shortfall refusal at all (`shortfall=None`);
- `frozen`: fundings do not map a frozen account to `account_frozen` (they answer
  `LedgerRejected` with the ledger's `debit_account_frozen`/`credit_account_frozen`);
- `name_cause`: in a failed linked chain, the payment kinds name the leg that failed
  (skipping `linked_event_failed`), fundings the first leg that did not apply, which
  may be `linked_event_failed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from guardpay.domain.ledger.results import Result
from guardpay.errors import Conflict, GuardpayError, InvalidRequest, LedgerRejected

#: Results that mean the event took effect (now, or by an earlier identical request).
APPLIED = frozenset({Result.ok, Result.exists})
FROZEN = frozenset({Result.debit_account_frozen, Result.credit_account_frozen})


@dataclass(frozen=True, slots=True)
class Shortfall:
    """The refusal when a balance is too small for the set (`exceeds_credits`).
    `message` may name the subject as `{subject}`."""

    message: str = "the balance is not enough for this {subject}"
    code: str = "insufficient_funds"
    conflict: bool = False  # a 409 Conflict rather than a 400 InvalidRequest
    last_leg_only: bool = False  # only when the set's last leg is the short one

    def applies(self, results: Sequence[Result]) -> bool:
        if self.last_leg_only:
            return bool(results) and results[-1] is Result.exceeds_credits
        return Result.exceeds_credits in results

    def error(self, subject: str) -> GuardpayError:
        kind = Conflict if self.conflict else InvalidRequest
        return kind(self.message.format(subject=subject), code=self.code, param="amount")


@dataclass(frozen=True, slots=True)
class Refusals:
    """How one kind of money movement words its refusals (see the module docstring)."""

    subject: str
    shortfall: Shortfall | None = Shortfall()
    frozen: bool = True
    name_cause: bool = True


PAYMENT = Refusals("payment")  # P2P, QR, payment code, and a review's hold, post and void
TRADE = Refusals("trade")  # escrow
RED_PACKET = Refusals("red packet")
REFUND = Refusals(
    "refund",
    Shortfall(
        "the merchant's settlement balance cannot cover this refund",
        code="merchant_balance_insufficient",
        conflict=True,
        last_leg_only=True,
    ),
)
FUNDING_REQUEST = Refusals(
    "funding",
    Shortfall("the wallet's available balance is too low"),
    frozen=False,
    name_cause=False,
)
FUNDING_CALLBACK = Refusals("funding", None, frozen=False, name_cause=False)


def refusal(results: Sequence[Result], how: Refusals) -> GuardpayError | None:
    """The error a set of ledger results means for this kind, or None if all applied."""
    if all(r in APPLIED for r in results):
        return None
    if how.shortfall is not None and how.shortfall.applies(results):
        return how.shortfall.error(how.subject)
    if how.frozen and any(r in FROZEN for r in results):
        return Conflict(f"an account of this {how.subject} is frozen", code="account_frozen")
    skip = (Result.ok, Result.linked_event_failed) if how.name_cause else APPLIED
    failed = next(r for r in results if r not in skip)
    return LedgerRejected(
        f"the ledger refused the {how.subject}: {failed.value}", code=failed.value
    )


def require_applied(results: Sequence[Result], how: Refusals) -> None:
    """Return if every event applied; else raise the refusal (`refusal`)."""
    error = refusal(results, how)
    if error is not None:
        raise error
