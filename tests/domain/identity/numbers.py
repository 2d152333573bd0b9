"""Valid test numbers computed here, by independent implementations of the checksums
(never copied from real people): resident IDs, cards, unified social credit codes."""

from __future__ import annotations

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def iso7064_mod11_2(first17: str) -> str:
    """The recursive form of ISO 7064 MOD 11-2 (the module under test uses weights)."""
    p = 0
    for ch in first17:
        p = (p + int(ch)) * 2 % 11
    check = (12 - p) % 11
    return "X" if check == 10 else str(check)


def resident_id(region: str = "110105", birth: str = "19900307", seq: str = "123") -> str:
    body = region + birth + seq
    return body + iso7064_mod11_2(body)


def wrong_check(number: str) -> str:
    """The same number with a different, wrong, check character."""
    right = number[-1]
    return number[:-1] + ("0" if right != "0" else "1")


def luhn_complete(payload: str) -> str:
    digits = [int(c) for c in payload]
    total = 0
    for i, d in enumerate(reversed(digits)):  # the check digit will sit right of these
        if i % 2 == 0:
            d = sum(divmod(d * 2, 10))
        total += d
    return payload + str((10 - total % 10) % 10)


def card(prefix: str, length: int, fill: str = "7") -> str:
    body = (prefix + fill * length)[: length - 1]
    return luhn_complete(body)


def uscc(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * (3**i % 31) for i, c in enumerate(first17))
    return first17 + USCC_ALPHABET[(31 - total % 31) % 31]
