"""`aml run` over what the platform recorded, on both backends: succeeded payments and
bank fundings are the graph; each run reads from the last watermark (and back as far as
the scenarios look), keeps only findings with new activity, and is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from guardpay.adapters.analytics import DuckDBEngine
from guardpay.domain.aml.findings import SCHEMA as FINDINGS
from guardpay.domain.aml.frame import Params
from guardpay.errors import Conflict
from guardpay.ml.artifacts import ModelUnavailable
from guardpay.security.keys import Keyring
from guardpay.services.aml import model as aml_model
from guardpay.services.aml import monitor
from guardpay.services.jobs import scheduler as jobs
from guardpay.storage.engine.db import Database
from guardpay.storage.funding import FundingRow
from guardpay.storage.payments import PaymentRow
from guardpay.storage.uow import read_only, unit_of_work
from tests.domain.aml.world import labelled_world

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEYS = Keyring.generate()
_n = iter(range(1, 10_000))


def paid(
    db: Database,
    payer: str,
    payee: str,
    amount: int,
    at: datetime,
    status: str = "succeeded",
    device: str | None = None,
) -> None:
    row = PaymentRow(
        id=f"pay_{next(_n)}",
        kind="p2p",
        payer_id=payer,
        payee_kind="user",
        payee_id=payee,
        descriptor=None,
        amount=amount,
        currency="CNY",
        fee=0,
        status=status,
        failure_code=None,
        factors=1,
        order_id=None,
        challenge_id=None,
        created_at=at,
        updated_at=at,
        device_id=device,
    )
    with unit_of_work(db) as uow:
        uow.payments.insert_payment(row)


def funded(db: Database, kind: str, user: str, card: str, amount: int, at: datetime) -> None:
    row = FundingRow(
        id=f"fund_{next(_n)}",
        kind=kind,
        user_id=user,
        card_id=card,
        card_last4="4242",
        wallet_account_id=1,
        amount=amount,
        currency="CNY",
        state="succeeded",
        bank_reference=None,
        created_at=at,
        updated_at=at,
    )
    with unit_of_work(db) as uow:
        uow.funding.insert(row)


def structure(db: Database, who: str, start: datetime) -> None:
    """Four withdrawals just below ¥50,000 in four days, to the same card."""
    for day in range(4):
        funded(db, "withdrawal", who, "crd_1", 4_900_000 - day, start + timedelta(days=day))


def test_a_run_keeps_findings_and_a_rerun_keeps_none_again(db: Database) -> None:
    structure(db, "usr_smurf", T0)
    paid(db, "usr_a", "usr_b", 4_900_000, T0)  # once: ordinary
    paid(db, "usr_x", "usr_y", 4_900_000, T0, status="failed")  # never moved

    first = monitor.run(db, KEYS, DuckDBEngine(), T0 + timedelta(days=5))

    assert first.run.transactions == 5  # the failed payment is not a movement
    assert {(f.account, f.typology) for f in first.kept} == {("usr_smurf", "structuring")}
    (finding,) = first.kept
    assert finding.score_bp >= 5_000
    assert finding.last_seen == T0 + timedelta(days=3)
    again = monitor.run(db, KEYS, DuckDBEngine(), T0 + timedelta(days=6))
    assert again.kept == []
    assert again.run.read_from == first.run.watermark - Params().lookback
    with read_only(db) as uow:
        assert [f.account for f in uow.aml.findings()] == ["usr_smurf"]
        actions = [e.action for e in uow.audit.entries()]
    assert actions.count("aml.run") == 2


def test_a_flagged_account_gets_an_alert_in_its_case_with_the_money_path(db: Database) -> None:
    structure(db, "usr_smurf", T0)
    paid(db, "usr_a", "usr_b", 4_900_000, T0)  # once: ordinary, no alert

    first = monitor.run(db, KEYS, DuckDBEngine(), T0 + timedelta(days=5))
    again = monitor.run(db, KEYS, DuckDBEngine(), T0 + timedelta(days=6))

    assert (first.alerts, again.alerts) == (1, 0)
    with read_only(db) as uow:
        [alert] = uow.cases.alerts()
        case = uow.cases.case(alert.case_id)
        trail = [e.action for e in uow.audit.for_subject(alert.case_id)]
    assert (alert.source, alert.subject, alert.kind) == ("aml", "usr_smurf", "structuring")
    assert case is not None
    assert (case.subject, case.status.value, case.alerts) == ("usr_smurf", "open", 1)
    edges = alert.path["edges"]
    assert [(e["source"], e["target"], e["amount"], e["fired"]) for e in edges] == [
        ("usr_smurf", "card:crd_1", 4_900_000 - day, True) for day in range(4)
    ]
    assert trail == ["case.opened", "case.alert_added"]


def test_new_activity_after_the_watermark_is_found_with_history_before_it(db: Database) -> None:
    funded(db, "withdrawal", "usr_smurf", "crd_1", 4_900_000, T0)
    funded(db, "withdrawal", "usr_smurf", "crd_1", 4_800_000, T0 + timedelta(days=1))
    monitor.run(db, KEYS, DuckDBEngine(), T0 + timedelta(days=1, hours=12))
    funded(db, "withdrawal", "usr_smurf", "crd_2", 4_850_000, T0 + timedelta(days=2))

    later = monitor.run(db, KEYS, DuckDBEngine(), T0 + timedelta(days=3))

    (finding,) = later.kept  # the third withdrawal completes a pattern begun before
    assert (finding.account, finding.transactions) == ("usr_smurf", 3)


def test_a_run_raced_by_another_keeps_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    structure(db, "usr_smurf", T0)
    real_scan = monitor.scan

    def scan_while_another_runs(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(monitor, "scan", real_scan)
        monitor.run(db, KEYS, DuckDBEngine(), T0 + timedelta(days=5))
        return real_scan(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(monitor, "scan", scan_while_another_runs)
    with pytest.raises(Conflict) as raced:
        monitor.run(db, KEYS, DuckDBEngine(), T0 + timedelta(days=5))

    assert raced.value.code == "aml_run_raced"
    assert raced.value.retryable
    with read_only(db) as uow:
        assert len(uow.aml.findings()) == 1  # the other run's, once


def test_the_hourly_job_is_a_monitor_run_kept_out_of_serve(db: Database) -> None:
    structure(db, "usr_smurf", T0)
    job = jobs.by_name("aml_monitor")

    assert jobs.run_job(db, KEYS, lambda: T0 + timedelta(days=5), job) == 1
    assert jobs.run_job(db, KEYS, lambda: T0 + timedelta(days=6), job) == 0
    assert not job.in_serve


def test_a_job_has_one_way_to_run() -> None:
    with pytest.raises(ValueError, match="one of them"):
        jobs.Job("nothing", timedelta(hours=1), None, "does nothing")


def test_a_new_weaker_pattern_after_the_watermark_is_not_hidden_by_an_older_one(
    db: Database,
) -> None:
    structure(db, "usr_smurf", T0)  # four just below: reported by the first run
    monitor.run(db, KEYS, DuckDBEngine(), T0 + timedelta(days=5))
    for day in (30, 31, 32):  # three more, a month later: weaker, but new
        funded(db, "withdrawal", "usr_smurf", "crd_1", 4_800_000, T0 + timedelta(days=day))

    later = monitor.run(db, KEYS, DuckDBEngine(), T0 + timedelta(days=33))

    (finding,) = later.kept
    assert (finding.typology, finding.transactions) == ("structuring", 3)
    assert finding.last_seen == T0 + timedelta(days=32)


@pytest.fixture(scope="module")
def aml_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained on the labelled world of tests/domain/aml/world.py, saved."""
    data, mules = labelled_world(seed=1)
    engine = DuckDBEngine()
    none = FINDINGS.to_pyarrow().empty_table()
    rows = aml_model.feature_rows(engine, engine.table(data), data, none, Params())
    engine.close()
    where = tmp_path_factory.mktemp("aml") / "model"
    aml_model.train(rows, mules).save(where)
    return where


