"""The AML model trained on the platform's own payments, labelled by its analysts' closed
cases, on both backends: mules confirmed as laundering are the positives, an account
cleared as a false positive stays negative, and without a confirmed case there is nothing
to learn from."""

from __future__ import annotations

from datetime import UTC, timedelta

import pyarrow.compute as pc
import pytest

from guardpay.domain.cases.alerts import AML, Path
from guardpay.errors import InvalidRequest
from guardpay.security import passwords
from guardpay.security.keys import Keyring
from guardpay.services.aml import model as aml_model
from guardpay.services.aml.platform import train_on_cases
from guardpay.services.auth.operators import create_operator
from guardpay.services.cases import alerts, workflow
from guardpay.services.platform.context import SYSTEM, Actor, Context
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work
from tests.domain.aml.world import labelled_world
from tests.services.aml.test_monitor import paid

KEYS = Keyring.generate()


def _recorded(db: Database) -> tuple[set[str], object]:
    """A labelled world's moves as succeeded payments; its mules and its last time."""
    data, mules = labelled_world(seed=3)
    for r in data.to_pylist():
        paid(db, r["source"], r["target"], r["amount"], r["at"].replace(tzinfo=UTC))
    return mules, pc.max(data["at"]).as_py().replace(tzinfo=UTC)


def _closed(db: Database, verdicts: dict[str, str]) -> None:
    """A case per account, closed by an analyst with the disposition given."""
    with passwords.using(passwords.CHEAP), unit_of_work(db) as uow:
        ctx = Context(uow, KEYS, SYSTEM)
        analyst = create_operator(ctx, "ana", "analyst", "Kept-in-a-vault-42")
        for account, disposition in verdicts.items():
            draft = alerts.Draft(
                AML,
                account,
                "rapid_pass_through",
                9_000,
                ctx.now(),
                ctx.now(),
                "x",
                Path(account, "CNY", ()),
            )
            case_id = alerts.raise_alert(ctx, draft).case_id
            workflow.close(
                ctx.as_actor(Actor("operator", analyst.id)), case_id, disposition, "seen"
            )


def test_closed_cases_teach_the_model_the_platforms_laundering(db: Database) -> None:
    mules, last = _recorded(db)
    verdicts = dict.fromkeys(sorted(mules), "confirmed_laundering")
    verdicts |= {"o1": "false_positive", "o2": "confirmed_fraud"}
    _closed(db, verdicts)

    model = train_on_cases(db, KEYS, last + timedelta(days=1))

    assert model.meta["trained_on"] == "platform cases"
    # a stratified split keeps 4 in 5 of the 30 confirmed mules for training (the fraud
    # and the false positive are no laundering)
    assert model.meta["train_positives"] == 24
    assert aml_model.for_currency(model, "CNY") is model
    assert model.metrics["pr_auc"] > 0.5  # pass-through is what tells a mule apart


def test_without_a_confirmed_case_there_is_nothing_to_learn(db: Database) -> None:
    _, last = _recorded(db)
    _closed(db, {"m1": "false_positive"})
    with pytest.raises(InvalidRequest) as caught:
        train_on_cases(db, KEYS, last + timedelta(days=1))
    assert caught.value.code == "no_labels"
