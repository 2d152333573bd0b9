"""Users and real-name verification, on SQLite and PostgreSQL.

`Env` (shared by the other test_identity_* modules) runs each call in its own unit of
work, like an edge would, with one keyring and one set of KYC fakes for the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from guardpay.adapters.kyc import Kyc
from guardpay.domain.identity.classes import AccountClass
from guardpay.errors import GuardpayError
from guardpay.security.keys import Keyring
from guardpay.services.identity.facade import (
    CardEvidence,
    Evidence,
    User,
    VerificationResult,
    account_standing,
    get_user,
    register_user,
    verify_identity,
)
from guardpay.services.platform.context import SYSTEM, Actor, Context
from guardpay.services.risk.engine import RiskEngine
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work
from tests.domain.identity.numbers import card, resident_id, wrong_check

T = TypeVar("T")
NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
PHONE = "13800138000"
ZHANG_ID = resident_id("310104", "19900307", "123")
ZHANG = "张三"
DEBIT = card("622202", 19)  # ICBC debit
CREDIT = card("625802", 16)  # CMB credit
TABLES = (
    "users",
    "identity_documents",
    "identity_verifications",
    "merchants",
    "bank_cards",
    "audit_log",
    "data_keys",
)


def verify_as(
    ctx: Context,
    kyc: Kyc,
    user_id: str,
    evidence: Evidence | None = None,
    *,
    name: str = ZHANG,
    number: str = ZHANG_ID,
    doc_type: str = "resident_id",
) -> VerificationResult:
    """Verify as 张三 with his resident ID unless told otherwise."""
    return verify_identity(
        ctx,
        kyc,
        user_id,
        name=name,
        document_type=doc_type,
        document_number=number,
        evidence=evidence or Evidence(),
    )


class Env:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.keyring = Keyring.generate()
        self.kyc = Kyc.fakes()
        self.risk = RiskEngine()  # its own feature history

    @contextmanager
    def ctx(self, actor: Actor = SYSTEM) -> Iterator[Context]:
        with unit_of_work(self.db) as uow:
            yield Context(uow, self.keyring, actor, lambda: NOW, None, self.risk)

    def run(self, fn: Callable[..., T], *args: Any, actor: Actor = SYSTEM, **kw: Any) -> T:
        with self.ctx(actor) as ctx:
            return fn(ctx, *args, **kw)

    def counts(self) -> dict[str, int]:
        with self.db.read() as conn:
            return {
                t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in TABLES
            }

    def refused(
        self, code: str, fn: Callable[..., Any], *args: Any, actor: Actor = SYSTEM, **kw: Any
    ) -> GuardpayError:
        """The call fails with `code` and leaves every identity and audit table as it was."""
        before = self.counts()
        with pytest.raises(GuardpayError) as refused:
            self.run(fn, *args, actor=actor, **kw)
        assert refused.value.code == code, refused.value.message
        assert self.counts() == before
        return refused.value

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.db.read() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    def audit(self, action: str) -> list[tuple[Any, ...]]:
        return self.rows(
            "SELECT subject, outcome, details FROM audit_log WHERE action = :a ORDER BY seq",
            a=action,
        )

    # -- common set-ups --------------------------------------------------------------
    def user(self, phone: str = PHONE) -> User:
        return self.run(register_user, phone)

    def verify(
        self, user_id: str, evidence: Evidence | None = None, **kw: str
    ) -> VerificationResult:
        return self.run(verify_as, self.kyc, user_id, evidence, **kw)

    def verified_user(self, phone: str = PHONE, number: str = ZHANG_ID) -> User:
        user = self.user(phone)
        self.verify(user.id, number=number)
        return user


@pytest.fixture
def env(db: Database) -> Env:
    return Env(db)


def test_register_keeps_the_phone_encrypted_and_shows_it_masked(env: Env) -> None:
    user = env.run(register_user, "+86 138 0013 8000", "小张")
    assert user.id.startswith("usr_")
    assert len(user.id) == 20
    assert (user.phone, user.display_name) == ("138****8000", "小*")
    assert (user.account_class, user.can_pay, user.status) == (
        AccountClass.UNVERIFIED,
        False,
        "active",
    )
    [(phone_enc, phone_index, name_enc)] = env.rows(
        "SELECT phone_enc, phone_index, display_name_enc FROM users"
    )
    assert phone_enc.startswith("gpf1.")
    assert "13800138000" not in phone_enc
    assert len(phone_index) == 64
    assert "小张" not in name_enc
    assert env.audit("user.registered") == [(user.id, "ok", '{"mobile":"138****8000"}')]
    assert env.run(get_user, user.id) == user


def test_one_account_per_phone_whatever_the_spelling(env: Env) -> None:
    env.user("13800138000")
    for spelling in ("+86 138 0013 8000", "8613800138000", "138-0013-8000"):
        err = env.refused("phone_taken", register_user, spelling)
        assert err.param == "phone"
        assert "138" not in err.message
    env.user("13900139000")  # another number is fine


@pytest.mark.parametrize(
    ("phone", "name", "code"),
    [
        ("12800138000", None, "invalid_phone_number"),
        ("1380013800", None, "invalid_phone_number"),
        ("13800138000", "", "invalid_display_name"),
        ("13800138000", "x" * 33, "invalid_display_name"),
    ],
)
def test_registration_rejections_change_nothing(
    env: Env, phone: str, name: str | None, code: str
) -> None:
    env.refused(code, register_user, phone, name)


def test_three_channels_make_class_ii(env: Env) -> None:
    user = env.user()
    evidence = Evidence(card=CardEvidence(DEBIT, PHONE), selfie_ref="selfie_001")
    result = env.verify(user.id, evidence)
    assert result.account_class is AccountClass.II
    assert sorted(result.passed) == ["bank_card_four_elements", "face_match", "id_authority"]
    assert (result.failed, result.unavailable) == ([], [])
    assert result.channels == sorted(result.passed)
    assert env.run(get_user, user.id).account_class is AccountClass.II
    assert env.rows("SELECT COUNT(*), MIN(outcome) FROM identity_verifications") == [(3, "passed")]
    [(doc_type, number_enc, number_index, name_enc)] = env.rows(
        "SELECT doc_type, number_enc, number_index, name_enc FROM identity_documents"
    )
    assert doc_type == "resident_id"
    assert number_index is not None
    assert ZHANG_ID not in number_enc
    assert ZHANG not in name_enc
    [(subject, outcome, details)] = env.audit("identity.verified")
    assert (subject, outcome) == (user.id, "ok")
    assert "3101**********" in details
    assert ZHANG_ID not in details
    assert DEBIT not in details


def test_all_five_channels_make_class_iii(env: Env) -> None:
    user = env.user()
    evidence = Evidence(
        card=CardEvidence(CREDIT, PHONE, "123", "12/29"),
        selfie_ref="s1",
        phone_carrier=True,
        transfer_reference="GPV-7Q2K",
    )
    result = env.verify(user.id, evidence)
    assert (result.account_class, len(result.passed)) == (AccountClass.III, 5)


def test_channels_add_up_over_several_verifications(env: Env) -> None:
    user = env.user()
    assert env.verify(user.id).account_class is AccountClass.I
    again = env.verify(user.id, Evidence(id_authority=True, selfie_ref="s1"))
    assert again.account_class is AccountClass.I  # id_authority again counts once
    third = env.verify(user.id, Evidence(id_authority=False, phone_carrier=True))
    assert third.account_class is AccountClass.II
    assert third.channels == ["face_match", "id_authority", "phone_carrier"]
    assert env.rows("SELECT COUNT(*) FROM identity_documents") == [(1,)]


def test_failed_channels_are_recorded_not_rejected(env: Env) -> None:
    user = env.user()
    env.kyc.id_authority.fail_for(ZHANG_ID)
    env.kyc.faces.set_score("blurry", 0.55)
    result = env.verify(user.id, Evidence(selfie_ref="blurry"))
    assert result.account_class is AccountClass.UNVERIFIED
    assert (result.passed, sorted(result.failed)) == ([], ["face_match", "id_authority"])
    assert env.rows("SELECT channel, outcome FROM identity_verifications ORDER BY channel") == [
        ("face_match", "failed"),
        ("id_authority", "failed"),
    ]
    assert env.rows("SELECT COUNT(*) FROM identity_documents") == [(0,)]  # nothing kept
    [(subject, outcome, details)] = env.audit("identity.verification_failed")
    assert (subject, outcome) == (user.id, "failed")
    assert ZHANG_ID not in details
    assert not env.run(get_user, user.id).can_pay


def test_an_unavailable_channel_is_reported_and_others_still_count(env: Env) -> None:
    user = env.user()
    env.kyc.id_authority.available = False
    result = env.verify(user.id, Evidence(selfie_ref="s1"))
    assert (result.passed, result.unavailable) == (["face_match"], ["id_authority"])
    assert result.account_class is AccountClass.I
    env.kyc.id_authority.available = True
    assert env.verify(user.id).channels == ["face_match", "id_authority"]


def test_a_wrong_name_fails_at_the_authority(env: Env) -> None:
    user = env.user()
    env.kyc.id_authority.register(ZHANG_ID, ZHANG)
    result = env.verify(user.id, name="李四")
    assert (result.failed, result.account_class) == (["id_authority"], AccountClass.UNVERIFIED)


@pytest.mark.parametrize(
    ("kw", "evidence", "code"),
    [
        ({"number": wrong_check(ZHANG_ID)}, None, "id_number_check_digit_mismatch"),
        ({"number": resident_id("990105")}, None, "id_number_region_invalid"),
        ({"number": resident_id(birth="19900230")}, None, "id_number_birth_date_invalid"),
        ({"number": ZHANG_ID[:-1]}, None, "invalid_id_number"),
        ({"name": "张3"}, None, "invalid_name"),
        ({"doc_type": "drivers_license"}, None, "invalid_document_type"),
        ({"doc_type": "passport", "number": "E12"}, None, "invalid_passport_number"),
        ({}, Evidence(card=CardEvidence(DEBIT[:-1] + "0", PHONE)), "invalid_card_number"),
        ({}, Evidence(card=CardEvidence("4111111111111111", PHONE)), "unsupported_card_bin"),
        ({}, Evidence(card=CardEvidence(DEBIT, "12345")), "invalid_phone_number"),
        ({}, Evidence(card=CardEvidence(CREDIT, PHONE)), "cvv2_required"),
        ({}, Evidence(card=CardEvidence(CREDIT, PHONE, "123", "01/20")), "expired_card"),
    ],
)
def test_bad_input_is_rejected_before_any_channel_is_called(
    env: Env, kw: dict[str, str], evidence: Evidence | None, code: str
) -> None:
    user = env.user()
    env.refused(code, verify_as, env.kyc, user.id, evidence, **kw)
    assert sum(s.calls for s in env.kyc.services()) == 0


def test_an_account_stays_with_the_person_it_was_verified_for(env: Env) -> None:
    user = env.verified_user()
    other = resident_id("440305", "19751129", "888")
    env.refused("identity_mismatch", verify_as, env.kyc, user.id, number=other)
    env.refused("identity_mismatch", verify_as, env.kyc, user.id, name="李四")


def test_a_passport_holder_without_the_id_authority(env: Env) -> None:
    user = env.user()
    evidence = Evidence(selfie_ref="s1", transfer_reference="GPV-1")
    result = env.verify(
        user.id, evidence, name="John Smith", number="E12345678", doc_type="passport"
    )
    assert sorted(result.passed) == ["bank_account_transfer", "face_match"]  # no ID authority
    assert result.account_class is AccountClass.I


def test_evidence_for_no_applicable_channel_is_refused(env: Env) -> None:
    user = env.user()
    # the ID authority knows resident IDs only
    env.refused(
        "no_verification_channel",
        verify_as,
        env.kyc,
        user.id,
        Evidence(),
        doc_type="passport",
        number="E12345678",
    )
    env.refused(
        "no_verification_channel", verify_as, env.kyc, user.id, Evidence(id_authority=False)
    )


def test_unknown_users(env: Env) -> None:
    env.refused("resource_missing", get_user, "usr_nobody")
    env.refused("resource_missing", verify_as, env.kyc, "usr_nobody")


def test_standing_links_the_accounts_of_one_person(env: Env) -> None:
    first = env.verified_user()
    second = env.verified_user("13900139000")  # the same person, a second account
    stranger = env.verified_user("13700137000", resident_id("440305", "19751129", "888"))
    fresh = env.user("13600136000")
    standing = env.run(account_standing, first.id)
    assert (standing.account_class, standing.can_pay) == (AccountClass.I, True)
    assert sorted(standing.person_accounts) == sorted([first.id, second.id])
    assert env.run(account_standing, stranger.id).person_accounts == [stranger.id]
    unverified = env.run(account_standing, fresh.id)
    assert (unverified.can_pay, unverified.person_accounts) == (False, [fresh.id])
