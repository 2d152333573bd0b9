"""Public identifiers of the platform's records (users, merchants, payments, decisions):
a prefix naming the kind and 80 random bits, unguessable so ids never enumerate.

Records written with every payment (payments, risk decisions, webhook events) take a
*timed* id instead: the same 80 random bits after 48 bits of the time it was made, so
ids sort by time. A table's primary key then grows at its right edge, in the pages
just written, instead of landing anywhere in a B-tree that outgrows the page cache as
the books grow (issue 20). The time is no secret: those records carry it anyway.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta

#: Crockford's base32, lowercase: its order is the characters' order, so the ids of
#: `timed_id` sort as the numbers they spell
_SORTED = "0123456789abcdefghjkmnpqrstvwxyz"
_TO_SORTED = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _SORTED)
_TIME_BITS, _RANDOM_BITS = 48, 80
_EPOCH, _MILLISECOND = datetime(1970, 1, 1, tzinfo=UTC), timedelta(milliseconds=1)
#: characters of a timed id after its prefix: 128 bits, five to a character
TIMED_LENGTH = 26


def new_id(prefix: str) -> str:
    """ "usr_" + 16 lowercase base32 characters (80 random bits)."""
    return f"{prefix}_{base64.b32encode(secrets.token_bytes(10)).decode().lower()}"


def timed_id(prefix: str, at: datetime) -> str:
    """ "pay_" + 26 characters: `at` in milliseconds since 1970 (48 bits, good until
    the year 10889), then 80 random bits. Ids made later sort after; ids made in the
    same millisecond in any order."""
    millis = (at - _EPOCH) // _MILLISECOND  # integers: a float would round the far future
    if not 0 <= millis < 1 << _TIME_BITS:
        raise ValueError("a timed id's time lies between 1970 and the year 10889")
    number = millis << _RANDOM_BITS | secrets.randbits(_RANDOM_BITS)
    # Base32 in C: the number's 130 bits (26 characters, the top two bits zero) placed at
    # the top of 17 bytes; the standard alphabet maps in value order onto Crockford's,
    # so the text sorts as the number does
    spelled = base64.b32encode((number << 6).to_bytes(17, "big")).decode()
    standard = spelled[:TIMED_LENGTH]
    return f"{prefix}_{standard.translate(_TO_SORTED)}"
