"""Login and payment passwords through the services: policy, storage, lockout timing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text

from guardpay.adapters.kyc import Kyc
from guardpay.domain.auth.settings import DEFAULT_SETTINGS, PaymentLockout
from guardpay.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from guardpay.security import passwords
from guardpay.services.auth import facade as auth
from guardpay.services.identity.users import Evidence, register_user, verify_identity
from tests.domain.identity.numbers import resident_id
from tests.security.auth_fixtures import (
    PASSWORD,
    PHONE,
    PIN,
    World,
    cheap_hashing_fixture,  # noqa: F401 (a pytest fixture)
    user_actor,
    world_fixture,  # noqa: F401 (a pytest fixture)
)


@pytest.fixture
def user(world: World) -> str:
    """Registered without any password, unlike the shared `user`: these tests set them."""
    return world.run(register_user, PHONE).id


def test_passwords_are_stored_only_as_argon2id(world: World, user: str) -> None:
    world.run(auth.set_login_password, user, PASSWORD)
    world.run(auth.set_payment_password, user, PIN)
    with world.db.read() as conn:
        row = conn.execute(text("SELECT login_hash, pay_hash FROM auth_credentials")).one()
    assert row[0].startswith("$argon2id$")
    assert PASSWORD not in row[0]
    assert row[1].startswith("$argon2id$")
    assert PIN not in row[1]
    kinds = [e.details for e in world.audit("auth.password_changed")]
    assert len(kinds) == 2
    assert all(PASSWORD not in d and PIN not in d for d in kinds)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1A", "at least 8"),
        ("Password123!", "too common"),
        ("Pw#13812345678", "phone number"),  # this user's phone
        ("onlylower1", "three of"),
    ],
)
def test_weak_login_passwords_are_refused(
    world: World, user: str, password: str, reason: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        world.run(auth.set_login_password, user, password)
    assert refused.value.code == "weak_password"
    assert refused.value.param == "password"
    assert reason in refused.value.message
    assert world.count("auth_credentials") == 0


def test_a_password_is_set_once_then_changed_with_the_old_one(world: World, user: str) -> None:
    actor = user_actor(user)
    world.run(auth.set_login_password, user, PASSWORD, actor=actor)
    with pytest.raises(Conflict) as again:
        world.run(auth.set_login_password, user, "Other-pass-42", actor=actor)
    assert again.value.code == "password_already_set"
    with pytest.raises(AuthenticationFailed) as wrong:
        world.run(auth.change_login_password, user, "Not-the-one-1", "Other-pass-42", actor=actor)
    assert wrong.value.code == "invalid_credentials"
    with pytest.raises(InvalidRequest) as same:
        world.run(auth.change_login_password, user, PASSWORD, PASSWORD, actor=actor)
    assert same.value.code == "weak_password"
    world.run(auth.change_login_password, user, PASSWORD, "Other-pass-42", actor=actor)
    world.run(auth.verify_login_password, user, "Other-pass-42", actor=actor)


def test_reauthentication_is_rate_limited_like_login(world: World, user: str) -> None:
    actor = user_actor(user)
    world.run(auth.set_login_password, user, PASSWORD, actor=actor)
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            world.run(auth.verify_login_password, user, "Wrong-pass-99", actor=actor)
    with pytest.raises(RateLimited) as limited:
        world.run(auth.verify_login_password, user, PASSWORD, actor=actor)
    assert limited.value.code == "too_many_attempts"


def test_only_the_account_holder_sets_passwords(world: World, user: str) -> None:
    with pytest.raises(PermissionDenied) as denied:
        world.run(auth.set_login_password, user, PASSWORD, actor=user_actor("usr_other"))
    assert denied.value.code == "not_your_account"


@pytest.mark.parametrize(
    ("pin", "reason"),
    [("111111", "repeat"), ("123456", "run"), ("654321", "run"), ("12345", "6 digits")],
)
def test_weak_payment_passwords_are_refused(world: World, user: str, pin: str, reason: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        world.run(auth.set_payment_password, user, pin)
    assert refused.value.code == "weak_password"
    assert refused.value.param == "payment_password"
    assert reason in refused.value.message


def test_the_birth_date_from_the_verified_id_is_refused(world: World, user: str) -> None:
    world.run(
        verify_identity,
        Kyc.fakes(),
        user,
        name="张三",
        document_type="resident_id",
        document_number=resident_id(birth="19900307"),
        evidence=Evidence(),
    )
    with pytest.raises(InvalidRequest) as refused:
        world.run(auth.set_payment_password, user, "900307")
    assert "birth date" in refused.value.message
    world.run(auth.set_payment_password, user, PIN)


def _wrong_pin(world: World, user: str, **kw: object) -> str:
    with pytest.raises((AuthenticationFailed, PermissionDenied)) as failed:
        world.run(auth.verify_payment_password, user, "000111", **kw)  # type: ignore[arg-type]
    return failed.value.code


def test_five_wrong_payment_passwords_lock_paying_for_three_hours(world: World, user: str) -> None:
    world.run(auth.set_payment_password, user, PIN)
    codes = []
    for _ in range(5):
        codes.append(_wrong_pin(world, user))
        world.clock.advance(hours=1)
    assert codes == ["invalid_payment_password"] * 4 + ["payment_locked"]
    locked_at = world.clock() - timedelta(hours=1)
    # The right password does not help during the lock.
    world.clock.at = locked_at + timedelta(hours=2, minutes=59)
    with pytest.raises(PermissionDenied) as locked:
        world.run(auth.verify_payment_password, user, PIN)
    assert locked.value.code == "payment_locked"
    assert PIN not in locked.value.message
    assert world.run(auth.payment_locked_until, user) == (
        (locked_at + timedelta(hours=3)).isoformat()
    )
    world.clock.at = locked_at + timedelta(hours=3)
    world.run(auth.verify_payment_password, user, PIN)
    assert world.run(auth.payment_locked_until, user) is None
    assert [e.outcome for e in world.audit("auth.payment_locked")] == ["locked"]
    assert len(world.audit("auth.payment_password_failed")) == 6  # 5 wrong + 1 while locked


def test_failures_older_than_the_window_do_not_count(world: World, user: str) -> None:
    world.run(auth.set_payment_password, user, PIN)
    for _ in range(4):
        _wrong_pin(world, user)
    world.clock.advance(hours=24, seconds=1)
    for _ in range(4):
        assert _wrong_pin(world, user) == "invalid_payment_password"
    assert _wrong_pin(world, user) == "payment_locked"


def test_a_right_payment_password_resets_the_count(world: World, user: str) -> None:
    world.run(auth.set_payment_password, user, PIN)
    for _ in range(4):
        _wrong_pin(world, user)
    world.run(auth.verify_payment_password, user, PIN)
    for _ in range(4):
        assert _wrong_pin(world, user) == "invalid_payment_password"


def test_the_lockout_is_configurable(world: World, user: str) -> None:
    lockout = PaymentLockout(3, timedelta(hours=1), timedelta(minutes=10))
    settings = replace(DEFAULT_SETTINGS, payment_lockout=lockout)
    world.run(auth.set_payment_password, user, PIN)
    codes = [_wrong_pin(world, user, settings=settings) for _ in range(3)]
    assert codes[-1] == "payment_locked"
    world.clock.advance(minutes=10)
    world.run(auth.verify_payment_password, user, PIN, settings=settings)


def test_changing_the_payment_password_needs_the_old_one(world: World, user: str) -> None:
    actor = user_actor(user)
    world.run(auth.set_payment_password, user, PIN, actor=actor)
    with pytest.raises(Conflict):
        world.run(auth.set_payment_password, user, "052846", actor=actor)
    with pytest.raises(AuthenticationFailed):
        world.run(auth.change_payment_password, user, "000111", "052846", actor=actor)
    world.run(auth.change_payment_password, user, PIN, "052846", actor=actor)
    world.run(auth.verify_payment_password, user, "052846", actor=actor)
    with pytest.raises(InvalidRequest) as unset:
        world.run(auth.verify_payment_password, "usr_nobody", PIN)
    assert unset.value.code == "payment_password_not_set"


def test_a_hash_made_with_older_costs_is_upgraded_on_use(world: World, user: str) -> None:
    world.run(auth.set_payment_password, user, PIN)
    with passwords.using(passwords.Argon2Params(1, 16, 1)):
        world.run(auth.verify_payment_password, user, PIN)
    with world.db.read() as conn:
        stored = conn.execute(text("SELECT pay_hash FROM auth_credentials")).scalar_one()
    assert "$m=16,t=1,p=1$" in stored


def test_credentials_need_an_existing_account(world: World) -> None:
    with pytest.raises(NotFound):
        world.run(auth.set_login_password, "usr_ghost", PASSWORD)
    with pytest.raises(NotFound):
        world.run(auth.set_payment_password, "usr_ghost", PIN)
    assert world.count("auth_credentials") == 0
