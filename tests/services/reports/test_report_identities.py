"""Who a report names, on both backends: each customer's identity is taken when the report
is made, sealed apart from its content, rendered into its files (whose recorded hashes it
is part of), kept through the person's erasure, and shown only to an analyst or above,
each download audited."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from guardpay.adapters.kyc import Kyc
from guardpay.domain.auth.records import Operator
from guardpay.domain.reports.large_value import CN
from guardpay.errors import GuardpayError
from guardpay.security import passwords
from guardpay.services.auth.operators import create_operator
from guardpay.services.cases import workflow
from guardpay.services.identity import privacy
from guardpay.services.reports import files, large_value, reports, suspicious
from guardpay.services.reports.identities import identity_of
from guardpay.storage.engine.db import Database
from tests.services.aml.test_monitor import paid
from tests.services.cases.test_cases import alice_held, as_
from tests.services.identity.test_identity import ZHANG, ZHANG_ID, verify_as
from tests.services.payments.test_core import FOODMALL, World
from tests.services.reports.test_reports import DAY, NOON

IDENTITY_COLUMNS = [f"{prefix}_{part}" for prefix in ("customer",) for part in files.IDENTITY]


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    with passwords.using(passwords.CHEAP):
        yield World(db)


@pytest.fixture
def staff(world: World) -> dict[str, Operator]:
    roles = {"vera": "viewer", "ana": "analyst", "sam": "supervisor"}
    return {n: world.run(create_operator, n, r, "Kept-in-a-vault-42") for n, r in roles.items()}


def zhang_and_the_shop(world: World) -> tuple[str, str]:
    """张三, verified with his resident ID, pays ¥600,000 to a friend and ¥2,000,000 to a
    registered merchant on one day: both he and the merchant are reported."""
    zhang = world.user("13800138000")
    world.run(lambda ctx: verify_as(ctx, Kyc.fakes(), zhang))
    shop = world.merchant()
    paid(world.db, zhang, "usr_friend", 600_000_00, NOON)
    paid(world.db, zhang, shop, 2_000_000_00, NOON + timedelta(hours=1))
    world.clock.at = NOON + timedelta(days=2)
    return zhang, shop


def rows_of(made: files.Files) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(made.csv.decode())))


def test_the_files_name_each_customer_the_content_only_by_id(world: World) -> None:
    zhang, shop = zhang_and_the_shop(world)
    record = world.run(large_value.file, CN, DAY)

    assert ZHANG not in record.content
    assert ZHANG_ID not in record.content
    made = world.run(reports.files_of, record)
    header = made.csv.decode().splitlines()[0].split(",")
    assert header == large_value.COLUMNS + IDENTITY_COLUMNS
    named = {
        (
            r["customer"],
            r["customer_name"],
            r["customer_document_type"],
            r["customer_document_number"],
        )
        for r in rows_of(made)
    }
    assert named == {
        (zhang, ZHANG, "resident_id", ZHANG_ID),
        (shop, "FoodMall Ltd", "business_registration", FOODMALL),
        ("usr_friend", "", "", ""),  # paid ¥600,000 in; this world holds no row of theirs
    }
    assert json.loads(made.json)["identities"][zhang]["document_number"] == ZHANG_ID
    assert (record.sha256_csv, record.sha256_json) == (
        files.sha256(made.csv),
        files.sha256(made.json),
    )
    with world.db.read() as conn:
        sealed = conn.execute(text("SELECT customer, identity_enc FROM report_identities"))
        kept = {str(r[0]): str(r[1]) for r in sealed}
    assert set(kept) == {zhang, shop}  # the friend was never a customer: none
    assert all(t.startswith("gpf1.") and ZHANG_ID not in t for t in kept.values())


def test_what_was_filed_outlives_the_persons_erasure(world: World) -> None:
    zhang, _ = zhang_and_the_shop(world)
    record = world.run(large_value.file, CN, DAY)
    world.run(privacy.erase_person, zhang)

    assert world.run(privacy.export_person, zhang)["identity_document"]["number"] == "[erased]"
    now = world.run(identity_of, zhang)  # what the live tables hold now...
    assert now is not None
    assert now["document_number"] == "[erased]"
    made = world.run(reports.files_of, record)  # ...but the filed report kept its own
    assert files.sha256(made.csv) == record.sha256_csv
    assert {r["customer_name"] for r in rows_of(made) if r["customer"] == zhang} == {ZHANG}
    later = world.run(large_value.file, CN, DAY)  # a correction filed after the erasure
    assert {r["customer_name"] for r in rows_of(world.run(reports.files_of, later))} >= {"[erased]"}


def test_only_an_analyst_reads_the_files_and_each_read_is_audited(
    world: World, staff: dict[str, Operator]
) -> None:
    zhang_and_the_shop(world)
    record = world.run(large_value.file, CN, DAY)
    as_(world, staff["vera"])
    assert world.run(reports.get, record.id).id == record.id
    with pytest.raises(GuardpayError) as viewer:
        world.run(reports.files_of, record)
    assert viewer.value.code == "insufficient_role"
    as_(world, staff["ana"])
    made = world.run(reports.files_of, record)
    with world.db.read() as conn:
        rows = conn.execute(
            text("SELECT actor, details FROM audit_log WHERE action = 'report.files_read'")
        ).all()
    assert [(r[0], json.loads(r[1])["sha256_csv"]) for r in rows] == [
        (f"operator:{staff['ana'].id}", files.sha256(made.csv))
    ]
    assert ZHANG_ID not in rows[0][1]


def test_a_str_names_both_ends_of_every_transaction(
    world: World, staff: dict[str, Operator]
) -> None:
    alice, bob = alice_held(world)
    as_(world, staff["ana"])
    [case], _ = world.run(workflow.list_cases)
    drafted = world.run(suspicious.draft, case.id, "a first large transfer at night, a mule")
    made = world.run(reports.files_of, drafted)
    [row] = rows_of(made)
    assert (row["source"], row["target"]) == (alice, bob)
    assert row["source_phone"].endswith("13812345678")
    assert row["target_phone"].endswith("13900139000")
    assert row["source_name"] == ""  # verified without a document in this world
    assert set(json.loads(made.json)["identities"]) == {alice, bob}


def test_a_report_made_before_identities_renders_as_it_did() -> None:
    stored = files.canonical({"columns": ["a", "b"], "rows": [{"a": 1, "b": [2, 3]}]})
    made = files.render(stored, {})
    assert made.json == stored.encode()
    assert made.csv == b"a,b\n1,2;3\n"
