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

The fsync, pipelined (`sync_after`): the write connection commits with
`synchronous=NORMAL` (the WAL's frames written, not yet synced) and releases the lock at
once; a syncer thread then fsyncs the WAL file, and a unit's block ends only when its
group is durable, as with `synchronous=FULL`. What changes is that the next group
writes while the previous one's fsync runs, and a unit given `durable` (the payment
batcher, api/batching.py) ends at its commit and is told when its group is durable, so
its thread computes the next batch meanwhile instead of waiting for the disk. An fsync
covers every frame written before it, so one fsync settles every group committed by
then; a frame lost in a crash before its fsync belongs to a group no one was told of,
and SQLite's recovery stops at the first frame whose checksum fails, so it drops the
groups after it too. Another process may read a group a few milliseconds before it is
durable (as a PostgreSQL reader with `synchronous_commit=off` would); no answer for it
has been sent by then.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog
from sqlalchemy import Connection, NestedTransaction, RootTransaction

from guardpay.errors import StorageError
from guardpay.storage.engine.writer_lock import WriterLock

MAX_GROUP = 16
#: how often a unit waiting for its group's commit looks whether it was left to commit it
#: (the lock handed to a writer that stopped waiting): a rare case, so a coarse poll
_RESCUE_SECONDS = 0.005
_KEEP_FAILURES = 10_000  # groups a failure is remembered for (its units read it)
log = structlog.get_logger("guardpay.storage")

#: told, once a group is durable, None, or why it failed to become so
Durable = Callable[[str | None], None]


class GroupCommit:
    def __init__(
        self, lock: WriterLock, connection: Callable[[], Connection], wal: Path | None = None
    ) -> None:
        self._lock, self._connection = lock, connection
        #: the WAL file to fsync after a commit, when the connection commits without
        #: (`sync_after`, set by whoever opens the write connection)
        self.wal, self.sync_after = wal, False
        self._done = threading.Condition()
        self._open: RootTransaction | None = None  # the group's transaction, if one is open
        self._generation = 0  # the open group's number (or the last one's)
        self._members = 0  # units released into the open group
        self._committed = 0  # groups up to this number are committed or failed
        self._settled = 0  # ... and durable (synced)
        self._failed: dict[int, str] = {}  # a group that failed to commit: why
        self._unsynced: dict[int, str] = {}  # one committed but not synced: why
        self._told: dict[int, list[Durable]] = {}  # a group's units to tell once durable
        self._syncer: threading.Thread | None = None
        self._pid = os.getpid()

    @contextmanager
    def unit(self, timeout: float, durable: Durable | None = None) -> Iterator[Connection]:
        """A write transaction: a savepoint in the open group (one is begun if none is),
        committed with its group before the block ends, and durable by then; or, given
        `durable`, the block ends at the commit and `durable` is told later."""
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
        self._wait(generation, durable is None)
        if durable is not None:
            self._tell(generation, durable)

    def flush(self, timeout: float, then: Callable[[], None] = lambda: None) -> bool:
        """Commit the open group now and run `then`, both under the lock, once every
        commit is durable; False if the lock could not be had in time."""
        if not self._lock.acquire(timeout=timeout):
            return False
        try:
            generation = self._settle()
            self._wait(generation, True, rescue=False)
            then()
        except StorageError:
            then()  # a failed group was told so; what remains is to close
        finally:
            self._lock.release()
        return True

    def _join(self) -> tuple[Connection, int]:
        if self._pid != os.getpid():  # a forked child: the parent's group is not its own
            self._open, self._members, self._pid = None, 0, os.getpid()
            self._syncer = None  # nor its threads
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

    def _settle(self) -> int:
        """Commit the open group (roll back an empty one) and tell its units, or hand it
        to the syncer; its number."""
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
                    _forget_before(self._failed, generation - _KEEP_FAILURES)
                self._committed = generation
                told = []
                if self.sync_after:
                    self._syncing()
                else:
                    told = self._durable(generation)
                self._done.notify_all()
            for durable, why in told:
                _quietly(durable, why)
        return generation

    def _wait(self, generation: int, durable: bool, rescue: bool = True) -> None:
        """Until the group is committed (and `durable`, synced); raises if it failed."""
        with self._done:
            while (self._settled if durable else self._committed) < generation:
                self._done.wait(_RESCUE_SECONDS)
                if rescue and self._committed < generation and self._abandoned():
                    self._rescue(generation)
            failure = self._failure(generation, durable)
        if failure is not None:
            raise StorageError(failure)

    def _failure(self, generation: int, durable: bool = True) -> str | None:
        """Why the group failed to commit (or, `durable`, to be synced), if it did."""
        failed = self._failed.get(generation)
        return failed if failed is not None or not durable else self._unsynced.get(generation)

    def _tell(self, generation: int, durable: Durable) -> None:
        with self._done:
            if self._settled < generation:
                self._told.setdefault(generation, []).append(durable)
                return
            failure = self._failure(generation)
        durable(failure)

    def _durable(self, upto: int, failure: str | None = None) -> list[tuple[Durable, str | None]]:
        """Groups up to `upto` durable (or failed, with `failure`); whom to tell (under
        `_done`)."""
        if failure is not None:
            for generation in range(self._settled + 1, upto + 1):
                self._unsynced[generation] = failure
            _forget_before(self._unsynced, upto - _KEEP_FAILURES)
        told = []
        for generation in sorted(g for g in self._told if g <= upto):
            told += [(d, self._failure(generation)) for d in self._told.pop(generation)]
        self._settled = max(self._settled, upto)
        return told

    def _syncing(self) -> None:
        """Wake the syncer, starting it if this process has none (under `_done`)."""
        if self._syncer is None or not self._syncer.is_alive():
            self._syncer = threading.Thread(target=self._sync, name="wal-sync", daemon=True)
            self._syncer.start()

    def _sync(self) -> None:
        """The syncer: fsync the WAL whenever a group committed since the last fsync,
        then tell that every group up to it is durable."""
        while True:
            with self._done:
                while self._settled >= self._committed:
                    self._done.wait()
                upto = self._committed
            failure = _fsync(self.wal)
            with self._done:
                told = self._durable(upto, failure)
                self._done.notify_all()
            for durable, why in told:
                _quietly(durable, why)

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


def _forget_before(failures: dict[int, str], generation: int) -> None:
    for old in [g for g in failures if g < generation]:
        del failures[old]


def _fsync(wal: Path | None) -> str | None:
    """Sync the WAL file's written frames to disk; None, or why it failed. A WAL file
    that is gone was checkpointed and removed by SQLite, which synced it first."""
    if wal is None:
        return None
    try:
        fd = os.open(wal, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"the database could not be synced to disk: {exc.strerror}"
    try:
        os.fsync(fd)
    except OSError as exc:
        log.critical("wal_fsync_failed", error=exc.strerror)
        return f"the database could not be synced to disk: {exc.strerror}"
    finally:
        os.close(fd)
    return None


def _quietly(durable: Durable, failure: str | None) -> None:
    try:
        durable(failure)
    except Exception as exc:  # a listener's failure is its own; the syncer goes on
        log.error("durable_listener_failed", error=type(exc).__name__)


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
