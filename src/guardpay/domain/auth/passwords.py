"""What makes a login password or a payment password acceptable.

The login password follows NIST SP 800-63B in spirit: length matters most (8 at least, or
12 with any mix of characters), shorter ones need three of four character classes, and
anything on a list of commonly used passwords is refused however it is capitalised,
"leet"-spelled or suffixed with digits. It may not contain the owner's phone number,
which is the first thing an attacker who knows the account will try.

The payment password is six digits, typed on a phone in public, so it is weak by nature;
the checks here refuse what shoulder-surfers and guessers try first (repeats, runs, the
birth date). Lockout (limits.py) does the rest.

Every check returns a reason in plain words, or None; the service turns a reason into
`InvalidRequest(code="weak_password")`. A reason never repeats the password.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import cache
from importlib import resources
from itertools import pairwise

MIN_LENGTH = 8
LONG_ENOUGH = 12  # from here on, no character-class rule
MAX_LENGTH = 128  # hashing cost is bounded, and nobody types more
MIN_CLASSES = 3
PIN_LENGTH = 6
PHONE_RUN = 6  # this many consecutive digits of the phone number give it away

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
_TRAILING = re.compile(r"[\d\W_]+$")


def normalize(secret: str) -> str:
    """NFKC, so the same password typed on two keyboards (full-width digits on a Chinese
    input method, say) hashes the same. Applied before hashing and before checks."""
    return unicodedata.normalize("NFKC", secret)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, read once (package data: domain/auth/common_passwords.txt)."""
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text("utf-8")
    lines = (line.strip().lower() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    """On the list as typed, de-leeted, or with a trailing run of digits/symbols removed
    ("Dragon2024!" is "dragon" to a guesser)."""
    lowered = password.lower()
    candidates = {lowered, lowered.translate(_LEET)}
    for word in list(candidates):
        stem = _TRAILING.sub("", word)
        if len(stem) >= 4:
            candidates.add(stem)
    return not candidates.isdisjoint(common_passwords())


def character_classes(password: str) -> int:
    checks = (str.islower, str.isupper, str.isdigit)
    counted = sum(any(check(c) for c in password) for check in checks)
    return counted + any(not (c.isalnum()) for c in password)


def contains_phone(password: str, phone: str | None) -> bool:
    """True if any `PHONE_RUN` consecutive digits of the phone number (without country
    code) appear in the password's digits, separators ignored."""
    if not phone:
        return False
    phone_digits = "".join(c for c in phone if c.isdigit())
    if phone_digits.startswith("86") and len(phone_digits) == 13:
        phone_digits = phone_digits[2:]
    typed = "".join(c for c in password if c.isdigit())
    runs = (phone_digits[i : i + PHONE_RUN] for i in range(len(phone_digits) - PHONE_RUN + 1))
    return any(run in typed for run in runs)


def login_password_problem(password: str, *, phone: str | None = None) -> str | None:
    """Why this login password is refused, or None if it is acceptable."""
    password = normalize(password)
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password must have at most {MAX_LENGTH} characters"
    if len(password) < LONG_ENOUGH and character_classes(password) < MIN_CLASSES:
        return (
            "the password needs three of: lower case, upper case, digits, symbols "
            f"(or at least {LONG_ENOUGH} characters)"
        )
    if is_common(password):
        return "the password is too common"
    if contains_phone(password, phone):
        return "the password must not contain the phone number"
    return None


def is_run(pin: str) -> bool:
    """Each digit one up (123456, 890123) or one down (654321) from the one before."""
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(pin)}
    return steps in ({1}, {9})


def is_repetitive(pin: str) -> bool:
    """One digit repeated, or a pattern of two or three repeated (121212, 123123)."""
    return any(pin == pin[:period] * (len(pin) // period) for period in (1, 2, 3))


def birth_date_forms(born: date) -> set[str]:
    y, m, d = f"{born.year:04d}", f"{born.month:02d}", f"{born.day:02d}"
    return {y[2:] + m + d, d + m + y[2:], m + d + y[2:], y + m, m + y}


def payment_password_problem(pin: str, *, birth_date: date | None = None) -> str | None:
    """Why this payment password is refused, or None if it is acceptable."""
    pin = normalize(pin)
    if len(pin) != PIN_LENGTH or not all("0" <= c <= "9" for c in pin):
        return f"the payment password must be exactly {PIN_LENGTH} digits"
    if is_repetitive(pin):
        return "the payment password must not repeat the same digits"
    if is_run(pin):
        return "the payment password must not be a run of consecutive digits"
    if birth_date is not None and pin in birth_date_forms(birth_date):
        return "the payment password must not be the birth date"
    return None
