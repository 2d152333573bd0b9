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


#: how screens mask a number (domain/identity/masking.py): 3 shown, 4 hidden, 4 shown
MASK = "****"


def unmasked(pattern: str) -> list[str]:
    """Every mobile number a masked one ("138****5678", as screens and tickets show it)
    can be, normalised: 10,000 at most. Only that mask: one that hides other digits
    would let someone who sees masked numbers uncover a whole one digit by digit."""
    text = "".join(c for c in unicodedata.normalize("NFKC", pattern) if c not in _SEPARATORS)
    text = text.removeprefix("+86")
    shown = text[:3] + text[7:]
    if len(text) != 11 or text[3:7] != MASK or not (shown.isascii() and shown.isdigit()):
        raise InvalidRequest(
            "a masked number shows its first 3 and last 4 digits, like 138****5678",
            code="invalid_phone_number",
            param="q",
        )
    found = (f"{text[:3]}{n:04d}{text[7:]}" for n in range(10**4))
    return [COUNTRY_PREFIX + n for n in found if _MOBILE.fullmatch(n)]
