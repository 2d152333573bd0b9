"""`guardpay bench ledger` reports the rate in each slice of the transfers it wrote, so a
run that slows as the books grow shows it (issue 20), where the average hides it."""

from __future__ import annotations

from guardpay.bench.ledger import SEGMENT, segment_size, segments
from guardpay.services.ledger.books import MAX_BATCH


def test_a_rate_per_segment_from_when_each_batch_committed() -> None:
    done = [(5, 1.0), (10, 2.0), (15, 3.0), (20, 5.0)]

    assert segments(done, start=0.0, size=10) == [
        {"written": 10, "transfers_per_second": 5},
        {"written": 20, "transfers_per_second": 3},
    ]


def test_the_last_batch_ends_a_segment_even_if_it_is_short() -> None:
    done = [(10, 1.0), (12, 2.0)]

    assert segments(done, start=0.0, size=10) == [
        {"written": 10, "transfers_per_second": 10},
        {"written": 12, "transfers_per_second": 2},
    ]


def test_a_segment_is_a_million_transfers_or_a_tenth_of_a_short_run() -> None:
    assert segment_size(20_000_000) == SEGMENT == 1_000_000
    assert segment_size(200_000) == 20_000
    assert segment_size(1_000) == MAX_BATCH
