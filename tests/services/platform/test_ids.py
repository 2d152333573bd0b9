"""Record ids: random ones for people and things, timed ones for what every payment
writes (so primary keys grow at their right edge)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardpay.services.platform.ids import TIMED_LENGTH, new_id, timed_id

#: what the API accepts as a record id in a path (api/routers/common.py PathId)
PATH_ID = re.compile(r"^[a-z]+_[a-z0-9]+$")
T0 = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


def test_a_timed_id_is_a_prefix_and_26_characters_the_api_accepts_in_paths() -> None:
    made = timed_id("pay", T0)
    assert made.startswith("pay_")
    assert len(made) == len("pay_") + TIMED_LENGTH
    assert PATH_ID.match(made)
    assert len(made) <= 40  # the id columns' width


def test_timed_ids_of_one_millisecond_differ_in_their_random_part() -> None:
    made = {timed_id("rsk", T0) for _ in range(1000)}
    assert len(made) == 1000
    assert len({m[: 4 + 10] for m in made}) == 1  # the same time prefix


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(9980, 1, 1), timezones=st.just(UTC)
    ),
    st.timedeltas(min_value=timedelta(milliseconds=1), max_value=timedelta(days=4000)),
)
def test_a_later_millisecond_sorts_after_whatever_the_random_bits(
    at: datetime, later: timedelta
) -> None:
    assert timed_id("evt", at) < timed_id("evt", at + later)


def test_a_time_before_1970_is_refused() -> None:
    with pytest.raises(ValueError, match="1970"):
        timed_id("pay", datetime(1969, 12, 31, tzinfo=UTC))


def test_plain_ids_stay_random_and_20_characters() -> None:
    a, b = new_id("usr"), new_id("usr")
    assert a != b
    assert len(a) == 20
    assert PATH_ID.match(a)
