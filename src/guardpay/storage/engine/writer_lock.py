"""Who may write to an SQLite file next: first among this process's threads, then among
the processes that share the file.

SQLite admits one writer at a time, and one that finds the file locked sleeps in the
busy handler (1, 2, 5, ... 100 ms steps) however soon the lock frees. Under concurrent
API requests that sleeping, not the work, set the pace: payments waited 250 ms for a
lock held 2 ms. So writers queue here before `BEGIN IMMEDIATE`: threads on a lock that
wakes the next one at once, processes (several `guardpay serve` workers, a CLI job) on
an advisory `flock` of a file beside the database, polled in steps of at most 2 ms. By
the time a writer begins, the file is free, and SQLite's busy handler is left for
writers that do not use this lock (another tool, say).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: threads still queue, processes don't
    fcntl = None  # type: ignore[assignment]

_FIRST_WAIT, _LONGEST_WAIT = 0.0002, 0.002


class WriterLock:
    def __init__(self, database_file: Path | None) -> None:
        self._threads = threading.Lock()
        self._path = (
            database_file.with_name(database_file.name + ".writer-lock")
            if (database_file is not None and fcntl is not None)
            else None
        )
        self._fd: int | None = None
        self._pid = 0
        self._file_held = False  # kept across a hand-over (`release(keep_file=True)`)
        self._count = threading.Lock()
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Threads of this process queued for the lock now."""
        return self._waiting

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._count:
            self._waiting += 1
        try:
            got = self._threads.acquire(timeout=timeout)
        finally:
            with self._count:
                self._waiting -= 1
        if not got:
            return False
        try:
            if self._holds_file() or self._take_file(deadline):
                return True
        except BaseException:
            self._threads.release()
            raise
        self._threads.release()
        return False

    def try_acquire(self) -> bool:
        """The lock if no thread of this process has it, without waiting; only while
        this process still holds the file (a hand-over nobody took), else False."""
        if not self._threads.acquire(blocking=False):
            return False
        if self._holds_file():
            return True
        self._threads.release()
        return False

    def release(self, *, keep_file: bool = False) -> None:
        """Let the next thread in; `keep_file` hands the lock to this process's next
        writer without letting another process in between (an open group commit)."""
        self._file_held = keep_file and self._path is not None
        if self._path is not None and self._fd is not None and not keep_file:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def _holds_file(self) -> bool:
        return self._path is None or (self._file_held and self._pid == os.getpid())

    def _take_file(self, deadline: float) -> bool:
        fd, wait = self._file(), _FIRST_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(wait)
                wait = min(wait * 2, _LONGEST_WAIT)

    def _file(self) -> int:
        """The lock file, opened once per process (a forked child opens its own)."""
        if self._fd is None or self._pid != os.getpid():
            assert self._path is not None
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd
