"""Mainland China mobile numbers, normalised to E.164 (+86 and 11 digits).

Accepted spellings: "13800138000", "138 0013 8000", "138-0013-8000", "+86 13800138000",
"8613800138000", "008613800138000", full-width digits. A mobile number is 11 digits,
1 then 3-9 (the second digit of every allocated mobile range, MIIT numbering plan).
One canonical form matters: the blind index that keeps a phone on one account is
computed from it, so two spellings of one number must not register twice.
"""

from __future__ import annotations

import re
import unicodedata

from guardpay.errors import InvalidRequest

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_SEPARATORS = frozenset(" -().")
COUNTRY_PREFIX = "+86"


def normalize_phone(raw: str, *, param: str = "phone") -> str:
    """The number as "+861XXXXXXXXXX", or `invalid_phone_number`."""
    text = "".join(c for c in unicodedata.normalize("NFKC", raw) if c not in _SEPARATORS)
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    if not _MOBILE.fullmatch(text):
        raise InvalidRequest(
            "a mainland China mobile number has 11 digits starting 13-19, optionally after +86",
            code="invalid_phone_number",
            param=param,
        )
    return COUNTRY_PREFIX + text


def national_number(e164: str) -> str:
    """The 11 digits of a normalised number, as people write it."""
    return e164.removeprefix(COUNTRY_PREFIX)


#: a masked number hides at most four digits: 10,000 numbers to try, no more
MAX_HIDDEN = 4


def unmasked(pattern: str) -> list[str]:
    """Every mobile number a masked one ("138****5678", as screens and tickets show it)
    can be, normalised; `invalid_phone_number` unless it hides 1 to 4 digits of one."""
    text = "".join(c for c in unicodedata.normalize("NFKC", pattern) if c not in _SEPARATORS)
    text = text.removeprefix("+86")
    hidden = text.count("*")
    if not 1 <= hidden <= MAX_HIDDEN or len(text) != 11 or not text.replace("*", "").isdigit():
        raise InvalidRequest(
            "a masked number is 11 digits with 1 to 4 of them as *, like 138****5678",
            code="invalid_phone_number",
            param="q",
        )
    shape = text.replace("*", "{}")
    fills = (f"{n:0{hidden}d}" for n in range(10**hidden))
    found = (shape.format(*fill) for fill in fills)
    return [COUNTRY_PREFIX + n for n in found if _MOBILE.fullmatch(n)]
