"""Merchants: registration numbers, categories, names, and the two-level hierarchy.

- Registration number: the unified social credit code (统一社会信用代码, GB 32100-2015),
  18 characters: registration authority (1-9, A, N, Y), organisation category, the
  6-digit administrative region of registration (GB/T 2260), the 9-character
  organisation code, and a check character (mod 31). One code, `invalid_registration_
  number`, with a message that says which part is wrong.
- MCC (ISO 18245): 4 digits, `invalid_mcc`; categories a Chinese payment institution
  may not serve (betting, 7995) are refused with `mcc_not_allowed`.
- Sub-merchants (二级商户) hang under a top-level merchant (a platform) and no deeper;
  their display name travels with every payment so the payer sees who was really paid.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from guardpay.domain.identity.checksums import USCC_ALPHABET, gb32100_check_char
from guardpay.domain.identity.documents import PROVINCE_CODES
from guardpay.errors import InvalidRequest

_USCC = re.compile(r"[1-9ANY][0-9A-HJ-NP-RTUWXY][0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}")
_MCC = re.compile(r"[0-9]{4}")
#: provinces, plus 10 ("100000"): bodies registered with the central government
_REGISTRATION_REGIONS = PROVINCE_CODES | {10}
PROHIBITED_MCCS = frozenset({"7995"})  # betting, lottery tickets, casino chips
LEGAL_NAME_MAX, DISPLAY_NAME_MAX = 100, 32
DESCRIPTOR_MAX = 64


def _bad_reg(message: str) -> InvalidRequest:
    return InvalidRequest(message, code="invalid_registration_number", param="registration_number")


def normalize_registration_number(raw: str) -> str:
    code = "".join(c for c in unicodedata.normalize("NFKC", raw) if not c.isspace()).upper()
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        raise _bad_reg(
            "a unified social credit code has 18 digits and capital letters (no I, O, S, V or Z)"
        )
    if not _USCC.fullmatch(code):
        raise _bad_reg(
            "the unified social credit code is malformed (authority, category or region part)"
        )
    if int(code[2:4]) not in _REGISTRATION_REGIONS:
        raise _bad_reg("the region of the unified social credit code does not exist")
    if gb32100_check_char(code[:17]) != code[17]:
        raise _bad_reg("the check character of the unified social credit code does not match")
    return code


def check_mcc(raw: str) -> str:
    mcc = raw.strip()
    if not _MCC.fullmatch(mcc):
        raise InvalidRequest("an MCC is 4 digits (ISO 18245)", code="invalid_mcc", param="mcc")
    if mcc in PROHIBITED_MCCS:
        raise InvalidRequest(
            "merchants of this category cannot be served", code="mcc_not_allowed", param="mcc"
        )
    return mcc


def normalize_label(raw: str, *, param: str, max_len: int, code: str) -> str:
    """A name shown to people (merchant legal or display name, a user's nickname): any
    printable characters, whitespace collapsed, 1 to `max_len` of them."""
    name = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not 1 <= len(name) <= max_len or any(unicodedata.category(c)[0] == "C" for c in name):
        raise InvalidRequest(
            f"{param} has 1 to {max_len} printable characters", code=code, param=param
        )
    return name


@dataclass(frozen=True)
class ParentMerchant:
    """What a sub-merchant's parent must be: active, and itself top-level."""

    status: str
    parent_id: str | None


def check_parent(parent: ParentMerchant) -> None:
    if parent.parent_id is not None:
        raise InvalidRequest(
            "sub-merchants have one level: the parent must be a top-level merchant",
            code="invalid_parent_merchant",
            param="parent_id",
        )
    if parent.status != "active":
        raise InvalidRequest(
            "the parent merchant is not active", code="invalid_parent_merchant", param="parent_id"
        )


def payment_descriptor(display_name: str, parent_display_name: str | None) -> str:
    """The name a payer sees on a payment: "Platform-Shop" for a sub-merchant."""
    text = display_name if parent_display_name is None else f"{parent_display_name}-{display_name}"
    return text[:DESCRIPTOR_MAX]
