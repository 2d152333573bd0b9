"""Sessions: hashed tokens, expiry (idle and absolute), listing, revocation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text

from guardpay.domain.auth.settings import DEFAULT_SETTINGS, SessionPolicy
from guardpay.errors import AuthenticationFailed, NotFound, PermissionDenied
from guardpay.security.tokens import token_hash
from guardpay.services.auth import facade as auth
from guardpay.services.auth.operators import create_operator
from guardpay.services.identity.users import register_user
from guardpay.services.platform.context import Actor
from tests.security.auth_fixtures import (
    PASSWORD,
    World,
    cheap_hashing_fixture,  # noqa: F401 (a pytest fixture)
    user_actor,
    user_fixture,  # noqa: F401 (a pytest fixture)
    world_fixture,  # noqa: F401 (a pytest fixture)
)


def _session(world: World, user: str, ip: str = "10.0.0.1") -> auth.IssuedSession:
    return world.run(
        auth.issue_session, "user", user, device_id="dev_x", actor=user_actor(user, ip=ip)
    )


def test_only_the_token_hash_is_stored(world: World, user: str) -> None:
    issued = _session(world, user)
    assert len(issued.token) >= 43
    assert issued.token not in repr(issued)
    with world.db.read() as conn:
        rows = [tuple(r) for r in conn.execute(text("SELECT * FROM auth_sessions"))]
    assert issued.token not in str(rows)
    assert token_hash(issued.token) in str(rows)


def test_authenticate_returns_the_session(world: World, user: str) -> None:
    issued = _session(world, user)
    session = world.run(auth.authenticate, issued.token)
    assert (session.id, session.subject_id, session.device_id, session.ip) == (
        issued.session.id,
        user,
        "dev_x",
        "10.0.0.1",
    )
    with pytest.raises(AuthenticationFailed) as bad:
        world.run(auth.authenticate, issued.token[:-2] + "xx")
    assert bad.value.code == "session_invalid"
    assert issued.token not in bad.value.message


def test_sessions_expire_when_idle_and_absolutely(world: World, user: str) -> None:
    settings = replace(
        DEFAULT_SETTINGS,
        sessions=SessionPolicy(idle_timeout=timedelta(days=1), absolute_timeout=timedelta(days=3)),
    )
    daily = world.run(auth.issue_session, "user", user, settings=settings)
    idle = world.run(auth.issue_session, "user", user, settings=settings)
    for _ in range(3):  # used every 23 hours: alive until the absolute end
        world.clock.advance(hours=23)
        world.run(auth.authenticate, daily.token, settings=settings)
    with pytest.raises(AuthenticationFailed) as unused:  # idle for more than a day
        world.run(auth.authenticate, idle.token, settings=settings)
    assert unused.value.code == "session_expired"
    world.clock.advance(hours=3)  # 72 hours after it began
    with pytest.raises(AuthenticationFailed) as late:
        world.run(auth.authenticate, daily.token, settings=settings)
    assert late.value.code == "session_expired"


def test_the_default_lifetime_is_thirty_days(world: World, user: str) -> None:
    issued = _session(world, user)
    assert issued.session.expires_at - issued.session.created_at == timedelta(days=30)
    world.clock.advance(days=29, hours=23)
    world.run(auth.authenticate, issued.token)
    world.clock.advance(hours=1)
    with pytest.raises(AuthenticationFailed):
        world.run(auth.authenticate, issued.token)


def test_list_and_revoke(world: World, user: str) -> None:
    me = user_actor(user)
    phone, tablet, laptop = (
        _session(world, user, ip) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3")
    )
    world.clock.advance(minutes=5)
    world.run(auth.authenticate, tablet.token)
    listed = world.run(auth.list_sessions, user, actor=me)
    assert listed[0].id == tablet.session.id  # most recently seen first
    assert {s.ip for s in listed} == {"10.0.0.1", "10.0.0.2", "10.0.0.3"}
    world.run(auth.revoke_session, user, laptop.session.id, actor=me)
    with pytest.raises(AuthenticationFailed) as revoked:
        world.run(auth.authenticate, laptop.token)
    assert revoked.value.code == "session_revoked"
    world.run(auth.revoke_session, user, laptop.session.id, actor=me)  # again: no change
    ended = world.run(auth.revoke_other_sessions, user, phone.session.id, actor=me)
    assert ended == [tablet.session.id]
    assert [s.id for s in world.run(auth.list_sessions, user, actor=me)] == [phone.session.id]
    reasons = [e.details for e in world.audit("auth.session_revoked")]
    assert len(reasons) == 2
    assert all(phone.token not in r and tablet.token not in r for r in reasons)


def test_nobody_else_manages_a_users_sessions(world: World, user: str) -> None:
    issued = _session(world, user)
    stranger = user_actor("usr_stranger")
    with pytest.raises(PermissionDenied):
        world.run(auth.list_sessions, user, actor=stranger)
    with pytest.raises(PermissionDenied):
        world.run(auth.revoke_session, user, issued.session.id, actor=stranger)
    other = world.run(register_user, "+8613900001111").id
    with pytest.raises(NotFound):
        world.run(auth.revoke_session, other, issued.session.id, actor=user_actor(other))
    world.run(auth.authenticate, issued.token)


def test_a_supervisor_may_end_a_users_sessions(world: World, user: str) -> None:
    issued = _session(world, user)
    viewer = world.run(create_operator, "vera", "viewer", "Console-pass-7")
    boss = world.run(create_operator, "sam", "supervisor", "Console-pass-7")
    with pytest.raises(PermissionDenied) as denied:
        world.run(auth.list_sessions, user, actor=Actor("operator", viewer.id))
    assert denied.value.code == "insufficient_role"
    listed = world.run(auth.list_sessions, user, actor=Actor("operator", boss.id))
    assert [s.id for s in listed] == [issued.session.id]
    world.run(auth.revoke_session, user, issued.session.id, actor=Actor("operator", boss.id))
    with pytest.raises(AuthenticationFailed):
        world.run(auth.authenticate, issued.token)


def test_a_password_change_ends_the_other_sessions(world: World, user: str) -> None:
    keep, lose = _session(world, user), _session(world, user)
    world.run(
        auth.change_login_password,
        user,
        PASSWORD,
        "Brand-new-pass-1",
        current_session_id=keep.session.id,
        actor=user_actor(user),
    )
    world.run(auth.authenticate, keep.token)
    with pytest.raises(AuthenticationFailed) as ended:
        world.run(auth.authenticate, lose.token)
    assert ended.value.code == "session_revoked"


def test_last_seen_is_written_at_most_once_a_minute(world: World, user: str) -> None:
    issued = _session(world, user)
    world.clock.advance(seconds=30)
    assert world.run(auth.authenticate, issued.token).last_seen_at == issued.session.created_at
    world.clock.advance(seconds=30)
    assert world.run(auth.authenticate, issued.token).last_seen_at == world.clock()
    with world.ctx() as ctx:
        stored = ctx.uow.auth.session(issued.session.id)
    assert stored is not None
    assert stored.last_seen_at == world.clock()
