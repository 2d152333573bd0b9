"""argon2id hashing for login passwords, payment passwords and operator passwords.

argon2id is memory-hard, so guessing a leaked hash costs memory as well as time; that
matters most for the 6-digit payment password, whose whole space is 10^6. The cost is a
deployment choice, so it is configuration: `configure(Argon2Params(...))` at start-up (or
`using(...)` around a block, which tests use with `CHEAP`). The default is OWASP's
argon2id recommendation, m=19 MiB, t=2, p=1. A hash records its own parameters, so raising
them later needs no migration: `needs_rehash` tells a service to re-hash at the next
successful login.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from guardpay.domain.auth.passwords import normalize


@dataclass(frozen=True)
class Argon2Params:
    time_cost: int = 2
    memory_cost_kib: int = 19 * 1024
    parallelism: int = 1
    hash_len: int = 32
    salt_len: int = 16


OWASP = Argon2Params()
#: The smallest argon2id accepts: for tests only, where hashing speed is all that matters.
CHEAP = Argon2Params(time_cost=1, memory_cost_kib=8, parallelism=1)


class SecretHasher:
    """Hash and verify secrets with one set of argon2id parameters."""

    def __init__(self, params: Argon2Params = OWASP) -> None:
        self.params = params
        self._hasher = argon2.PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
            hash_len=params.hash_len,
            salt_len=params.salt_len,
            type=argon2.Type.ID,
        )

    def hash(self, secret: str) -> str:
        return self._hasher.hash(normalize(secret))

    def verify(self, stored: str, secret: str) -> bool:
        """True only for the right secret; a malformed stored hash is simply False."""
        try:
            return self._hasher.verify(stored, normalize(secret))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    @cached_property
    def _decoy(self) -> str:
        return self.hash("guardpay-decoy-password")

    def check(self, stored: str | None, secret: str) -> bool:
        """Verify against `stored`, or, when there is nothing stored (no such account),
        spend the same time on a decoy and answer no: timing must not reveal accounts."""
        if stored is None:
            self.burn(secret)
            return False
        return self.verify(stored, secret)

    def burn(self, secret: str) -> None:
        """Spend the time of one verification, for an account that does not exist, so
        response time does not tell an attacker which phone numbers are registered."""
        self.verify(self._decoy, secret)


_lock = threading.Lock()
_current = SecretHasher(OWASP)


def hasher() -> SecretHasher:
    return _current


def configure(params: Argon2Params) -> Argon2Params:
    """Use `params` for new hashes from now on; returns the parameters used before."""
    global _current
    with _lock:
        before = _current.params
        if params != before:
            _current = SecretHasher(params)
    return before


@contextmanager
def using(params: Argon2Params) -> Iterator[SecretHasher]:
    before = configure(params)
    try:
        yield hasher()
    finally:
        configure(before)
