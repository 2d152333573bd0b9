"""Field-level encryption of personal data, blind indexes, and crypto-shredding.

Every person (a "subject") has their own data keys, stored only wrapped under the master
key (security/keys.py). A field is sealed with AES-256-GCM under the subject's newest
key, with the subject, field name and key version as associated data, so a ciphertext
cannot be moved to another person or column. Tokens look like `gpf1.<version>.<base64>`:
the version inside lets readers handle old and new keys side by side while
`guardpay keys rotate` re-encrypts, which is what makes rotation need no downtime.

Erasure destroys the subject's keys: everything sealed for them becomes unreadable at
once, wherever copies of the ciphertext live (backups included), while rows that only
reference the person by id (the ledger) keep their history.

Blind indexes (HMAC-SHA256 under a platform key) find a phone number or spot a card bound
twice without decrypting anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime

from guardpay.errors import CryptoError, DataErased
from guardpay.security.keys import KEY_BYTES, Keyring, open_sealed, seal
from guardpay.storage.keys import KeyRepository, StoredKey

TOKEN_PREFIX = "gpf1"
BLIND_INDEX_SUBJECT = "platform:blind-index"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key_aad(subject: str, version: int) -> bytes:
    return f"guardpay-data-key|{subject}|{version}".encode()


def _field_aad(subject: str, field: str, version: int) -> bytes:
    return f"{subject}|{field}|{version}".encode()


def _utc_now() -> datetime:
    from guardpay.clock import utc_now

    return utc_now()


class Vault:
    def __init__(
        self, repo: KeyRepository, keyring: Keyring, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self.repo = repo
        self.keyring = keyring
        self.clock = clock
        self._keys: dict[tuple[str, int], bytes] = {}

    # -- fields ------------------------------------------------------------------------
    def encrypt(self, subject: str, field: str, plaintext: str) -> str:
        version, key = self.active_key(subject)
        blob = seal(key, plaintext.encode(), _field_aad(subject, field, version))
        return f"{TOKEN_PREFIX}.{version}.{_b64(blob)}"

    def decrypt(self, subject: str, field: str, token: str) -> str:
        version, blob = parse_token(token)
        key = self._key(subject, version)
        return open_sealed(key, blob, _field_aad(subject, field, version)).decode()

    def blind_index(self, kind: str, value: str) -> str:
        return self.blind_indexes(kind, [value])[0]

    def blind_indexes(self, kind: str, values: list[str]) -> list[str]:
        """Many at once, the key read once (a masked number's 10,000 candidates)."""
        key = self._platform_key(BLIND_INDEX_SUBJECT)
        return [
            hmac.new(key, f"{kind}\x00{v}".encode(), hashlib.sha256).hexdigest() for v in values
        ]

    # -- keys --------------------------------------------------------------------------
    def active_key(self, subject: str) -> tuple[int, bytes]:
        """The subject's newest live key, created on first use; refused once erased."""
        keys = self.repo.keys_of(subject)
        live = [k for k in keys if k.wrapped is not None]
        if not live and keys:
            raise DataErased("this person's data was erased")
        if not live:
            return self.new_key(subject, 1)
        newest = live[-1]
        return newest.version, self._remember(newest)

    def new_key(self, subject: str, version: int) -> tuple[int, bytes]:
        data_key = secrets.token_bytes(KEY_BYTES)
        master, wrapped = self.keyring.wrap(data_key, _key_aad(subject, version))
        stored = StoredKey(subject, version, master, wrapped, None)
        if not self.repo.insert_if_absent(stored, self.clock()):
            return self.active_key(subject)  # another transaction created it first
        self._keys[(subject, version)] = data_key
        return version, data_key

    def shred(self, subject: str) -> int:
        """Destroy every key of the subject; returns how many were destroyed."""
        for cached in [k for k in self._keys if k[0] == subject]:
            del self._keys[cached]
        return self.repo.destroy(subject, self.clock())

    def is_shredded(self, subject: str) -> bool:
        keys = self.repo.keys_of(subject)
        return bool(keys) and all(k.wrapped is None for k in keys)

    def key(self, subject: str, version: int) -> bytes:
        """One version of the subject's key (`data_key_missing` if there is none, or
        `data_erased` once destroyed)."""
        return self._key(subject, version)

    def _key(self, subject: str, version: int) -> bytes:
        cached = self._keys.get((subject, version))
        if cached is not None:
            return cached
        for stored in self.repo.keys_of(subject):
            if stored.version == version:
                if stored.wrapped is None:
                    raise DataErased("this person's data was erased")
                return self._remember(stored)
        raise CryptoError(
            f"no data key version {version} for this subject", code="data_key_missing"
        )

    def _remember(self, stored: StoredKey) -> bytes:
        assert stored.wrapped is not None
        key = self.keyring.unwrap(
            stored.master_version, stored.wrapped, _key_aad(stored.subject, stored.version)
        )
        self._keys[(stored.subject, stored.version)] = key
        return key

    def _platform_key(self, subject: str) -> bytes:
        cached = self._keys.get((subject, 1))
        return cached if cached is not None else self.active_key(subject)[1]


def parse_token(token: str) -> tuple[int, bytes]:
    prefix, _, rest = token.partition(".")
    version, _, body = rest.partition(".")
    if prefix != TOKEN_PREFIX or not version.isdigit() or not body:
        raise CryptoError("not an encrypted field token", code="ciphertext_invalid")
    return int(version), _unb64(body)
