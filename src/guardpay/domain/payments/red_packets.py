"""Red packets: how a total is split into shares, decided once when the packet is made.

Pure and integer-only, so the split can be property-tested: every share is at least one
minor unit and the shares sum exactly to the total. Deciding all shares up front (rather
than drawing at claim time) makes a claim a simple "take the next unclaimed share" under a
row lock, and lets the packet's money be accounted for share by share.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

MAX_SHARES = 200


class Split(StrEnum):
    FIXED = "fixed"
    RANDOM = "random"


class RandomSource(Protocol):
    """What the random split needs: `random.Random(seed)` in tests, `SystemRandom` live."""

    def randint(self, a: int, b: int) -> int: ...


def system_random() -> RandomSource:
    """The production source: the OS CSPRNG, so nobody can predict who gets the big share."""
    return secrets.SystemRandom()


def check_split(total: int, count: int) -> None:
    """A split needs at least one share and one minor unit per share."""
    if not 1 <= count <= MAX_SHARES:
        raise ValueError(f"a red packet has 1 to {MAX_SHARES} shares")
    if total < count:
        raise ValueError("every share needs at least one minor unit")


def fixed_shares(total: int, count: int) -> list[int]:
    """Equal shares; the remainder goes one minor unit at a time to the first shares."""
    check_split(total, count)
    base, extra = divmod(total, count)
    return [base + 1 if i < extra else base for i in range(count)]


def random_shares(total: int, count: int, rng: RandomSource) -> list[int]:
    """The "double mean" split: each share is uniform in [1, 2 x the mean of what is
    left], capped so every later share can still get one minor unit; the last share takes
    the rest, so the sum is exact by construction."""
    check_split(total, count)
    shares: list[int] = []
    left = total
    for k in range(count, 1, -1):
        most = min(left - (k - 1), 2 * left // k)
        share = rng.randint(1, max(1, most))
        shares.append(share)
        left -= share
    shares.append(left)
    return shares


def split(total: int, count: int, mode: Split, rng: RandomSource | None = None) -> list[int]:
    """The shares of a new packet, in claim order."""
    if mode is Split.FIXED:
        return fixed_shares(total, count)
    return random_shares(total, count, rng if rng is not None else system_random())


def unclaimed_total(shares: Sequence[tuple[int, str | None]]) -> int:
    """What is still in the packet: the amounts of shares nobody has claimed."""
    return sum(amount for amount, claimer in shares if claimer is None)
