"""Group commit on SQLite: the write transactions of one process that queue for the
write lock share one SQLite transaction and one commit.

Why: with `synchronous=FULL`, every commit writes its pages to the WAL and waits for an
fsync: about 0.7 ms of CPU and 1.2 ms of wall time of an API payment, all of it under the
write lock (measured). Writes are one at a time anyway (`WriterLock`), so a writer that
finishes while another of this process is already queued releases its work into the
open transaction (its savepoint) and hands the lock over instead of committing; the last
in line commits for the whole group, at most `MAX_GROUP` units.

What a unit of work may rely on is unchanged: its block ends only once its work is
committed (each waits for its group's commit), so no answer is ever sent for work that
might still roll back, and after-commit effects run after a real commit. A unit that
fails rolls back to its own savepoint and leaves the others' work alone. A commit that
fails fails every unit of its group: each raises `StorageError`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, NestedTransaction, RootTransaction

from guardpay.errors import StorageError
from guardpay.storage.engine.writer_lock import WriterLock

MAX_GROUP = 16
#: how often a unit waiting for its group's commit looks whether it was left to commit it
#: (the lock handed to a writer that stopped waiting): a rare case, so a coarse poll
_RESCUE_SECONDS = 0.005
_KEEP_FAILURES = 10_000  # groups a failure is remembered for (its units read it)


class GroupCommit:
    def __init__(self, lock: WriterLock, connection: Callable[[], Connection]) -> None:
        self._lock, self._connection = lock, connection
        self._done = threading.Condition()
        self._open: RootTransaction | None = None  # the group's transaction, if one is open
        self._generation = 0  # the open group's number (or the last one's)
        self._members = 0  # units released into the open group
        self._settled = 0  # groups up to this number are committed or failed
        self._failed: dict[int, str] = {}  # a failed group's number: why
        self._pid = os.getpid()

    @contextmanager
    def unit(self, timeout: float) -> Iterator[Connection]:
        """A write transaction: a savepoint in the open group (one is begun if none is),
        committed with its group before the block ends."""
        if not self._lock.acquire(timeout=timeout):
            raise StorageError("timed out waiting for the database's write lock")
        nested: NestedTransaction | None = None
        try:
            conn, generation = self._join()
            nested = conn.begin_nested()
            yield conn
            nested.commit()
            self._members += 1
        except BaseException:
            _roll_back_to(nested)
            raise
        finally:
            self._leave()
        self._wait(generation)

    def flush(self, timeout: float, then: Callable[[], None] = lambda: None) -> bool:
        """Commit the open group now and run `then`, both under the lock; False if the
        lock could not be had in time."""
        if not self._lock.acquire(timeout=timeout):
            return False
        try:
            self._settle()
            then()
        finally:
            self._lock.release()
        return True

    def _join(self) -> tuple[Connection, int]:
        if self._pid != os.getpid():  # a forked child: the parent's group is not its own
            self._open, self._members, self._pid = None, 0, os.getpid()
        if self._open is not None and self._open.is_active:
            return self._open.connection, self._generation
        if self._open is not None:  # its connection died mid-group: its units fail
            self._settle()
        conn = self._connection()
        self._open = conn.begin()
        self._generation += 1
        self._members = 0
        return conn, self._generation

    def _leave(self) -> None:
        """Hand the lock, with the group open, to the next writer of this process if
        one waits and the group has room; else commit the group and let go."""
        alive = self._open is not None and self._open.is_active
        if alive and self._members and self._members < MAX_GROUP and self._lock.waiting:
            self._lock.release(keep_file=True)
            return
        self._leave_committing()

    def _settle(self) -> None:
        """Commit the open group (roll back an empty one) and tell its units."""
        opened, generation, self._open = self._open, self._generation, None
        failure = None
        try:
            if opened is not None and opened.is_active:
                opened.commit() if self._members else opened.rollback()
            elif opened is not None and self._members:
                failure = "the database could not commit: its connection was lost"
        except Exception as exc:
            failure = f"the database could not commit: {type(exc).__name__}"
            _discard(opened)
        finally:
            self._members = 0
            with self._done:
                if failure is not None:
                    self._failed[generation] = failure
                    for old in [g for g in self._failed if g < generation - _KEEP_FAILURES]:
                        del self._failed[old]
                self._settled = generation
                self._done.notify_all()

    def _wait(self, generation: int) -> None:
        with self._done:
            while self._settled < generation:
                self._done.wait(_RESCUE_SECONDS)
                if self._settled < generation and self._abandoned():
                    self._rescue(generation)
            failure = self._failed.get(generation)
        if failure is not None:
            raise StorageError(failure)

    def _abandoned(self) -> bool:
        """Whether the lock is free with nobody queued for it: then this unit takes it
        (to commit its group). A writer that is queued, or was just handed the lock, is
        counted as waiting until it holds it, so a hand-over in progress is never cut."""
        return not self._lock.waiting and self._lock.try_acquire()

    def _rescue(self, generation: int) -> None:
        """The lock was free with this unit's group still open (handed to a writer that
        stopped waiting): commit it here."""
        if self._generation == generation and self._open is not None:
            self._leave_committing()
        else:
            self._lock.release(keep_file=self._open is not None)

    def _leave_committing(self) -> None:
        try:
            self._settle()
        finally:
            self._lock.release()


def _quietly_roll_back(transaction: RootTransaction | None) -> None:
    if transaction is None or not transaction.is_active:
        return
    try:
        transaction.rollback()
    except Exception:  # the connection is gone: nothing of the group is left to undo
        return


def _roll_back_to(nested: NestedTransaction | None) -> None:
    """Undo a failed unit: back to its savepoint, after any savepoint of its own it left
    open inside (its code raised within one). Should the connection itself be gone, the
    group's commit fails and tells every unit."""
    if nested is None or not nested.is_active:
        return
    conn = nested.connection
    try:
        while (inner := conn.get_nested_transaction()) is not None and inner is not nested:
            inner.rollback()
        nested.rollback()
    except Exception:
        return


def _discard(transaction: RootTransaction | None) -> None:
    """After a failed commit: undo what can be undone and drop the connection (closing
    it rolls back whatever SQLite still holds open), so the next writer starts clean."""
    _quietly_roll_back(transaction)
    if transaction is not None:
        try:
            transaction.connection.invalidate()
        except Exception:  # already unusable: the next writer opens a new one anyway
            return
