"""Master keys (key-encryption keys) from configuration.

Personal data is encrypted under per-person data keys; those are stored only wrapped
(AES-256-GCM) under a master key that never touches the database. Master keys are
versioned so they can be rotated: the newest version wraps, every configured version
unwraps, and `guardpay keys rotate` re-wraps everything under the newest one.

Configuration: `GUARDPAY_MASTER_KEYS="1:<base64 32 bytes>,2:<base64 32 bytes>"` (read into
config.py `Settings.master_keys`; `Keyring.from_settings` uses it). Without
it (development and the demo only) a key file is created under ./guardpay-data/ with
mode 0600 and a warning; production must set the variable (or load it from a KMS).
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from guardpay.config import Settings
from guardpay.errors import CryptoError

MASTER_KEYS_ENV = "GUARDPAY_MASTER_KEYS"
KEY_BYTES = 32
NONCE_BYTES = 12


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM with a random 96-bit nonce, returned as nonce || ciphertext+tag."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise CryptoError("ciphertext failed authentication", code="ciphertext_invalid") from None


@dataclass(frozen=True)
class Keyring:
    keys: dict[int, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise CryptoError("no master key configured", code="master_key_missing")
        for version, key in self.keys.items():
            if version < 1 or len(key) != KEY_BYTES:
                raise CryptoError(
                    f"master key {version} must be 32 bytes", code="master_key_invalid"
                )

    @property
    def active_version(self) -> int:
        return max(self.keys)

    def wrap(self, data_key: bytes, aad: bytes) -> tuple[int, bytes]:
        version = self.active_version
        return version, seal(self.keys[version], data_key, aad)

    def unwrap(self, version: int, blob: bytes, aad: bytes) -> bytes:
        key = self.keys.get(version)
        if key is None:
            raise CryptoError(
                f"master key version {version} is not configured", code="master_key_missing"
            )
        return open_sealed(key, blob, aad)

    def with_new_version(self) -> Keyring:
        """A keyring with one more, freshly generated, master key (for rotation drills)."""
        return Keyring({**self.keys, self.active_version + 1: secrets.token_bytes(KEY_BYTES)})

    def to_config(self) -> str:
        return ",".join(f"{v}:{base64.b64encode(k).decode()}" for v, k in sorted(self.keys.items()))

    @classmethod
    def generate(cls) -> Keyring:
        return cls({1: secrets.token_bytes(KEY_BYTES)})

    @classmethod
    def from_config(cls, text: str) -> Keyring:
        keys: dict[int, bytes] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            version, _, encoded = part.partition(":")
            try:
                keys[int(version)] = base64.b64decode(encoded, validate=True)
            except ValueError:
                raise CryptoError(
                    "master keys are 'version:base64,...'", code="master_key_invalid"
                ) from None
        return cls(keys)

    @classmethod
    def from_settings(cls, settings: Settings, data_dir: Path) -> Keyring:
        """`settings.master_keys` (GUARDPAY_MASTER_KEYS), else the development key file
        under `data_dir` (created, with a warning, on first use)."""
        if settings.master_keys is not None:
            return cls.from_config(settings.master_keys.get_secret_value())
        return cls._development_keyring(data_dir / "master.keys")

    @classmethod
    def _development_keyring(cls, path: Path) -> Keyring:
        if path.exists():
            return cls.from_config(path.read_text())
        import structlog

        structlog.get_logger(__name__).warning(
            "development_master_key_created", path=str(path), hint=f"set {MASTER_KEYS_ENV}"
        )
        keyring = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(keyring.to_config())
        return keyring
