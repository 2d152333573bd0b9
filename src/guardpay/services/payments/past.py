"""Payments made before, recorded in bulk: their rows, risk decisions and audit entries.

Why. `bench api --prefill` (bench/prefill.py) starts the server on books that hold
millions of payments, and writing them through the payment pipeline one by one would take
hours. Each recorded payment gets the rows a succeeded P2P payment leaves (its payment
row, an `allow` decision from rule set `prefill` with blank features, its audit entry,
chained in order), one statement per table for the whole list. The ledger side is the
caller's: these functions move no money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from guardpay.domain.payments.limits import P2P
from guardpay.domain.risk.schema import FEATURES, FeatureType
from guardpay.services.payments.pipeline import audit_details
from guardpay.services.platform import audit
from guardpay.services.platform.ids import timed_id
from guardpay.storage.payments import PaymentRow
from guardpay.storage.risk import DecisionRow
from guardpay.storage.uow import UnitOfWork

_BLANK = {FeatureType.INT: 0, FeatureType.FLOAT: 0.0, FeatureType.BOOL: False, FeatureType.STR: ""}


@dataclass(frozen=True)
class PastP2P:
    """A P2P payment that succeeded at `at`: `amount` fen of CNY from payer to payee."""

    payer_id: str
    payee_id: str
    amount: int
    at: datetime


def record(uow: UnitOfWork, made: Sequence[PastP2P]) -> None:
    """The payments' rows, decisions and audit entries, in this unit of work."""
    payments = [_payment(p) for p in made]
    uow.payments.insert_payments(payments)
    uow.risk.insert_decisions([_decision(row) for row in payments])
    audit.record_many(uow, [_entry(row) for row in payments])


def _payment(p: PastP2P) -> PaymentRow:
    return PaymentRow(
        id=timed_id("pay", p.at),
        kind=P2P,
        payer_id=p.payer_id,
        payee_kind="user",
        payee_id=p.payee_id,
        descriptor=None,
        amount=p.amount,
        currency="CNY",
        fee=0,
        status="succeeded",
        failure_code=None,
        factors=1,
        order_id=None,
        challenge_id=None,
        created_at=p.at,
        updated_at=p.at,
    )


def _entry(row: PaymentRow) -> audit.Draft:
    """What the pipeline records for a succeeded payment (pipeline.record)."""
    details = audit_details(row, ["processing", "succeeded"])
    actor = f"user:{row.payer_id}"
    return audit.Draft(row.created_at, actor, None, f"payment.{row.status}", row.id, "ok", details)


def _decision(row: PaymentRow) -> DecisionRow:
    features: dict[str, Any] = {name: _BLANK[kind] for name, kind in FEATURES.items()}
    features.update(kind=P2P, channel=P2P, amount=row.amount, currency=row.currency)
    unreviewed = dict.fromkeys(
        ("review_status", "review_deadline", "reviewed_by", "reviewed_at", "holds", "label"), None
    )
    return DecisionRow(
        id=timed_id("rsk", row.created_at),
        request_kind=P2P,
        channel=P2P,
        subject_id=row.id,
        user_id=row.payer_id,
        amount=row.amount,
        currency=row.currency,
        action="allow",
        score=0,
        reasons=[],
        rule_set="prefill",
        model_version=None,
        features=features,
        contributions=[],
        shadow_hits=[],
        label_source=None,
        created_at=row.created_at,
        **unreviewed,
    )
