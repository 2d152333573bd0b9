"""The Bloom filter that lets a batch skip sealed transfer parts (storage/engine/bloom.py):
it never misses an id it holds, and lets few others through, whatever the ids look like."""

from __future__ import annotations

import random

import pytest

from guardpay.storage.engine.bloom import Bloom

N = 20_000


def _random_ids(seed: int, count: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.getrandbits(63) for _ in range(count)]


@pytest.mark.parametrize(
    ("held", "absent"),
    [
        pytest.param(_random_ids(1, N), _random_ids(2, N), id="random ids"),
        pytest.param(list(range(1, N + 1)), list(range(N + 1, 2 * N + 1)), id="sequential ids"),
        pytest.param(
            [i << 32 for i in range(N)], [(i << 32) + 1 for i in range(N)], id="high bits only"
        ),
    ],
)
def test_holds_every_id_and_lets_few_others_through(held: list[int], absent: list[int]) -> None:
    bloom = Bloom.of(held)

    assert sorted(bloom.maybe(held)) == sorted(held)
    passed = len(bloom.maybe(absent))
    assert passed / len(absent) < 0.01, passed  # about 0.3% by design


def test_extreme_ids_and_a_stored_copy_answer_alike() -> None:
    ids = [0, 1, 2**63 - 1, -1, -(2**63)]
    bloom = Bloom.of(ids)
    copy = Bloom(bytes(bloom.packed), bloom.hashes)

    assert sorted(copy.maybe(ids)) == sorted(ids)
    assert copy.maybe([]) == []


def test_a_filter_of_nothing_lets_nothing_through() -> None:
    assert Bloom.of([]).maybe(_random_ids(3, 1_000)) == []
