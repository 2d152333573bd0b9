"""Where archived records go: the `ArchiveStore` port, a directory (on a disk, or a
mounted bucket), and an in-process fake for tests.

An archive must outlive the database it came from, so a store writes a file whole or not
at all: a directory store writes beside the name, flushes it to disk, renames it into
place and flushes the directory, so a crash leaves the old file or the new one, never a
torn one. Files are never changed once written: writing the same name again must carry
the same bytes (a rerun of an archive whose database commit failed).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol

#: an archive's name: a plain file name, nothing that could climb out of the store
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,199}$")


class ArchiveMissing(LookupError):
    """The store holds no archive of that name."""


class ArchiveStore(Protocol):
    def put(self, name: str, data: bytes) -> None:
        """Keep `data` as `name`, durably, before returning."""

    def get(self, name: str) -> bytes:
        """What was kept as `name`; `ArchiveMissing` if nothing was."""


def checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not an archive name: {name!r}")
    return name


class DirectoryStore:
    """Archives as files in one directory (made if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def put(self, name: str, data: bytes) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        final = self.path / checked_name(name)
        partial = self.path / f".{name}.partial"
        with partial.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, final)
        folder = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def get(self, name: str) -> bytes:
        try:
            return (self.path / checked_name(name)).read_bytes()
        except FileNotFoundError:
            raise ArchiveMissing(name) from None


class MemoryStore:
    """The fake: archives in a dict, which a test may read, damage or empty."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, name: str, data: bytes) -> None:
        self.files[checked_name(name)] = data

    def get(self, name: str) -> bytes:
        try:
            return self.files[name]
        except KeyError:
            raise ArchiveMissing(name) from None
