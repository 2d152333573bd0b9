"""The check characters of Chinese identifiers and of card numbers.

- GB 11643-1999 (resident ID; also the 2023 foreign permanent resident ID): ISO 7064
  MOD 11-2 over the first 17 digits, check character 0-9 or X (for 10).
- GB 32100-2015 (unified social credit code): a weighted sum modulo 31 over an alphabet
  of 31 characters (digits and the letters without I, O, S, V, Z).
- ISO/IEC 7812 Luhn (bank card numbers).

They are separate from the validators so tests and fixtures can compute valid numbers
instead of copying real people's.
"""

from __future__ import annotations

_GB11643_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7, 9, 10, 5, 8, 4, 2, 1, ...
_GB11643_CHECK = "10X98765432"  # indexed by (weighted sum mod 11)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, 16, ...


def gb11643_check_char(first17: str) -> str:
    """The check character for 17 ASCII digits."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError("GB 11643 needs exactly 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _GB11643_WEIGHTS, strict=True))
    return _GB11643_CHECK[total % 11]


def gb32100_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a unified social credit code."""
    if len(first17) != 17 or any(c not in USCC_ALPHABET for c in first17):
        raise ValueError("GB 32100 needs 17 characters of its alphabet")
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def luhn_valid(digits: str) -> bool:
    """True if the ASCII digit string passes the Luhn (mod 10) check."""
    if not digits or not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` pass the Luhn check."""
    for digit in "0123456789":
        if luhn_valid(payload + digit):
            return digit
    raise ValueError("Luhn needs ASCII digits")  # pragma: no cover - unreachable for digits
