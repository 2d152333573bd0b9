"""A Bloom filter over 64-bit ids, vectorised with numpy.

Why. A sealed partition of ledger transfers (storage/ledger_parts.py) is never written
again, and a batch asks, for thousands of new transfer ids at once, whether any of them
already exists. Probing every sealed partition's id index for every id would cost a
random read per id and partition, growing with history; a filter answers "certainly
not here" for all but a few per mille of them, in memory, and never answers "not here"
for an id that is there. The bits are built once, when the partition is sealed, and
stored beside it.

Each id is mixed with the splitmix64 finaliser (the ids are anyone's choice: sequential
ones must spread as well as random ones) and the `hashes` positions are derived from two
mixes (Kirsch and Mitzenmacher's double hashing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: 12 bits an id and 8 positions: about 0.3% of absent ids pass (measured in tests)
BITS_PER_ID = 12
HASHES = 8

_U64 = npt.NDArray[np.uint64]
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_SALT = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: _U64) -> _U64:
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _ids(ids: Iterable[int] | npt.NDArray[np.int64]) -> _U64:
    if isinstance(ids, np.ndarray):
        return ids.astype(np.int64, copy=False).view(np.uint64)
    return np.fromiter(ids, dtype=np.int64).view(np.uint64)


def _positions(ids: _U64, bits: int, hashes: int) -> _U64:
    """The `hashes` bit positions of each id: shape (hashes, len(ids))."""
    first = _mix(ids)
    step = _mix(ids ^ _SALT) | np.uint64(1)
    rounds = np.arange(hashes, dtype=np.uint64)[:, None]
    return (first[None, :] + rounds * step[None, :]) % np.uint64(bits)


@dataclass(frozen=True)
class Bloom:
    """The filter's bits, packed little-endian (bit i is byte i // 8, bit i % 8)."""

    packed: bytes
    hashes: int = HASHES

    @classmethod
    def of(cls, ids: Iterable[int] | npt.NDArray[np.int64], hashes: int = HASHES) -> Bloom:
        keys = _ids(ids)
        bits = max(64, len(keys) * BITS_PER_ID)
        bits += -bits % 8
        flags = np.zeros(bits, dtype=bool)
        flags[_positions(keys, bits, hashes).ravel()] = True
        return cls(np.packbits(flags, bitorder="little").tobytes(), hashes)

    def maybe(self, ids: Iterable[int]) -> list[int]:
        """The ids that may be in the set; every id that is, is among them."""
        keys = _ids(ids)
        if not len(keys):
            return []
        packed = np.frombuffer(self.packed, dtype=np.uint8)
        pos = _positions(keys, len(packed) * 8, self.hashes)
        hit = (packed[pos >> np.uint64(3)] >> (pos & np.uint64(7)).astype(np.uint8)) & 1
        return [int(i) for i in keys[hit.all(axis=0)].view(np.int64)]
