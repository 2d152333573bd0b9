"""The per-transaction row memo on both backends: a row is read once per transaction, a
write through the repository is seen at once, a rolled-back savepoint takes its writes
with it, and nothing is remembered from one transaction to the next."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from guardpay.security.keys import Keyring
from guardpay.security.tokens import token_hash
from guardpay.services.auth import facade as auth
from guardpay.services.identity import facade as identity
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import UnitOfWork, unit_of_work

AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
def user_id(db: Database) -> str:
    with unit_of_work(db) as uow:
        return identity.register_user(Context(uow, Keyring.generate(), SYSTEM), "13812345678").id


def reads_of(uow: UnitOfWork, table: str) -> list[str]:
    """The statements the unit of work sends from here on that read `table`."""
    seen: list[str] = []
    event.listen(
        uow.conn,
        "before_cursor_execute",
        lambda *a: seen.append(a[2]) if f"FROM {table}" in a[2] else None,
    )
    return seen


def account_class(uow: UnitOfWork, user_id: str) -> str:
    found = uow.identity.user(user_id)
    assert found is not None
    return found.account_class


def test_a_row_is_read_once_and_a_write_is_seen_at_once(db: Database, user_id: str) -> None:
    with unit_of_work(db) as uow:
        selects = reads_of(uow, "users")
        assert [account_class(uow, user_id) for _ in range(3)] == ["unverified"] * 3
        assert len(selects) == 1
        uow.identity.set_verified(user_id, "II", None, AT)
        assert account_class(uow, user_id) == "II"
        assert len(selects) == 2


def test_a_rolled_back_savepoint_takes_its_writes_out_of_the_memo(
    db: Database, user_id: str
) -> None:
    with unit_of_work(db) as uow:
        assert account_class(uow, user_id) == "unverified"
        savepoint = uow.conn.begin_nested()
        uow.identity.set_verified(user_id, "III", None, AT)
        assert account_class(uow, user_id) == "III"  # remembered inside the savepoint
        savepoint.rollback()
        assert account_class(uow, user_id) == "unverified"


def test_nothing_is_remembered_between_transactions(db: Database, user_id: str) -> None:
    with unit_of_work(db) as first:
        assert account_class(first, user_id) == "unverified"
    with unit_of_work(db) as second:
        second.identity.set_verified(user_id, "II", None, AT)
    with unit_of_work(db) as third:
        assert account_class(third, user_id) == "II"


def test_touching_one_session_forgets_that_session_alone(db: Database) -> None:
    """A batch reads its sessions ahead; the payer whose session is touched (its first
    request in a minute) must not make every other payment of the batch read its own
    session again."""
    with unit_of_work(db) as uow:
        ctx = Context(uow, Keyring.generate(), SYSTEM)
        users = [identity.register_user(ctx, f"1381234560{i}").id for i in range(3)]
        tokens = [auth.issue_session(ctx, "user", u).token for u in users]
    hashes = [token_hash(t) for t in tokens]
    with unit_of_work(db) as uow:
        reads = reads_of(uow, "auth_sessions")
        ahead = uow.auth.read_sessions_ahead(hashes)
        assert len(reads) == 1
        touched = ahead[hashes[0]]
        uow.auth.touch_session(touched.id, AT)
        others = [uow.auth.session_by_token_hash(h) for h in hashes[1:]]
        assert [s.id for s in others if s is not None] == [ahead[h].id for h in hashes[1:]]
        assert len(reads) == 1  # the others still remembered
        again = uow.auth.session_by_token_hash(hashes[0])
        assert again is not None
        assert again.last_seen_at == AT  # the touched one read anew
        assert len(reads) == 2
