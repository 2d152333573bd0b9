"""Regulatory reports in the services, on both backends: a day's large-value report from
the platform's payments and fundings, with its files' hashes audited; the daily job files
yesterday once; a suspicious-transaction report drafted from a case, due in five working
days, filed only when a second operator approves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from guardpay.domain.auth.records import Operator
from guardpay.domain.reports.large_value import CN
from guardpay.errors import GuardpayError
from guardpay.security import passwords
from guardpay.services.auth import operators as ops
from guardpay.services.auth.operators import create_operator
from guardpay.services.cases import workflow
from guardpay.services.reports import files, large_value, reports, suspicious
from guardpay.storage.engine.db import Database
from tests.services.aml.test_monitor import funded, paid
from tests.services.cases.test_cases import alice_held, as_
from tests.services.payments.test_core import World

NOON = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)  # Friday 12:00 in Beijing
DAY = date(2026, 12, 4)


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    with passwords.using(passwords.CHEAP):
        yield World(db)


def _audited(world: World, action: str) -> list[dict[str, object]]:
    with world.db.read() as conn:
        rows = conn.execute(
            text("SELECT details FROM audit_log WHERE action = :a ORDER BY seq"), {"a": action}
        )
        return [json.loads(r[0]) for r in rows]


def test_a_days_large_value_report_from_payments_and_fundings(world: World) -> None:
    db = world.db
    paid(db, "usr_a", "usr_b", 300_000_00, NOON)
    paid(db, "usr_a", "mer_shop", 200_000_00, NOON + timedelta(hours=2))  # a's day: 500,000
    paid(db, "usr_c", "usr_d", 500_000_00 - 1, NOON)  # one fen below: nobody reported
    funded(db, "top_up", "usr_e", "crd_9", 500_000_00, NOON)  # at the threshold, in
    paid(db, "usr_a", "usr_b", 100_000_00, NOON + timedelta(days=1))  # the next day
    world.clock.at = NOON + timedelta(days=2)

    record = world.run(large_value.file, CN, DAY)

    content = json.loads(record.content)
    rows = [(r["customer"], r["direction"], r["amount"], r["trigger"]) for r in content["rows"]]
    assert sorted(rows) == [
        ("usr_a", "out", 200_000_00, "cumulative"),
        ("usr_a", "out", 300_000_00, "cumulative"),
        ("usr_e", "in", 500_000_00, "single"),
    ]  # the merchant's ¥200,000 in is under its ¥2,000,000
    assert content["rows"][0]["amount_major"] in {"300000.00", "200000.00", "500000.00"}
    made = world.run(reports.files_of, record)
    header = ",".join(large_value.COLUMNS)
    assert made.csv.decode().splitlines()[0].startswith(f"{header},customer_name,")
    assert len(made.csv.decode().splitlines()) == 4
    [audit] = _audited(world, "report.large_value_filed")
    assert audit == {
        "profile": "cn",
        "date": "2026-12-04",
        "rows": 3,
        "sha256_csv": files.sha256(made.csv),
        "sha256_json": files.sha256(made.json),
    }
    assert (record.sha256_csv, record.status) == (files.sha256(made.csv), "filed")


def test_the_daily_job_files_a_day_once_its_reviews_have_settled(world: World) -> None:
    """At noon on the 4th (Beijing), a payment held for review late on the 3rd may still
    be waiting for its analyst (24 hours): the 2nd is the day due."""
    world.clock.at = NOON
    assert world.run(large_value.file_due) == 1  # CN, every day; US only on a USD day
    assert world.run(large_value.file_due) == 0
    with world.db.read() as conn:
        subjects = conn.execute(text("SELECT subject FROM regulatory_reports")).scalars().all()
    assert subjects == ["cn:2026-12-02"]


def test_the_day_runs_from_midnight_beijing_time_on_every_backend(world: World) -> None:
    early = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)  # 02:00 on the 4th in Beijing
    late = datetime(2026, 12, 4, 15, 59, tzinfo=UTC)  # 23:59 on the 4th
    paid(world.db, "usr_a", "usr_b", 250_000_00, early)
    paid(world.db, "usr_a", "usr_b", 250_000_00, late)
    paid(world.db, "usr_a", "usr_b", 900_000_00, late + timedelta(minutes=2))  # the 5th
    record = world.run(large_value.file, CN, DAY)
    rows = json.loads(record.content)["rows"]
    assert sorted((r["customer"], r["direction"], r["at"]) for r in rows) == [
        ("usr_a", "out", "2026-12-04T02:00:00+08:00"),
        ("usr_a", "out", "2026-12-04T23:59:00+08:00"),
        ("usr_b", "in", "2026-12-04T02:00:00+08:00"),  # the payee's day adds up too
        ("usr_b", "in", "2026-12-04T23:59:00+08:00"),
    ]
    assert {r["trigger"] for r in rows} == {"cumulative"}


def test_an_operator_files_only_a_day_that_is_over(
    world: World, staff: dict[str, Operator]
) -> None:
    as_(world, staff["ana"])
    world.clock.at = NOON  # the 4th in Beijing
    with pytest.raises(GuardpayError) as early:
        world.run(large_value.file_on_demand, "cn", DAY)
    assert early.value.code == "day_not_over"
    assert world.run(large_value.file_on_demand, "cn", DAY - timedelta(days=1)).rows == 0


@pytest.fixture
def staff(world: World) -> dict[str, Operator]:
    roles = {"ana": "analyst", "sam": "supervisor"}
    return {n: world.run(create_operator, n, r, "Kept-in-a-vault-42") for n, r in roles.items()}


def test_a_str_is_drafted_from_a_case_and_filed_under_four_eyes(
    world: World, staff: dict[str, Operator]
) -> None:
    alice, bob = alice_held(world)
    as_(world, staff["ana"])
    [case], _ = world.run(workflow.list_cases)
    with pytest.raises(GuardpayError) as short:
        world.run(suspicious.draft, case.id, "odd")
    assert short.value.code == "narrative_required"
    world.clock.at = NOON  # a Friday: five working days run to the next Friday's end
    drafted = world.run(
        suspicious.draft, case.id, "a first large transfer at night to a new payee, a mule"
    )
    assert drafted.status == "draft"
    assert drafted.deadline_at == datetime(2026, 12, 12, 0, 0, tzinfo=suspicious._TZ)
    content = json.loads(drafted.content)
    assert (content["subject"], content["typologies"]) == (alice, ["scam_large_first_transfer"])
    assert [(r["source"], r["target"], r["fired"]) for r in content["rows"]] == [(alice, bob, True)]
    world.clock.advance(days=8)  # past the deadline: listed overdue, then filed late
    assert [r.id for r in world.run(suspicious.overdue)] == [drafted.id]
    asked = world.run(suspicious.request_filing, drafted.id)
    with pytest.raises(GuardpayError) as same:
        world.run(ops.approve, asked.id)
    assert same.value.code == "four_eyes_same_operator"
    as_(world, staff["sam"])
    world.run(ops.approve, asked.id)  # the drafter, ana, asked: sam approves
    filed = world.run(reports.get, drafted.id)
    assert (filed.status, filed.filed_by) == ("filed", f"operator:{staff['sam'].id}")
    made = world.run(reports.files_of, filed)
    [audit] = _audited(world, "report.str_filed")
    assert (audit["sha256_json"], audit["late"]) == (files.sha256(made.json), True)
    assert world.run(suspicious.overdue) == []
    with pytest.raises(GuardpayError) as again:
        world.run(suspicious.request_filing, drafted.id)
    assert again.value.code == "report_filed"
    view = world.run(workflow.view, case.id)
    assert [e.action for e in view.timeline][-3:] == [
        "case.str_drafted",
        "case.action_requested",
        "case.str_filed",
    ]


def test_whoever_drafted_a_str_does_not_approve_its_filing(
    world: World, staff: dict[str, Operator]
) -> None:
    alice_held(world)
    as_(world, staff["sam"])
    [case], _ = world.run(workflow.list_cases)
    drafted = world.run(suspicious.draft, case.id, "a supervisor's own draft of the matter")
    as_(world, staff["ana"])
    asked = world.run(suspicious.request_filing, drafted.id)
    as_(world, staff["sam"])
    with pytest.raises(GuardpayError) as own:
        world.run(ops.approve, asked.id)
    assert own.value.code == "four_eyes_same_operator"
    assert world.run(reports.get, drafted.id).status == "draft"
