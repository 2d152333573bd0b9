"""Training on the platform's own decisions, and which model version is in force.

The training set is every recorded decision with a known outcome: a label set by an
analyst (a review approved is legitimate, declined is fraud; `label_decision` for
confirmed fraud reported later, e.g. a stolen-funds claim or a chargeback), plus
decisions older than `mature_days` with no fraud reported, taken as legitimate — the
usual maturity rule, since fraud is reported within weeks or not at all. The features
are the snapshot each decision recorded, so the model learns from exactly what the
decision path saw at the time (no leakage from later history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from guardpay.domain.risk.schema import NUMERIC_FEATURES
from guardpay.errors import InvalidRequest, NotFound
from guardpay.services.platform import access
from guardpay.services.platform.context import Context
from guardpay.storage.risk import DecisionRow, ModelRow
from guardpay.storage.uow import UnitOfWork

LABELS = ("fraud", "legit")
LABEL_ROLE = "analyst"
ACTIVATE_ROLE = "supervisor"


@dataclass(frozen=True)
class TrainingSet:
    X: np.ndarray
    y: np.ndarray
    times: np.ndarray
    feature_names: tuple[str, ...]
    labelled: int  # rows with an explicit label (the rest matured unreported)


def outcome_of(row: DecisionRow, now: datetime, mature_days: int = 30) -> int | None:
    """1 fraud, 0 legitimate, None not known (yet)."""
    return _label_of(row, now - timedelta(days=mature_days))


def _label_of(row: DecisionRow, mature_before: datetime) -> int | None:
    if row.label is not None:
        return 1 if row.label == "fraud" else 0
    if row.created_at <= mature_before and row.action != "deny":
        return 0  # matured with no fraud reported; a denial's outcome is never known
    return None


def training_set(
    uow: UnitOfWork, now: datetime, mature_days: int = 30, since: datetime | None = None
) -> TrainingSet:
    """Features and labels of every decision with a known outcome, oldest first."""
    mature_before = now - timedelta(days=mature_days)
    rows, labels, times, explicit = [], [], [], 0
    for row in uow.risk.history(since):
        label = _label_of(row, mature_before)
        if label is None:
            continue
        explicit += row.label is not None
        rows.append([float(row.features.get(n, np.nan)) for n in NUMERIC_FEATURES])
        labels.append(label)
        times.append(row.created_at.timestamp())
    X = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(NUMERIC_FEATURES))
    return TrainingSet(
        X, np.asarray(labels, dtype=np.int64), np.asarray(times), NUMERIC_FEATURES, explicit
    )


def label_decision(ctx: Context, decision_id: str, label: str) -> DecisionRow:
    """An analyst records the outcome (confirmed fraud, or cleared as legitimate)."""
    operator = access.require_role(ctx, LABEL_ROLE)
    if label not in LABELS:
        raise InvalidRequest("label is fraud or legit", code="parameter_invalid", param="label")
    repo = ctx.uow.risk
    if repo.decision(decision_id, lock=True) is None:
        raise NotFound("no such decision", code="decision_not_found", param="decision_id")
    repo.set_label(decision_id, label, f"analyst:{operator.id}")
    ctx.audit("risk.decision_labelled", subject=decision_id, details={"label": label})
    found = repo.decision(decision_id)
    assert found is not None
    return found


def register(ctx: Context, version: str, path: Path, metrics: dict[str, object]) -> ModelRow:
    """Record a trained model (not yet active)."""
    row = ModelRow(version, str(path.resolve()), dict(metrics), ctx.now(), False, None)
    ctx.uow.risk.add_model(row)
    ctx.audit("risk.model_registered", subject=version, details={"path": row.path})
    return row


def activate(ctx: Context, version: str) -> ModelRow:
    """Make `version` the model every decision uses (every worker, within seconds). The
    CLI acts as the system; over the API it takes a supervisor."""
    if ctx.actor.kind == "operator":
        access.require_role(ctx, ACTIVATE_ROLE)
    repo = ctx.uow.risk
    if repo.model(version) is None:
        raise NotFound(f"no model version {version}", code="model_not_found", param="version")
    previous = repo.active_model()
    repo.activate_model(version, ctx.now())
    ctx.audit(
        "risk.model_activated",
        subject=version,
        details={"previous": None if previous is None else previous.version},
    )
    found = repo.model(version)
    assert found is not None
    return found


def models(uow: UnitOfWork) -> list[ModelRow]:
    """Every registered model, oldest first (the active one flagged)."""
    return uow.risk.models()


def seed_active_model(
    uow: UnitOfWork, version: str, path: Path, metrics: dict[str, object], at: datetime
) -> None:
    """Record a model (its path as given) and make it the active one at once, as of
    `at`: no role, no audit entry. Only for filling a throwaway database (the risk
    benchmark); the CLI and the API use `register` and `activate`."""
    uow.risk.add_model(ModelRow(version, str(path), dict(metrics), at, False, None))
    uow.risk.activate_model(version, at)
