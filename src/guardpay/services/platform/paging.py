"""Keyset pages of one person's rows, newest first: the cursor is the id of the last row
shown, so a page never shifts when new rows arrive ahead of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from guardpay.errors import InvalidRequest


class Row(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=Row)


def keyset_page(
    find: Callable[[str], R | None],
    mine: Callable[[R], bool],
    fetch: Callable[[R | None, int], list[R]],
    cursor: str | None,
    limit: int,
) -> tuple[list[R], str | None]:
    """`fetch(after, n)` reads up to n rows after the cursor's row; a cursor naming no row
    of this person's (`find` and `mine`) is 400 `invalid_cursor`. Returns the page and
    the next cursor, or None on the last page."""
    after = None
    if cursor is not None:
        after = find(cursor)
        if after is None or not mine(after):
            raise InvalidRequest("unknown cursor", code="invalid_cursor", param="cursor")
    rows = fetch(after, limit + 1)
    more = len(rows) > limit
    return rows[:limit], rows[limit - 1].id if more else None
