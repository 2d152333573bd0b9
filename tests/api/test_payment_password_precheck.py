"""The payment password is verified before the request's write unit of work opens
(api/deps.py), so argon2 never runs while the request holds the database's write lock;
the service still keeps every count: a wrong password is counted and locks as before,
and a password changed in between is checked again, not taken from the pre-check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from guardpay.api import deps
from guardpay.security import passwords
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import UnitOfWork
from tests.api.api_fixtures import PIN, Api, error_of
from tests.api.api_fixtures import api_fixture as api_fixture

VERIFY = "/v1/me/payment-password/verify"


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each argon2 verification: was a request's write unit of work open?"""
    inside: list[bool] = []
    open_units = [0]
    unit = deps.request_unit

    @contextmanager
    def counted(db: Database) -> Iterator[UnitOfWork]:
        open_units[0] += 1
        try:
            with unit(db) as uow:
                yield uow
        finally:
            open_units[0] -= 1

    verify = passwords.SecretHasher.verify

    def watching(self: passwords.SecretHasher, stored: str, secret: str) -> Any:
        inside.append(open_units[0] > 0)
        return verify(self, stored, secret)

    monkeypatch.setattr(deps, "request_unit", counted)
    monkeypatch.setattr(passwords.SecretHasher, "verify", watching)
    return inside


def test_argon2_runs_outside_the_write_transaction(api: Api, watched: list[bool]) -> None:
    token = api.verified_user()
    assert api.post("/v1/me/payment-password", {"payment_password": PIN}, token).json()["ok"]
    watched.clear()
    assert api.post(VERIFY, {"payment_password": PIN}, token).status_code == 200
    assert watched == [False]  # once, before the unit of work; not again inside it


def test_a_wrong_password_is_still_counted_and_locks(api: Api, watched: list[bool]) -> None:
    token = api.verified_user()
    api.post("/v1/me/payment-password", {"payment_password": PIN}, token)
    watched.clear()
    for left in (4, 3, 2, 1):
        wrong = error_of(
            api.post(VERIFY, {"payment_password": "000000"}, token), 401, "invalid_payment_password"
        )
        assert str(left) in wrong["message"]
    error_of(api.post(VERIFY, {"payment_password": "000000"}, token), 403, "payment_locked")
    error_of(api.post(VERIFY, {"payment_password": PIN}, token), 403, "payment_locked")
    assert watched == [False] * 6  # each guess verified once, before its unit of work


def test_a_stale_pre_check_is_not_trusted(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the stored hash changes between the pre-check and the unit of work, the
    service verifies again against what is stored now."""
    token = api.verified_user()
    api.post("/v1/me/payment-password", {"payment_password": PIN}, token)
    precheck = deps.auth.precheck_payment_password

    def outdated(*args: Any) -> Any:
        checked = precheck(*args)
        return (
            None
            if checked is None
            else type(checked)(checked.user_id, "$argon2id$stale", checked.pin_mac, right=False)
        )

    monkeypatch.setattr(deps.auth, "precheck_payment_password", outdated)
    assert api.post(VERIFY, {"payment_password": PIN}, token).status_code == 200
