"""The red-packet split: exact sums, at least one minor unit a share, N shares."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardpay.domain.payments.red_packets import (
    MAX_SHARES,
    Split,
    fixed_shares,
    random_shares,
    split,
    unclaimed_total,
)


@st.composite
def total_and_count(draw: st.DrawFn) -> tuple[int, int]:
    count = draw(st.integers(1, MAX_SHARES))
    return draw(st.integers(count, 10**12)), count


@given(total_and_count(), st.integers(0, 2**32), st.sampled_from(list(Split)))
def test_shares_sum_exactly_and_are_positive(tc: tuple[int, int], seed: int, mode: Split) -> None:
    total, count = tc
    shares = split(total, count, mode, random.Random(seed))
    assert len(shares) == count
    assert sum(shares) == total
    assert min(shares) >= 1


def test_fixed_gives_the_remainder_to_the_first_shares() -> None:
    assert fixed_shares(10, 3) == [4, 3, 3]
    assert fixed_shares(11, 3) == [4, 4, 3]
    assert fixed_shares(3, 3) == [1, 1, 1]


def test_random_is_reproducible_with_a_seed_and_varies() -> None:
    a = random_shares(100_00, 10, random.Random(7))
    assert a == random_shares(100_00, 10, random.Random(7))
    assert len(set(a)) > 1
    assert split(100_00, 10, Split.RANDOM) != []  # the system source works too


def test_random_with_exactly_one_unit_each() -> None:
    assert random_shares(5, 5, random.Random(1)) == [1, 1, 1, 1, 1]


@pytest.mark.parametrize(("total", "count"), [(2, 3), (5, 0), (10**6, MAX_SHARES + 1)])
def test_impossible_splits_are_refused(total: int, count: int) -> None:
    with pytest.raises(ValueError, match="share"):
        fixed_shares(total, count)


def test_unclaimed_total() -> None:
    assert unclaimed_total([(3, "usr_a"), (4, None), (5, None)]) == 9
