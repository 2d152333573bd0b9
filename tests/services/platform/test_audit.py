"""The audit log is a hash chain: any edit, deletion, insertion or reordering is found."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, text
from structlog.testing import capture_logs

from guardpay.security.keys import Keyring
from guardpay.services.platform.audit import verify
from guardpay.services.platform.context import Actor, Context
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only, unit_of_work

T0 = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
ANALYST = Actor("operator", "op_analyst", ip="10.1.2.3")


def write_entries(db: Database, n: int = 5) -> None:
    keyring = Keyring.generate()
    for i in range(n):
        with unit_of_work(db) as uow:
            clock = lambda i=i: T0 + timedelta(seconds=i)  # noqa: E731
            ctx = Context(uow, keyring, ANALYST, clock=clock)
            ctx.audit("pii.revealed", subject=f"usr_{i}", details={"field": "phone", "n": i})


def drop_guards(conn: Connection) -> None:
    """An attacker with database access first removes the append-only triggers."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
    else:
        conn.exec_driver_sql("DROP TRIGGER audit_log_append_only ON audit_log")


def report(db: Database) -> tuple[bool, int | None]:
    with read_only(db) as uow:
        r = verify(uow)
    return r.ok, r.first_bad_seq


def test_an_intact_chain_verifies(db: Database) -> None:
    write_entries(db)
    with read_only(db) as uow:
        r = verify(uow)
    assert (r.ok, r.entries, r.head_seq) == (True, 5, 5)
    assert len(r.head_hash) == 64


def test_the_log_refuses_updates_and_deletes(db: Database) -> None:
    write_entries(db, 1)
    for sql in ("UPDATE audit_log SET outcome = 'denied'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), db.begin() as conn:
            conn.exec_driver_sql(sql)
    assert report(db) == (True, None)


def _edit(conn: Connection) -> None:
    conn.exec_driver_sql("UPDATE audit_log SET outcome = 'denied' WHERE seq = 3")


def _delete_middle(conn: Connection) -> None:
    conn.exec_driver_sql("DELETE FROM audit_log WHERE seq = 2")


def _delete_last(conn: Connection) -> None:
    conn.exec_driver_sql("DELETE FROM audit_log WHERE seq = 5")


def _swap(conn: Connection) -> None:
    """Swap the contents of entries 3 and 4, keeping their seq numbers."""
    cols = "at, actor, ip, action, subject, outcome, details, prev_hash, hash"
    rows = {
        r[0]: r[1:]
        for r in conn.execute(text(f"SELECT seq, {cols} FROM audit_log WHERE seq IN (3, 4)"))
    }
    sets = ", ".join(f"{c.strip()} = :{c.strip()}" for c in cols.split(","))
    for seq, other in ((3, 4), (4, 3)):
        values = dict(zip([c.strip() for c in cols.split(",")], rows[other], strict=True))
        conn.execute(text(f"UPDATE audit_log SET {sets} WHERE seq = :seq"), {**values, "seq": seq})


def _insert(conn: Connection) -> None:
    """Shift entries 4 and 5 up and slip a forged entry in at 4."""
    for seq in (5, 4):
        conn.exec_driver_sql(f"UPDATE audit_log SET seq = seq + 1 WHERE seq = {seq}")
    conn.execute(
        text(
            "INSERT INTO audit_log (seq, at, actor, ip, action, subject, outcome, details, "
            "prev_hash, hash) SELECT 4, at, actor, ip, 'pii.revealed', 'usr_victim', 'ok', "
            "details, hash, hash FROM audit_log WHERE seq = 3"
        )
    )


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [(_edit, 3), (_delete_middle, 2), (_delete_last, 5), (_swap, 3), (_insert, 4)],
    ids=["edit", "delete", "truncate", "swap", "insert"],
)
def test_tampering_is_found_at_the_first_bad_entry(
    db: Database, tamper: Callable[[Connection], None], first_bad: int
) -> None:
    write_entries(db)
    with db.begin() as conn:
        drop_guards(conn)
        tamper(conn)
    assert report(db) == (False, first_bad)


