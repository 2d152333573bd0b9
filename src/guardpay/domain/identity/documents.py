"""Identity documents and real names: what a well-formed one looks like.

Supported documents and their checks:
- Chinese resident ID (居民身份证, GB 11643-1999): 18 characters, 17 digits and a check
  character 0-9 or X; a province-level region code (the first two digits) that exists;
  a real birth date (YYYYMMDD) that is not in the future and at most 150 years ago; the
  ISO 7064 MOD 11-2 check character. The checks run in that order, so a typo in the birth
  date is reported as such rather than as a check-digit mismatch.
- Passport: 5-17 letters and digits (ICAO 9303 allows up to 9 in the MRZ, but national
  numbering goes longer). Chinese ordinary passports (country CN) must match one of the
  issued series: E + 8 digits, E + a letter (not I or O) + 7 digits, or the older G + 8.
- Foreign permanent resident ID (外国人永久居留身份证): the 2017 card, 15 characters =
  ISO 3166 alpha-3 nationality + 2-digit province + YYMMDD birth date + 3-digit sequence
  + check digit (its check algorithm is not published, so it is not verified); the 2023
  card, 18 characters = 9 + province + 3-digit nationality + YYYYMMDD + sequence + a GB
  11643 check character.

Error codes (param `document_number`), chosen so a client can tell the person which part
to re-type: `invalid_id_number` (shape), `id_number_region_invalid`,
`id_number_birth_date_invalid`, `id_number_check_digit_mismatch`,
`invalid_passport_number`; `invalid_document_type` (param `document_type`) and
`invalid_name` (param `name`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from guardpay.domain.identity.checksums import gb11643_check_char
from guardpay.domain.identity.masking import mask_id_number
from guardpay.errors import InvalidRequest

#: Province-level codes of GB/T 2260 (first two digits); 81/82/83 are the Hong Kong,
#: Macao and Taiwan residents' residence permits, which share the resident ID format.
PROVINCE_CODES = frozenset(
    {
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
        83,
    }
)
MAX_AGE_YEARS = 150
NAME_MAX = 64

_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
_PR_2017 = re.compile(r"[A-Z]{3}[0-9]{12}")
_PR_2023 = re.compile(r"9[0-9]{16}[0-9X]")
_PASSPORT = re.compile(r"(?=[A-Z]*[0-9])[A-Z0-9]{5,17}")
_CN_PASSPORT = re.compile(r"[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}")
_NAME_PUNCT = frozenset(" ·'-.")
_MIDDLE_DOTS = str.maketrans({"•": "·", "・": "·", "･": "·", "‧": "·", "﹒": "."})
PARAM = "document_number"


class DocumentType(StrEnum):
    RESIDENT_ID = "resident_id"
    PASSPORT = "passport"
    PERMANENT_RESIDENT_ID = "permanent_resident_id"


@dataclass(frozen=True)
class Document:
    """A normalised, well-formed document number (not yet verified with anyone)."""

    type: DocumentType
    number: str
    country: str | None = None
    birth_date: date | None = None

    def __repr__(self) -> str:  # tracebacks and debug logs see the masked number only
        return f"Document({self.type.value}, {mask_id_number(self.number)})"


@dataclass(frozen=True)
class ResidentId:
    number: str
    region_code: str
    birth_date: date
    sex: str  # "male" or "female": the 17th digit is odd for men

    def __repr__(self) -> str:
        return f"ResidentId({mask_id_number(self.number)})"


def _bad(code: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, code=code, param=PARAM)


def _clean(raw: str) -> str:
    """Full-width characters folded (NFKC), spaces and dashes dropped, upper case."""
    folded = unicodedata.normalize("NFKC", raw)
    return "".join(c for c in folded if not c.isspace() and c != "-").upper()


def check_region(code2: str) -> None:
    if not code2.isdigit() or int(code2) not in PROVINCE_CODES:
        raise _bad("id_number_region_invalid", "the region code of the ID number does not exist")


def parse_birth_date(yyyymmdd: str, today: date) -> date:
    """A real calendar date, not after `today`, at most 150 years before it."""
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        raise _bad(
            "id_number_birth_date_invalid", "the birth date in the ID number is not a real date"
        ) from None
    if born > today:
        raise _bad(
            "id_number_birth_date_invalid", "the birth date in the ID number is later than today"
        )
    had_birthday = (today.month, today.day) >= (born.month, born.day)
    if today.year - born.year - (not had_birthday) > MAX_AGE_YEARS:
        raise _bad(
            "id_number_birth_date_invalid",
            f"the birth date in the ID number is more than {MAX_AGE_YEARS} years ago",
        )
    return born


def check_gb11643(number: str) -> None:
    if gb11643_check_char(number[:17]) != number[17]:
        raise _bad(
            "id_number_check_digit_mismatch",
            "the check digit of the ID number does not "
            "match the other digits: please check it for a typo",
        )


def parse_resident_id(raw: str, today: date) -> ResidentId:
    number = _clean(raw)
    if not _RESIDENT_ID.fullmatch(number):
        raise _bad(
            "invalid_id_number",
            "a resident ID number has 18 characters: 17 digits and a check character (0-9 or X)",
        )
    check_region(number[:2])
    born = parse_birth_date(number[6:14], today)
    check_gb11643(number)
    sex = "male" if int(number[16]) % 2 else "female"
    return ResidentId(number, number[:6], born, sex)


def check_passport(raw: str, country: str | None = None) -> str:
    number = _clean(raw)
    if not _PASSPORT.fullmatch(number):
        raise _bad("invalid_passport_number", "a passport number has 5 to 17 letters and digits")
    if (country or "").upper() in ("CN", "CHN") and not _CN_PASSPORT.fullmatch(number):
        raise _bad(
            "invalid_passport_number",
            "a Chinese passport number is E or G and 8 digits, or E, a letter and 7 digits",
        )
    return number


def parse_permanent_resident_id(raw: str, today: date) -> tuple[str, date]:
    number = _clean(raw)
    if _PR_2023.fullmatch(number):
        check_region(number[1:3])
        born = parse_birth_date(number[6:14], today)
        check_gb11643(number)
        return number, born
    if _PR_2017.fullmatch(number):
        check_region(number[3:5])
        return number, _two_digit_year_birth(number[5:11], today)
    raise _bad(
        "invalid_id_number",
        "a permanent resident ID has 15 characters (3 letters and 12 "
        "digits) or 18 (9, 16 digits and a check character)",
    )


def _two_digit_year_birth(yymmdd: str, today: date) -> date:
    """YYMMDD read as the latest century that gives a date not in the future."""
    for century in (2000, 1900):
        candidate = f"{century + int(yymmdd[:2])}{yymmdd[2:]}"
        try:
            return parse_birth_date(candidate, today)
        except InvalidRequest:
            continue
    raise _bad("id_number_birth_date_invalid", "the birth date in the ID number is not a real date")


def parse_document(doc_type: str, number: str, today: date, country: str | None = None) -> Document:
    """Validate and normalise a document of any supported type."""
    try:
        kind = DocumentType(doc_type)
    except ValueError:
        allowed = ", ".join(t.value for t in DocumentType)
        raise InvalidRequest(
            f"document_type must be one of: {allowed}",
            code="invalid_document_type",
            param="document_type",
        ) from None
    if kind is DocumentType.RESIDENT_ID:
        rid = parse_resident_id(number, today)
        return Document(kind, rid.number, "CN", rid.birth_date)
    if kind is DocumentType.PASSPORT:
        return Document(kind, check_passport(number, country), (country or "").upper() or None)
    pr_number, born = parse_permanent_resident_id(number, today)
    return Document(kind, pr_number, None, born)


def normalize_name(raw: str) -> str:
    """A person's legal name: letters of any script, single spaces, and the · ' - . that
    names carry (e.g. 买买提·艾力, O'Brien, Jean-Luc); 1 to 64 characters."""
    name = " ".join(unicodedata.normalize("NFKC", raw).translate(_MIDDLE_DOTS).split())
    if not 1 <= len(name) <= NAME_MAX or not name[0].isalpha():
        raise InvalidRequest(
            f"a name has 1 to {NAME_MAX} characters and starts with a letter",
            code="invalid_name",
            param="name",
        )
    if any(not (c.isalpha() or c in _NAME_PUNCT) for c in name):
        raise InvalidRequest(
            "a name may contain only letters, spaces and · ' - .", code="invalid_name", param="name"
        )
    return name
