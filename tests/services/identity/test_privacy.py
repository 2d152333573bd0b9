"""Export, erasure by crypto-shredding, and the operator's audited reveal — both backends."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import text

from guardpay.domain.ledger.results import Result
from guardpay.errors import CryptoError
from guardpay.security.vault import parse_token
from guardpay.services.auth.operators import create_operator
from guardpay.services.identity.facade import (
    ERASED,
    CardEvidence,
    Evidence,
    bind_card,
    erase_person,
    export_person,
    get_user,
    list_cards,
    register_user,
    reveal_field,
)
from guardpay.services.ledger.books import execute
from guardpay.services.platform.context import Actor
from guardpay.services.platform.keys import rotate_data_keys
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work
from tests.domain.identity.numbers import resident_id
from tests.factories import account, transfer, wallet
from tests.services.identity.test_identity import DEBIT, PHONE, ZHANG, ZHANG_ID, Env

LI_ID = resident_id("440305", "19751129", "888")


@pytest.fixture
def env(db: Database) -> Env:
    return Env(db)


def operator(env: Env, name: str, role: str) -> Actor:
    made = env.run(create_operator, name, role, "Kept-in-a-vault-42")
    return Actor("operator", made.id, ip="10.1.2.3")


@pytest.fixture
def analyst(env: Env) -> Actor:
    return operator(env, "ana.analyst", "analyst")


def zhang_with_card(env: Env) -> tuple[str, str]:
    user = env.run(register_user, PHONE, "小张")
    env.verify(user.id, Evidence(selfie_ref="s1", card=CardEvidence(DEBIT, PHONE)))
    card = env.run(bind_card, env.kyc, user.id, DEBIT, PHONE)
    return user.id, card.id


def test_export_holds_everything_in_the_clear(env: Env) -> None:
    user_id, card_id = zhang_with_card(env)
    me = Actor("user", user_id, ip="10.0.0.1")
    export = env.run(export_person, user_id, actor=me)
    json.dumps(export)  # plain JSON types only
    assert export["user"]["phone"] == "+8613800138000"
    assert export["user"]["display_name"] == "小张"
    assert export["user"]["account_class"] == "II"
    assert export["identity_document"]["number"] == ZHANG_ID
    assert export["identity_document"]["name"] == ZHANG
    assert [c["number"] for c in export["bank_cards"]] == [DEBIT]
    assert export["bank_cards"][0]["id"] == card_id
    assert {v["channel"] for v in export["verifications"]} == {
        "id_authority",
        "face_match",
        "bank_card_four_elements",
    }
    assert "user.registered" in [e["action"] for e in export["audit_log"]]
    [(subject, outcome, details)] = env.audit("person.exported")
    assert (subject, outcome, json.loads(details)) == (user_id, "ok", {"requested_by": "user"})


def test_who_may_export(env: Env, analyst: Actor) -> None:
    user_id, _ = zhang_with_card(env)
    other = env.run(register_user, "13900139000")
    env.refused("not_your_account", export_person, user_id, actor=Actor("user", other.id))
    env.refused(
        "operator_required",
        reveal_field,
        user_id,
        "phone",
        "customer called about it",
        actor=Actor("user", user_id),
    )
    assert env.run(export_person, user_id, actor=analyst)["user"]["id"] == user_id
    assert env.run(export_person, user_id)["user"]["id"] == user_id  # system
    viewer = operator(env, "vic.viewer", "viewer")
    env.refused("insufficient_role", export_person, user_id, actor=viewer)
    env.refused(
        "insufficient_role",
        reveal_field,
        user_id,
        "phone",
        "customer called about it",
        actor=viewer,
    )
    env.refused("insufficient_role", erase_person, user_id, actor=analyst)
    env.refused("insufficient_role", export_person, user_id, actor=Actor("operator", "op_ghost"))
    supervisor = operator(env, "sue.supervisor", "supervisor")
    assert env.run(erase_person, user_id, actor=supervisor).startswith("anon_")


def test_erasure_shreds_the_keys_and_keeps_the_ledger(env: Env, db: Database) -> None:
    user_id, card_id = zhang_with_card(env)
    with unit_of_work(db) as uow:  # the wallet's history, which must survive
        assert (
            execute(uow, [account(1, code=200), wallet(10), transfer(1, 1, 10, 5000)])
            == [Result.ok] * 3
        )
    ledger_before = env.rows("SELECT id, amount FROM ledger_transfers")
    [(phone_enc,)] = env.rows("SELECT phone_enc FROM users")

    pseudonym = env.run(erase_person, user_id, actor=Actor("user", user_id))

    assert pseudonym.startswith("anon_")
    export = env.run(export_person, user_id)
    assert export["user"]["phone"] == ERASED
    assert export["user"]["display_name"] == ERASED
    assert (export["user"]["status"], export["user"]["pseudonym"]) == ("erased", pseudonym)
    assert export["identity_document"]["number"] == ERASED
    assert export["identity_document"]["name"] == ERASED
    assert [(c["id"], c["number"], c["status"]) for c in export["bank_cards"]] == [
        (card_id, ERASED, "erased")
    ]
    with env.ctx() as ctx, pytest.raises(CryptoError) as erased:
        ctx.vault.decrypt(user_id, "phone", phone_enc)
    assert erased.value.code == "data_erased"
    assert env.rows("SELECT id, amount FROM ledger_transfers") == ledger_before
    assert env.rows("SELECT phone_index, person_index FROM users") == [(None, None)]
    assert env.rows("SELECT pan_index, token, last4 FROM bank_cards") == [(None, None, None)]
    assert env.rows(
        "SELECT COUNT(*) FROM data_keys WHERE subject = :s AND wrapped IS NOT NULL", s=user_id
    ) == [(0,)]
    [(_, _, details)] = env.audit("person.erased")
    assert json.loads(details)["pseudonym"] == pseudonym


def test_after_erasure_the_phone_and_card_can_be_used_again(env: Env, analyst: Actor) -> None:
    user_id, _ = zhang_with_card(env)
    env.run(erase_person, user_id)  # by the system, e.g. a scheduled retention job
    again = env.run(register_user, "+86 138 0013 8000")
    assert again.id != user_id
    env.verify(again.id)
    env.run(bind_card, env.kyc, again.id, DEBIT, PHONE)
    assert len(env.run(list_cards, again.id)) == 1
    assert env.run(get_user, user_id).status == "erased"
    env.refused("user_erased", list_cards, user_id)
    env.refused(
        "user_erased", reveal_field, user_id, "phone", "chargeback investigation", actor=analyst
    )
    env.refused("already_erased", erase_person, user_id)


def test_an_operator_reveals_one_field_with_a_reason(env: Env, analyst: Actor) -> None:
    user_id, card_id = zhang_with_card(env)
    reason = "case 42: customer disputes a top-up"
    assert env.run(reveal_field, user_id, "phone", reason, actor=analyst) == "+8613800138000"
    assert env.run(reveal_field, user_id, "document_number", reason, actor=analyst) == ZHANG_ID
    assert env.run(reveal_field, user_id, "legal_name", reason, actor=analyst) == ZHANG
    assert (
        env.run(reveal_field, user_id, "card_number", reason, card_id=card_id, actor=analyst)
        == DEBIT
    )
    revealed = env.audit("pii.revealed")
    assert len(revealed) == 4
    for subject, outcome, details in revealed:
        assert (subject, outcome) == (user_id, "ok")
        assert json.loads(details)["reason"] == reason
        assert DEBIT not in details
        assert ZHANG_ID not in details
    [(actor, ip)] = env.rows(
        "SELECT DISTINCT actor, ip FROM audit_log WHERE action = 'pii.revealed'"
    )
    assert (actor, ip) == (f"operator:{analyst.id}", "10.1.2.3")


def test_reveal_refusals(env: Env, analyst: Actor) -> None:
    user_id, card_id = zhang_with_card(env)
    other = env.run(register_user, "13900139000")
    env.refused("reason_required", reveal_field, user_id, "phone", "because", actor=analyst)
    env.refused(
        "invalid_field", reveal_field, user_id, "password", "case 42 dispute", actor=analyst
    )
    env.refused(
        "resource_missing",
        reveal_field,
        other.id,
        "card_number",
        "case 42 dispute",
        card_id=card_id,
        actor=analyst,
    )  # someone else's card
    env.refused(
        "resource_missing",
        reveal_field,
        other.id,
        "document_number",
        "case 42 dispute",
        actor=analyst,
    )  # not verified


def test_no_personal_data_in_plain_columns_or_the_audit_log(
    env: Env, db: Database, analyst: Actor
) -> None:
    zhang_with_card(env)
    env.run(export_person, env.rows("SELECT id FROM users")[0][0], actor=analyst)
    secrets = (ZHANG_ID, DEBIT, "13800138000", ZHANG, "小张")
    with db.read() as conn:
        for table in (
            "users",
            "identity_documents",
            "identity_verifications",
            "bank_cards",
            "audit_log",
        ):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                dumped = " ".join(str(v) for v in row)
                assert not [s for s in secrets if s in dumped], table


def test_no_personal_data_in_any_log_line(
    env: Env, analyst: Actor, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    user_id, card_id = zhang_with_card(env)
    env.refused("card_already_bound", bind_card, env.kyc, user_id, DEBIT, PHONE)
    env.kyc.id_authority.available = False
    env.verify(user_id, Evidence(phone_carrier=True))
    env.run(export_person, user_id, actor=analyst)
    env.run(reveal_field, user_id, "card_number", "case 42 dispute", card_id=card_id, actor=analyst)
    env.run(erase_person, user_id)
    captured = capsys.readouterr()
    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    for text_ in (logged, captured.out, captured.err):
        for secret in (ZHANG_ID, DEBIT, "13800138000", ZHANG):
            assert secret not in text_


def test_key_rotation_reaches_every_identity_field(env: Env, db: Database) -> None:
    user_id, _ = zhang_with_card(env)
    report = rotate_data_keys(db, env.keyring)
    assert report.fields >= 5  # phone, display name, document number, legal name, card
    tokens = (
        env.rows("SELECT phone_enc, display_name_enc FROM users")
        + env.rows("SELECT number_enc, name_enc FROM identity_documents")
        + env.rows("SELECT pan_enc, pan_enc FROM bank_cards")
    )
    assert {parse_token(t)[0] for row in tokens for t in row} == {2}
    export = env.run(export_person, user_id)
    assert (export["user"]["phone"], export["identity_document"]["number"]) == (
        "+8613800138000",
        ZHANG_ID,
    )
    assert export["bank_cards"][0]["number"] == DEBIT
