"""Masked forms of personal data: what every response, log line and audit entry shows.

- phone "+8613812345678" -> "138****5678" (first 3, last 4 of the national number)
- card  "6222021234567891234" -> "6222 **** **** 1234" (first 4, last 4, fixed shape so the
  length is not revealed either)
- ID number -> first 4 and last 4 with one * per hidden character
  ("3101**********1234"); a shorter document (a passport) keeps 2 and 2
- name "张三" -> "张*", "欧阳娜娜" -> "欧***", "John Smith" -> "J*** Smith" (the family
  name, which many people share, stays; the given names are hidden)

Masking is lossy on purpose and never fails: odd input is masked more, not less.
"""

from __future__ import annotations

from guardpay.domain.identity.phone import COUNTRY_PREFIX


def _keep(text: str, head: int, tail: int) -> str:
    if len(text) <= head + tail:
        return "*" * len(text)
    return text[:head] + "*" * (len(text) - head - tail) + text[len(text) - tail :]


def mask_phone(phone: str) -> str:
    national = phone.removeprefix(COUNTRY_PREFIX)
    if len(national) == 11:
        return f"{national[:3]}****{national[-4:]}"
    return _keep(national, 0, 4) if len(national) >= 8 else "*" * len(national)


def mask_card(pan: str) -> str:
    digits = "".join(c for c in pan if c.isdigit())
    if len(digits) < 12:  # not a card number: show nothing of it
        return "**** **** **** ****"
    return f"{digits[:4]} **** **** {digits[-4:]}"


def mask_card_last4(last4: str) -> str:
    """A stored card shown from its last four digits alone (the PAN stays encrypted)."""
    return f"**** **** **** {last4}"


def mask_id_number(number: str) -> str:
    if len(number) >= 15:
        return _keep(number, 4, 4)
    return _keep(number, 2, 2)


def _is_latin_word(word: str) -> bool:
    return all(c.isascii() or not c.isalpha() or ord(c) < 0x250 for c in word)


def mask_name(name: str) -> str:
    words = name.split()
    if not words:
        return ""
    if len(words) == 1 and not _is_latin_word(words[0]):
        single = words[0]
        if "·" in single:  # 买买提·艾力: keep the first part's first letter only
            return single[0] + "".join("·" if c == "·" else "*" for c in single[1:])
        return single[0] + "*" * (len(single) - 1)
    if len(words) == 1:
        return words[0][0] + "*" * (len(words[0]) - 1)
    given = [w[0] + "*" * (len(w) - 1) for w in words[:-1]]
    return " ".join([*given, words[-1]])