def test_audit_details_never_hold_full_numbers_or_secrets(db: Database) -> None:
    with unit_of_work(db) as uow:
        ctx = Context(uow, Keyring.generate(), ANALYST, clock=lambda: T0)
        ctx.audit(
            "card.bound",
            subject="usr_1",
            details={"note": "card 6222021234567890123 for +8613800138000", "password": "hunter22"},
        )
    with read_only(db) as uow:
        (entry,) = uow.audit.for_subject("usr_1")
    assert "6222021234567890123" not in entry.details
    assert "13800138000" not in entry.details
    assert "hunter22" not in entry.details
    assert "622************0123" in entry.details
    assert report(db) == (True, None)


def test_audit_details_never_hold_grouped_card_or_id_numbers(db: Database) -> None:
    """An operator's free-text note writes numbers as people do: in groups."""
    note = "card 6222 0212 3456 7890 123, ID 310104-19900307-123X, at 2026-11-22 02:53:59"
    with unit_of_work(db) as uow:
        ctx = Context(uow, Keyring.generate(), ANALYST, clock=lambda: T0)
        ctx.audit("risk.list_added", subject="rl_1", details={"reason": note})
    with read_only(db) as uow:
        (entry,) = uow.audit.for_subject("rl_1")
    digits = "".join(c for c in entry.details if c.isdigit())
    assert "6222021234567890123" not in digits
    assert "31010419900307123" not in digits
    assert "card 622* **** **** ***0 123, ID 310***-*******7-123X" in entry.details
    assert "at 2026-11-22 02:53:59" in entry.details
    assert report(db) == (True, None)


def test_an_action_is_logged_only_once_it_has_committed(db: Database) -> None:
    keyring = Keyring.generate()

    def failing_use_case() -> None:
        with unit_of_work(db) as uow:
            Context(uow, keyring, ANALYST).audit("card.bound", subject="usr_rolled_back")
            raise RuntimeError("the rest of the use case failed")

    with capture_logs() as logs:
        with pytest.raises(RuntimeError):
            failing_use_case()
        assert [entry["event"] for entry in logs] == []
        with unit_of_work(db) as uow:
            Context(uow, keyring, ANALYST).audit("card.bound", subject="usr_kept")
    assert [(e["event"], e["subject"]) for e in logs] == [("card.bound", "usr_kept")]
    with read_only(db) as uow:
        assert uow.audit.for_subject("usr_rolled_back") == []


def _head(db: Database) -> tuple[int, str]:
    with read_only(db) as uow:
        return uow.audit.head()


def test_a_unit_moves_the_head_once_and_a_rolled_back_savepoint_takes_its_entries_back(
    db: Database,
) -> None:
    """Entries chain in memory inside a unit of work; the head row is written once, as
    the unit commits. A savepoint rolled back takes its entries and puts the chain's end
    back where it was, so the next entry follows the last one that stays."""
    keyring = Keyring.generate()
    heads: list[int] = []
    with unit_of_work(db) as uow:
        ctx = Context(uow, keyring, ANALYST, clock=lambda: T0)
        ctx.audit("case.opened", subject="case_1", details={})
        point = uow.savepoint()
        ctx.audit("case.assigned", subject="case_1", details={})
        point.rollback()
        ctx.audit("case.closed", subject="case_1", details={})
        heads.append(uow.audit.head()[0])  # not yet written: still the unit's start
    assert heads == [0]
    with read_only(db) as uow:
        r = verify(uow)
        actions = [e.action for e in uow.audit.entries()]
    assert (r.ok, r.entries, r.head_seq) == (True, 2, 2)
    assert actions == ["case.opened", "case.closed"]
    assert _head(db) == (2, r.head_hash)


def test_a_unit_that_fails_writes_no_entry_and_leaves_the_head(db: Database) -> None:
    write_entries(db, 2)
    before = _head(db)

    def failing_action() -> None:
        with unit_of_work(db) as uow:
            ctx = Context(uow, Keyring.generate(), ANALYST, clock=lambda: T0)
            ctx.audit("pii.revealed", subject="usr_9", details={})
            raise LookupError("the action failed")

    with pytest.raises(LookupError):
        failing_action()
    assert _head(db) == before
    write_entries(db, 1)
    assert report(db) == (True, None)
    assert _head(db)[0] == 3
