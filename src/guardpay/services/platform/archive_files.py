"""The archive file format: gzip-compressed JSON lines, a header line first.

A file says what it holds without the database that wrote it: its header names the
format, the kind of records and their range, so a file pulled from cold storage years
later can be read, and for the audit log re-verified, on its own. The gzip header carries
no time, so the same records always make the same bytes (and the same SHA-256): a rerun
after a failed commit rewrites a file identical to the one it replaces.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FORMAT = "guardpay-archive/1"


class ArchiveUnreadable(ValueError):
    """Not an archive of the expected kind, or damaged."""


@dataclass(frozen=True)
class Packed:
    data: bytes
    sha256: str
    records: int


def _line(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def pack(kind: str, header: Mapping[str, Any], records: Iterable[Mapping[str, Any]]) -> Packed:
    """The file's bytes: the header, then one line per record, compressed."""
    out = io.BytesIO()
    count = 0
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as z:
        z.write(_line({"format": FORMAT, "kind": kind, **header}) + b"\n")
        for record in records:
            z.write(_line(record) + b"\n")
            count += 1
    data = out.getvalue()
    return Packed(data, hashlib.sha256(data).hexdigest(), count)


def unpack(kind: str, data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the records of a file of `kind`; `ArchiveUnreadable` if it is not
    one (damaged, cut short, another kind)."""
    try:
        lines = gzip.decompress(data).decode().splitlines()
        header, *records = (json.loads(line) for line in lines)
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise ArchiveUnreadable(f"not a readable archive ({type(exc).__name__})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ArchiveUnreadable(f"not a {FORMAT} file")
    if header.get("kind") != kind:
        raise ArchiveUnreadable(f"an archive of {header.get('kind')!r}, not of {kind!r}")
    if not all(isinstance(r, dict) for r in records):
        raise ArchiveUnreadable("a record is not a JSON object")
    return header, records


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
