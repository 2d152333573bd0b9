from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from guardpay.errors import InvalidRequest
from guardpay.services.aml.external import (
    Mapping,
    Options,
    output_rows,
    parse_amounts,
    parse_times,
    read_csv,
)

MAP = "source=From,target=To,amount=Amount,time=When"


def amounts(*values: str, unit: str = "auto", exponent: int = 2) -> tuple[list[int], str, int]:
    series, shown, rounded = parse_amounts(pl.Series(values), exponent, unit)
    return series.to_list(), shown, rounded


def times(*values: str, step: str = "day") -> tuple[list[datetime], str]:
    series, layout = parse_times(pl.Series(values), step)
    return series.to_list(), layout


def write(tmp_path: Path, text: str, name: str = "tx.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class TestMapping:
    def test_names_each_required_column_and_joins_with_plus(self) -> None:
        m = Mapping.parse("source=Bank+Account, target=To ,amount=Amt,time=T,device=Phone")

        assert m.columns["source"] == ("Bank", "Account")
        assert m.columns["target"] == ("To",)
        assert m.columns["device"] == ("Phone",)

    @pytest.mark.parametrize(
        ("text", "says"),
        [
            ("source=A,target=B,amount=C", "needs time"),
            ("source=A,target=B,amount=C,time=D,colour=E", "unknown key 'colour'"),
            ("source=A,target,amount=C,time=D", "key=COLUMN"),
        ],
    )
    def test_a_bad_mapping_says_what_is_wrong(self, text: str, says: str) -> None:
        with pytest.raises(InvalidRequest, match=says) as caught:
            Mapping.parse(text)
        assert caught.value.param == "map"


class TestAmounts:
    def test_decimal_major_units_become_minor_units_exactly(self) -> None:
        assert amounts("1,234.56", "¥48,500.00", "0.1", "7", "USD 12.30")[0] == [
            123_456,
            4_850_000,
            10,
            700,
            1_230,
        ]

    def test_a_decimal_comma_is_read_as_a_decimal_point(self) -> None:
        assert amounts("1.234,56", "12,5")[0] == [123_456, 1_250]

    def test_whole_numbers_are_major_units_unless_told(self) -> None:
        values, shown, _ = amounts("150", "20")
        assert values == [15_000, 2_000]
        assert "--amount-unit minor" in shown

        assert amounts("150", "20", unit="minor")[0] == [150, 20]

    def test_more_decimals_than_the_currency_has_are_rounded_and_counted(self) -> None:
        values, _, rounded = amounts("1.005", "2.00", "3.0049")

        assert values == [101, 200, 300]
        assert rounded == 2

    def test_minor_units_with_decimals_is_an_error(self) -> None:
        with pytest.raises(InvalidRequest, match="some amounts have decimals"):
            amounts("1.5", unit="minor")

    @pytest.mark.parametrize(
        ("bad", "says"), [("-12.00", "line 3: amounts must not be negative"), ("4111x", "line 3")]
    )
    def test_an_unreadable_amount_names_the_line_not_the_value(self, bad: str, says: str) -> None:
        with pytest.raises(InvalidRequest, match=says) as caught:
            amounts("1.00", bad)
        assert bad not in caught.value.message
        assert caught.value.param == "amount"


class TestTimes:
    def test_iso_timestamps_with_zones_become_utc(self) -> None:
        values, _ = times("2024-01-02T03:04:05Z", "2024-01-02T11:04:05+08:00")

        assert values == [datetime(2024, 1, 2, 3, 4, 5)] * 2

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2022/09/01 00:20", datetime(2022, 9, 1, 0, 20)),
            ("2024-02-29", datetime(2024, 2, 29)),
            ("2024-02-29 13:45:10.250", datetime(2024, 2, 29, 13, 45, 10, 250_000)),
            ("1700000000", datetime(2023, 11, 14, 22, 13, 20)),
            ("1700000000500", datetime(2023, 11, 14, 22, 13, 20, 500_000)),
            ("25/12/2024", datetime(2024, 12, 25)),
        ],
    )
    def test_common_layouts_are_detected(self, text: str, expected: datetime) -> None:
        assert times(text)[0] == [expected]

    def test_small_integers_are_steps_of_a_day_or_an_hour(self) -> None:
        days, layout = times("1", "30")
        hours, _ = times("1", "30", step="hour")

        assert layout == "day steps"
        assert days[1] - days[0] == datetime(1970, 1, 30) - datetime(1970, 1, 1)
        assert (hours[1] - hours[0]).total_seconds() == 29 * 3_600

    def test_dates_that_read_both_ways_ask_for_a_format(self) -> None:
        with pytest.raises(InvalidRequest, match="--time-format"):
            times("03/04/2024", "05/06/2024")

    def test_an_unreadable_time_names_its_line(self) -> None:
        with pytest.raises(InvalidRequest, match="line 3: the time column"):
            times("2024-01-01", "yesterday")


