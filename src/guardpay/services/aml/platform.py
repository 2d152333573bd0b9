"""The AML model trained on the platform's own history, labelled by its analysts' cases.

A simulated world teaches the model the simulator's laundering; a platform's closed
cases teach it the platform's. The movements are read as a monitoring run reads them
(services/aml/monitor.py: the read-back the scenarios need, up to now), each account's
graph features computed (services/aml/model.py), and an account is laundering when its
latest case closed `confirmed_laundering` (services/cases/labels.py); every other account
in the window counts as legitimate, as in a simulated world. Too few accounts, or no
confirmed case, is refused with the trainer's own error (`too_few_rows`, ...).
"""

from __future__ import annotations

from datetime import datetime

from guardpay.adapters.analytics import DuckDBEngine
from guardpay.domain.aml.frame import Params
from guardpay.domain.aml.scenarios import by_typology
from guardpay.errors import InvalidRequest
from guardpay.ml.model import TrainedModel
from guardpay.security.keys import Keyring
from guardpay.services.aml import model as aml_model
from guardpay.services.aml.monitor import movement_table
from guardpay.services.aml.scan import scan, scan_params
from guardpay.services.cases.labels import aml_labels
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only


def train_on_cases(
    db: Database,
    keyring: Keyring,
    now: datetime,
    *,
    currency: str = "CNY",
    seed: int = 7,
    params: Params = Params(),
) -> TrainedModel:
    """A model of the accounts that moved `currency` in the read-back before `now`,
    labelled by the dispositions of their closed cases."""
    with read_only(db) as uow:
        moved = uow.aml.movements(now - params.lookback, now, currency)
        labels = aml_labels(Context(uow, keyring, SYSTEM))
    laundering = {account for account, (positive, _) in labels.items() if positive}
    if not laundering:
        raise InvalidRequest(
            "no case has closed confirmed_laundering yet: nothing to learn laundering from",
            code="no_labels",
        )
    data = movement_table(moved)
    scanned = scan_params(currency, base=params)
    engine = DuckDBEngine()
    try:
        cycles = scan(engine, data, scanned, by_typology(["cycle"])).findings
        rows = aml_model.feature_rows(engine, engine.table(data), data, cycles, scanned)
    finally:
        engine.close()
    return aml_model.train(rows, laundering, seed, source="platform cases", currency=currency)
