"""Dispositions become labels (DESIGN.md: cases end in a disposition that feeds the
models' labels).

- The fraud model learns from risk decisions (services/risk/models.py): a closed case
  labels the decisions its alerts were raised for (a payment held for review) `fraud`
  (confirmed fraud or laundering) or `legit` (a false positive), with the case as the
  label's source. The case's verdict is the considered one: it replaces a label the
  review's outcome gave.
- The AML model learns per account: `aml_labels` gives each customer's latest
  disposition (`confirmed_laundering` positive, `false_positive` negative, confirmed
  fraud left out: another crime than the one it looks for), for `guardpay aml train`.
"""

from __future__ import annotations

from datetime import datetime

from guardpay.domain.cases.model import Disposition
from guardpay.services.platform.context import Context

FRAUD, LEGIT = "fraud", "legit"
_DECISION_LABEL = {
    Disposition.CONFIRMED_FRAUD: FRAUD,
    Disposition.CONFIRMED_LAUNDERING: FRAUD,
    Disposition.FALSE_POSITIVE: LEGIT,
}


def apply(ctx: Context, case_id: str, disposition: Disposition) -> list[str]:
    """Label the decisions behind the case's alerts; the decision ids labelled."""
    label = _DECISION_LABEL[disposition]
    alerts = ctx.uow.cases.alerts_of(case_id)
    labelled = sorted({d for a in alerts for d in a.decisions})
    for decision_id in labelled:
        ctx.uow.risk.set_label(decision_id, label, f"case:{case_id}")
    return labelled


def aml_labels(ctx: Context) -> dict[str, tuple[bool, datetime]]:
    """account -> (laundering?, when the case closed), from each latest disposition."""
    found = ctx.uow.cases.closed_subjects().items()
    return {
        account: (disposition is Disposition.CONFIRMED_LAUNDERING, at)
        for account, (disposition, at) in found
        if disposition is not Disposition.CONFIRMED_FRAUD
    }