def pass_through(db: Database, mule: str, at: datetime) -> None:
    """A large sum in from a stranger and nearly all of it out to another, in two hours."""
    paid(db, f"{mule}_feeder", mule, 2_000_000, at)
    paid(db, mule, f"{mule}_sink", 1_950_000, at + timedelta(hours=2))


def test_the_job_scores_with_the_model_its_setting_names(
    db: Database, aml_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pass_through(db, "usr_mule", T0)
    monkeypatch.setenv("GUARDPAY_AML_MODEL", str(aml_model_dir))

    jobs.run_job(db, KEYS, lambda: T0 + timedelta(days=1), jobs.by_name("aml_monitor"))

    with read_only(db) as uow:
        kept = {(f.account, f.typology): f for f in uow.aml.findings()}
    mule = kept[("usr_mule", "model")]
    assert mule.score_bp > 2_500  # half weight: a probability above 0.5
    assert mule.evidence.startswith("probability=")


def test_a_model_that_cannot_be_read_stops_the_job(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pass_through(db, "usr_mule", T0)
    monkeypatch.setenv("GUARDPAY_AML_MODEL", str(tmp_path / "gone"))

    with pytest.raises(ModelUnavailable):
        jobs.run_job(db, KEYS, lambda: T0 + timedelta(days=1), jobs.by_name("aml_monitor"))
    with read_only(db) as uow:
        assert uow.aml.last_run() is None  # nothing scanned on without it


def test_a_run_in_another_currency_scans_without_the_model(
    db: Database, aml_model_dir: Path
) -> None:
    pass_through(db, "usr_mule", T0)
    model = aml_model.load(aml_model_dir)
    model.meta["currency"] = "USD"

    done = monitor.run(db, KEYS, DuckDBEngine(), T0 + timedelta(days=1), model=model)

    assert all(f.typology != "model" for f in done.kept)
    assert [r.typology for r in done.scans["CNY"].runs if r.typology == "model"] == []


def test_the_model_is_kept_only_for_accounts_the_run_flagged(
    db: Database, aml_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pass_through(db, "usr_mule", T0)
    paid(db, "usr_a", "usr_b", 12_300, T0)
    real = aml_model.judged

    def also_a_quiet_one(model: object, rows: pa.Table, floor: float = 0.2) -> pa.Table:
        found = real(model, rows, floor)  # type: ignore[arg-type]
        quiet = found.slice(0, 1).set_column(0, "account", pa.array(["usr_a"]))
        quiet = quiet.cast(found.schema)
        return pa.concat_tables([found, quiet])

    monkeypatch.setattr(aml_model, "judged", also_a_quiet_one)
    done = monitor.run(
        db, KEYS, DuckDBEngine(), T0 + timedelta(days=1), model=aml_model.load(aml_model_dir)
    )

    kept = {(f.account, f.typology) for f in done.kept}
    assert ("usr_mule", "model") in kept
    assert all(account != "usr_a" for account, _ in kept)  # scored, never flagged


def test_a_later_run_scores_the_whole_read_back_not_the_last_hour(
    db: Database, aml_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = aml_model.load(aml_model_dir)
    monitor.run(db, KEYS, DuckDBEngine(), T0, model=model)
    pass_through(db, "usr_mule", T0 + timedelta(days=2))
    scanned: list[int] = []
    real = monitor.scan

    def counting(*args: object, **kwargs: object) -> object:
        data = args[1]
        assert isinstance(data, pa.Table)
        if kwargs.get("model") is not None:
            scanned.append(data.num_rows)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(monitor, "scan", counting)
    monitor.run(db, KEYS, DuckDBEngine(), T0 + timedelta(days=3), model=model)

    assert scanned == [2]  # one scan with the model: the whole read-back's


def test_a_farm_of_accounts_paying_from_one_phone_is_found_on_platform_data(
    db: Database,
) -> None:
    for n in range(5):
        paid(db, f"usr_farm{n}", "usr_collector", 80_000, T0 + timedelta(hours=n), device="dev_1")
    paid(db, "usr_family", "usr_shop", 5_000, T0, device="dev_2")  # a phone of one's own

    done = monitor.run(db, KEYS, DuckDBEngine(), T0 + timedelta(days=1))

    farm = {f.account for f in done.kept if f.typology == "account_farm"}
    assert farm == {"usr_collector"} | {f"usr_farm{n}" for n in range(5)}
    (run,) = [r for r in done.scans["CNY"].runs if r.typology == "account_farm"]
    assert run.skipped is None  # the payments said which device paid
