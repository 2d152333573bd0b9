"""Key rotation, online: many short transactions, readers never blocked.

- `rewrap_all`: after a new master key version is configured, re-wrap every live data
  key under it. Field ciphertexts do not change.
- `rotate_data_keys`: give every person a new data key version and re-encrypt each of
  their registered fields to it (one transaction per person); only when every person is
  done are the old versions destroyed. Until then a reader holding an old token can still
  open it, because the version travels inside the token.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardpay.security.keys import Keyring
from guardpay.security.vault import Vault, _key_aad, parse_token
from guardpay.services.platform.context import utc_now
from guardpay.storage.engine.db import Database
from guardpay.storage.tables import encrypted_columns
from guardpay.storage.uow import unit_of_work

CHUNK = 200


def rewrap_all(db: Database, keyring: Keyring) -> int:
    target, done = keyring.active_version, 0
    while True:
        with unit_of_work(db) as uow:
            keys = uow.keys.live_keys(below_master=target, limit=CHUNK)
            for k in keys:
                assert k.wrapped is not None
                data_key = keyring.unwrap(
                    k.master_version, k.wrapped, _key_aad(k.subject, k.version)
                )
                master, wrapped = keyring.wrap(data_key, _key_aad(k.subject, k.version))
                uow.keys.rewrap(k.subject, k.version, master, wrapped)
        done += len(keys)
        if len(keys) < CHUNK:
            return done


@dataclass(frozen=True)
class RotationReport:
    subjects: int
    fields: int
    retired_keys: int

    def as_dict(self) -> dict[str, int]:
        return self.__dict__.copy()


def rotate_data_keys(db: Database, keyring: Keyring) -> RotationReport:
    rotated: dict[str, int] = {}
    fields = 0
    after = ""
    while True:
        with unit_of_work(db) as uow:
            batch = uow.encrypted_fields.live_subjects(after, CHUNK)
        for subject in batch:
            version, moved = _rotate_subject(db, keyring, subject)
            rotated[subject], fields = version, fields + moved
        if len(batch) < CHUNK:
            break
        after = batch[-1]
    retired = 0
    for subject, version in rotated.items():
        with unit_of_work(db) as uow:
            retired += uow.keys.retire_below(subject, version, utc_now())
    return RotationReport(len(rotated), fields, retired)


def _rotate_subject(db: Database, keyring: Keyring, subject: str) -> tuple[int, int]:
    """One person: a new key version, and every field of theirs re-sealed under it."""
    with unit_of_work(db) as uow:
        vault = Vault(uow.keys, keyring)
        current, _ = vault.active_key(subject)
        version, _ = vault.new_key(subject, current + 1)
        store, moved = uow.encrypted_fields, 0
        for col in encrypted_columns():
            for key, token in store.tokens_of(subject, col):
                if parse_token(token)[0] == version:
                    continue
                plain = vault.decrypt(subject, col.field, token)
                store.replace(col, key, vault.encrypt(subject, col.field, plain))
                moved += 1
    return version, moved
