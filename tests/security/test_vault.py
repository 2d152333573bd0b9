"""Field encryption, blind indexes, crypto-shredding and key rotation, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from guardpay.errors import CryptoError
from guardpay.security.keys import Keyring
from guardpay.security.vault import Vault, parse_token
from guardpay.services.platform.keys import rewrap_all, rotate_data_keys
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work

ALICE, BOB = "usr_alice0000000000", "usr_bob000000000000"
PHONE = "+8613800138000"


def seal(db: Database, keyring: Keyring, subject: str, field: str, value: str) -> str:
    with unit_of_work(db) as uow:
        return Vault(uow.keys, keyring).encrypt(subject, field, value)


def open_(db: Database, keyring: Keyring, subject: str, field: str, token: str) -> str:
    with unit_of_work(db) as uow:
        return Vault(uow.keys, keyring).decrypt(subject, field, token)


def test_a_field_round_trips_and_the_token_hides_it(db: Database) -> None:
    keyring = Keyring.generate()
    token = seal(db, keyring, ALICE, "phone", PHONE)
    assert PHONE not in token
    assert parse_token(token)[0] == 1
    assert open_(db, keyring, ALICE, "phone", token) == PHONE


def test_a_token_cannot_be_moved_to_another_person_or_field(db: Database) -> None:
    keyring = Keyring.generate()
    token = seal(db, keyring, ALICE, "phone", PHONE)
    seal(db, keyring, BOB, "phone", "+8613900139000")
    for subject, field in ((BOB, "phone"), (ALICE, "id_number")):
        with pytest.raises(CryptoError) as err:
            open_(db, keyring, subject, field, token)
        assert err.value.code == "ciphertext_invalid"


def test_another_master_key_cannot_read(db: Database) -> None:
    token = seal(db, Keyring.generate(), ALICE, "phone", PHONE)
    with pytest.raises(CryptoError) as err:
        open_(db, Keyring.generate(), ALICE, "phone", token)
    assert err.value.code == "ciphertext_invalid"


def test_blind_index_is_stable_keyed_and_reveals_nothing(db: Database) -> None:
    keyring = Keyring.generate()
    with unit_of_work(db) as uow:
        first = Vault(uow.keys, keyring).blind_index("phone", PHONE)
    with unit_of_work(db) as uow:
        vault = Vault(uow.keys, keyring)
        assert vault.blind_index("phone", PHONE) == first
        assert vault.blind_index("card", PHONE) != first
        assert vault.blind_index("phone", "+8613800138001") != first
    assert PHONE[3:] not in first
    assert len(first) == 64


def test_shredding_makes_a_person_unreadable_and_leaves_others(db: Database) -> None:
    keyring = Keyring.generate()
    alice = seal(db, keyring, ALICE, "phone", PHONE)
    bob = seal(db, keyring, BOB, "phone", "+8613900139000")
    with unit_of_work(db) as uow:
        vault = Vault(uow.keys, keyring)
        assert vault.shred(ALICE) == 1
        assert vault.is_shredded(ALICE)
    with pytest.raises(CryptoError) as err:
        open_(db, keyring, ALICE, "phone", alice)
    assert err.value.code == "data_erased"
    with pytest.raises(CryptoError):
        seal(db, keyring, ALICE, "phone", PHONE)  # nothing new is sealed for an erased person
    assert open_(db, keyring, BOB, "phone", bob) == "+8613900139000"
    with db.begin() as conn:
        wrapped = conn.execute(
            text("SELECT wrapped FROM data_keys WHERE subject = :s"), {"s": ALICE}
        ).scalar_one()
    assert wrapped is None  # the key material itself is gone


def test_master_key_rotation_rewraps_without_touching_fields(db: Database) -> None:
    old = Keyring.generate()
    token = seal(db, old, ALICE, "phone", PHONE)
    new = old.with_new_version()
    assert rewrap_all(db, new) == 1
    with db.begin() as conn:
        versions = conn.execute(text("SELECT DISTINCT master_version FROM data_keys")).scalars()
        assert set(versions) == {2}
    only_new = Keyring({2: new.keys[2]})
    assert open_(db, only_new, ALICE, "phone", token) == PHONE


def test_data_key_rotation_seals_new_writes_under_a_new_version_and_retires_the_old(
    db: Database,
) -> None:
    keyring = Keyring.generate()
    token = seal(db, keyring, ALICE, "phone", PHONE)
    rotated = rotate_data_keys(db, keyring)
    assert rotated.subjects == 1
    fresh = seal(db, keyring, ALICE, "phone", PHONE)
    assert parse_token(fresh)[0] == 2
    with pytest.raises(CryptoError) as err:
        open_(db, keyring, ALICE, "phone", token)  # old version retired after re-encryption
    assert err.value.code == "data_erased"


def test_rotation_reencrypts_every_registered_column(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from guardpay.storage import encrypted

    column = encrypted.EncryptedColumn("scratch_people", "id", "person", "phone_enc", "phone")
    monkeypatch.setattr(encrypted, "REGISTRY", [column])
    keyring = Keyring.generate()
    with db.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE scratch_people (id VARCHAR(20) PRIMARY KEY, person VARCHAR(40), "
            "phone_enc TEXT)"
        )
    for i, (subject, phone) in enumerate(((ALICE, PHONE), (BOB, "+8613900139000"))):
        token = seal(db, keyring, subject, "phone", phone)
        with db.begin() as conn:
            conn.execute(
                text("INSERT INTO scratch_people VALUES (:i, :p, :t)"),
                {"i": f"row{i}", "p": subject, "t": token},
            )
    report = rotate_data_keys(db, keyring)
    assert (report.subjects, report.fields, report.retired_keys) == (2, 2, 2)
    with db.begin() as conn:
        rows = conn.execute(text("SELECT person, phone_enc FROM scratch_people")).all()
    opened = {person: open_(db, keyring, person, "phone", token) for person, token in rows}
    assert opened == {ALICE: PHONE, BOB: "+8613900139000"}
    assert {parse_token(token)[0] for _, token in rows} == {2}
