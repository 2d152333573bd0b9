"""Bank cards: number checks, issuer (BIN) lookup, and the credit-card security fields.

A card is accepted when its number is 12-19 digits, passes the Luhn check, starts with
an issuer prefix (BIN) we know, and has a length that issuer uses. The issuer decides
the bank shown to the user, whether the card is debit or credit, and so whether the
CVV2 and expiry are needed for the verification call (credit only; Chinese debit cards
are verified by the four elements alone). Those two are validated here, handed to the
verifier once, and never stored or logged.

The table is a small, real subset of issuer prefixes of the large Chinese banks (from
published BIN tables); production replaces it with the card scheme's BIN file. A short
prefix such as "6222" is not one bank (622202 is ICBC, 622262 BoCom, 622280 CCB), so
only 6-digit prefixes are listed and lookup takes the longest match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from guardpay.domain.identity.checksums import luhn_valid
from guardpay.domain.identity.masking import mask_card
from guardpay.errors import InvalidRequest

PAN_MIN, PAN_MAX = 12, 19


class CardType(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


@dataclass(frozen=True)
class Issuer:
    bank_code: str
    bank: str


ICBC = Issuer("ICBC", "Industrial and Commercial Bank of China")
ABC = Issuer("ABC", "Agricultural Bank of China")
BOC = Issuer("BOC", "Bank of China")
CCB = Issuer("CCB", "China Construction Bank")
BOCOM = Issuer("BOCOM", "Bank of Communications")
CMB = Issuer("CMB", "China Merchants Bank")
PSBC = Issuer("PSBC", "Postal Savings Bank of China")


@dataclass(frozen=True)
class BinRange:
    prefix: str
    issuer: Issuer
    card_type: CardType
    lengths: tuple[int, ...]


def _ranges(
    issuer: Issuer, card_type: CardType, lengths: tuple[int, ...], *prefixes: str
) -> list[BinRange]:
    return [BinRange(p, issuer, card_type, lengths) for p in prefixes]


_D, _C = CardType.DEBIT, CardType.CREDIT
BIN_TABLE: tuple[BinRange, ...] = tuple(
    _ranges(ICBC, _D, (19,), "622202", "622208", "621226", "622200")
    + _ranges(ICBC, _C, (16,), "628288", "625330")
    + _ranges(ABC, _D, (19,), "622848", "622845", "622823")
    + _ranges(ABC, _C, (16,), "622836", "622837")
    + _ranges(BOC, _D, (19,), "601382", "621661", "456351")
    + _ranges(BOC, _C, (16,), "625908", "622760")
    + _ranges(CCB, _D, (19,), "621700", "622700", "436742", "622280")
    + _ranges(CCB, _C, (16,), "436745", "625965")
    + _ranges(BOCOM, _D, (19,), "622262", "622260", "622261")
    + _ranges(CMB, _D, (16, 17), "622588", "621483", "621485")
    + _ranges(CMB, _C, (16,), "625802", "622575", "439225")
    + _ranges(PSBC, _D, (19,), "622188", "621098", "621799")
)
_BY_PREFIX = {r.prefix: r for r in BIN_TABLE}


@dataclass(frozen=True)
class Card:
    """A checked card number with what its issuer prefix says about it."""

    pan: str
    bin: str
    last4: str
    bank_code: str
    bank: str
    card_type: CardType
    scheme: str

    def __repr__(self) -> str:  # tracebacks and debug logs see the masked number only
        return f"Card({mask_card(self.pan)}, {self.bank_code}, {self.card_type.value})"


@dataclass(frozen=True)
class CardSecurity:
    """CVV2 and expiry of a credit card: for the verification call only, never stored."""

    cvv2: str
    expiry_month: int
    expiry_year: int

    def __repr__(self) -> str:  # keep it out of tracebacks and debug logs
        return "CardSecurity(***)"


def scheme_of(pan: str) -> str:
    """The card network by ISO/IEC 7812 issuer range."""
    if pan.startswith(("62", "81")) or (pan.startswith("60") and not pan.startswith("6011")):
        return "unionpay"
    if pan.startswith("4"):
        return "visa"
    if pan[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(pan[:4]) <= 2720:
        return "mastercard"
    if pan.startswith("35"):
        return "jcb"
    if pan.startswith(("34", "37")):
        return "amex"
    return "other"


def normalize_pan(raw: str) -> str:
    digits = "".join(c for c in unicodedata.normalize("NFKC", raw) if c not in " -")
    if not (digits.isascii() and digits.isdigit() and PAN_MIN <= len(digits) <= PAN_MAX):
        raise InvalidRequest(
            f"a card number has {PAN_MIN} to {PAN_MAX} digits",
            code="invalid_card_number",
            param="card_number",
        )
    if not luhn_valid(digits):
        raise InvalidRequest(
            "the card number is mistyped (its check digit does not match)",
            code="invalid_card_number",
            param="card_number",
        )
    return digits


def lookup_bin(pan: str) -> BinRange | None:
    for size in range(min(len(pan), 8), 3, -1):
        found = _BY_PREFIX.get(pan[:size])
        if found is not None:
            return found
    return None


def parse_card(raw: str) -> Card:
    """Number checks, then the issuer: `invalid_card_number` or `unsupported_card_bin`."""
    pan = normalize_pan(raw)
    issuer = lookup_bin(pan)
    if issuer is None:
        raise InvalidRequest(
            f"cards of this issuer ({scheme_of(pan)}) are not supported",
            code="unsupported_card_bin",
            param="card_number",
        )
    if len(pan) not in issuer.lengths:
        raise InvalidRequest(
            f"{issuer.issuer.bank_code} cards of this kind do not have {len(pan)} digits",
            code="invalid_card_number",
            param="card_number",
        )
    return Card(
        pan,
        pan[:6],
        pan[-4:],
        issuer.issuer.bank_code,
        issuer.issuer.bank,
        issuer.card_type,
        scheme_of(pan),
    )


_EXPIRY = re.compile(r"(0[1-9]|1[0-2])\s*/?\s*([0-9]{2}|[0-9]{4})")
_CVV2 = re.compile(r"[0-9]{3}")


def parse_expiry(raw: str, today: date) -> tuple[int, int]:
    """MM/YY, MMYY or MM/YYYY -> (month, year); a card is valid through its expiry month."""
    match = _EXPIRY.fullmatch(raw.strip())
    if match is None:
        raise InvalidRequest("the expiry date is MM/YY", code="invalid_expiry", param="expiry")
    month, year_text = int(match[1]), match[2]
    year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    if (year, month) < (today.year, today.month):
        raise InvalidRequest("the card has expired", code="expired_card", param="expiry")
    return month, year


def card_security(
    card_type: CardType, cvv2: str | None, expiry: str | None, today: date
) -> CardSecurity | None:
    """What the verifier needs besides the four elements: for a credit card, its CVV2 and
    expiry (required); for a debit card nothing, and anything given is dropped."""
    if card_type is not CardType.CREDIT:
        return None
    if not cvv2:
        raise InvalidRequest("a credit card needs its CVV2", code="cvv2_required", param="cvv2")
    if not expiry:
        raise InvalidRequest(
            "a credit card needs its expiry date", code="expiry_required", param="expiry"
        )
    if not _CVV2.fullmatch(cvv2.strip()):
        raise InvalidRequest(
            "the CVV2 is the 3 digits on the back of the card", code="invalid_cvv2", param="cvv2"
        )
    month, year = parse_expiry(expiry, today)
    return CardSecurity(cvv2.strip(), month, year)