class TestReadCsv:
    def test_a_semicolon_file_with_its_own_names(self, tmp_path: Path) -> None:
        path = write(tmp_path, "From;To;Amount;When\na;b;1.234,50;2024-01-01\nb;c;10;2024-01-02\n")

        data, reading = read_csv(path, Mapping.parse(MAP))

        assert reading.delimiter == ";"
        assert data.column("amount").to_pylist() == [123_450, 1_000]
        assert data.column("id").to_pylist() == ["row2", "row3"]  # the file's line numbers
        assert data.column("device").null_count == 2

    def test_a_column_the_file_lacks_is_named_with_those_it_has(self, tmp_path: Path) -> None:
        path = write(tmp_path, "Payer,Payee,Amount,When\na,b,1,2024-01-01\n")

        with pytest.raises(InvalidRequest, match=r"no column 'From', 'To' \(it has: Payer, Payee"):
            read_csv(path, Mapping.parse(MAP))

    def test_an_empty_account_names_its_line(self, tmp_path: Path) -> None:
        path = write(tmp_path, "From,To,Amount,When\na,b,1,2024-01-01\n,c,2,2024-01-01\n")

        with pytest.raises(InvalidRequest, match="line 3: the source column is empty"):
            read_csv(path, Mapping.parse(MAP))

    def test_a_missing_file_is_an_error(self, tmp_path: Path) -> None:
        with pytest.raises(InvalidRequest, match="no such file"):
            read_csv(tmp_path / "nope.csv", Mapping.parse(MAP), Options())


def test_step_times_are_written_back_as_steps() -> None:
    flagged = pa.table(
        {
            "account": ["a"],
            "score": [0.9],
            "typologies": ["cycle"],
            "first_seen": [datetime(1970, 1, 3)],
            "last_seen": [datetime(1970, 1, 5, 7)],
            "explanation": ["cycle: hops=3"],
        }
    )

    (row,) = output_rows(flagged, "day steps")
    assert (row["first_seen"], row["last_seen"], row["score"]) == ("2", "4", "0.900")
    assert output_rows(flagged, "hour steps")[0]["last_seen"] == str(4 * 24 + 7)


def test_compact_dates_are_dates_not_day_numbers() -> None:
    values, layout = times("20240131", "20240201")

    assert layout == "%Y%m%d"
    assert values == [datetime(2024, 1, 31), datetime(2024, 2, 1)]


def test_an_amount_too_large_for_minor_units_names_its_line_not_its_value() -> None:
    card_like = "4111111111111111111"
    with pytest.raises(InvalidRequest, match="line 3: the amount is too large") as caught:
        amounts("12.00", card_like)
    assert card_like not in caught.value.message


def test_an_id_seen_twice_names_the_line_it_comes_back_on(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Ref,From,To,Amount,When\n"
        "a,x,y,1,2024-01-01\nb,x,y,1,2024-01-02\nc,x,y,1,2024-01-03\nb,y,x,1,2024-01-04\n",
    )

    with pytest.raises(InvalidRequest, match="line 5: an id seen before"):
        read_csv(path, Mapping.parse(MAP + ",id=Ref"))
