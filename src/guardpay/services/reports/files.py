"""A report's files, rendered from its stored content and the identities it names: the
JSON (sorted keys, compact) with an `identities` object beside the content, and a CSV
of its rows, UTF-8, a header first, each row followed by the identity columns of the
customers it names (the content's `identity_columns`: row field -> column prefix). The
same content and identities always render the same bytes, so the SHA-256 recorded when
it was filed identifies the files a regulator received. A report made before identities
were kept (no `identity_columns`) renders exactly as it did."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: what each named customer's identity holds, in its columns' order
IDENTITY = ("name", "document_type", "document_country", "document_number", "phone")


def canonical(content: dict[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Files:
    csv: bytes
    json: bytes


def render(stored: str, identities: Mapping[str, Mapping[str, str | None]]) -> Files:
    content = json.loads(stored)
    named = content.get("identity_columns")
    if named is None:
        return Files(_csv(content, {}, {}), stored.encode())
    with_ids = content | {"identities": {c: dict(identities[c]) for c in sorted(identities)}}
    return Files(_csv(content, named, identities), canonical(with_ids).encode())


def _csv(
    content: dict[str, Any],
    named: Mapping[str, str],
    identities: Mapping[str, Mapping[str, str | None]],
) -> bytes:
    """The `rows` of the content, one CSV line each, columns as `columns` names them,
    then `<prefix>_<field>` of the identity of each customer a row names."""
    columns = content["columns"]
    extra = [(f, f"{prefix}_{part}", part) for f, prefix in named.items() for part in IDENTITY]
    lines = []
    for row in content["rows"]:
        cells = [_cell(row.get(c)) for c in columns]
        for field, _, part in extra:
            cells.append(_inert(_cell(identities.get(str(row.get(field)), {}).get(part))))
        lines.append(cells)
    return _written([*columns, *(name for _, name, _ in extra)], lines)


def _written(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def table_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """Plain rows as CSV, every text cell inert in a spreadsheet (text from outside, such
    as a bank statement's references, included); numbers stay numbers."""
    return _written(
        header, ([v if isinstance(v, int) else _inert(_cell(v)) for v in row] for row in rows)
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _inert(text: str) -> str:
    """A name as text in a spreadsheet: one that begins like a formula (a merchant that
    registered as `=HYPERLINK(...)`) gets a leading apostrophe, so opening the file
    never runs it (OWASP CSV injection)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)
