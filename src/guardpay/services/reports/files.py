"""A report's files, rendered from its stored content: the JSON exactly as stored (sorted
keys, compact), and a CSV of its rows, UTF-8, a header first. The same content always
renders the same bytes, so the SHA-256 recorded when it was filed identifies the files
a regulator received."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any


def canonical(content: dict[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_bytes(stored: str) -> bytes:
    return stored.encode()


def csv_bytes(stored: str) -> bytes:
    """The `rows` of the content, one CSV line each, columns as `columns` names them."""
    content = json.loads(stored)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = content["columns"]
    writer.writerow(columns)
    for row in content["rows"]:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue().encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)
