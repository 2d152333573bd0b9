"""Somebody else's transaction history, read as guardpay's (domain/aml/frame.py).

Institutions name their columns as they please and write amounts and times in many ways,
so a scan of a file nobody prepared for guardpay is told which column is which
(`Mapping`, `source=COL,target=COL,amount=COL,time=COL`) and works out the rest: the
delimiter, whether amounts are decimal or already in minor units, and whether times are
ISO timestamps, dates, epoch seconds or milliseconds, or plain integer steps (a day or an
hour number). What cannot be read is an error naming the column and the line, never the
value (a mis-mapped column could hold card or ID numbers).

Amounts become integer minor units by string arithmetic, never through a float.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import polars as pl
import pyarrow as pa

from guardpay.domain.aml.frame import SCHEMA
from guardpay.domain.money import currency
from guardpay.errors import InvalidRequest

AmountUnit = Literal["auto", "major", "minor"]
StepUnit = Literal["day", "hour"]
REQUIRED = ("source", "target", "amount", "time")
OPTIONAL = ("id", "device")
#: datetime layouts tried in turn; the first that reads every value wins
TIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y",
)
#: layouts that read the same text two ways (3/4/2024): used only when one alone fits
AMBIGUOUS_FORMATS = ("%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y", "%m/%d/%Y")
_EPOCH_SECONDS_FROM = 100_000_000  # 1973: smaller integers are steps
_EPOCH_MILLIS_FROM = 100_000_000_000
_SYMBOLS = r"[¥￥$€£\s_]|CNY|RMB|USD|EUR|GBP|HKD"


@dataclass(frozen=True)
class Mapping:
    """Which column of the file is which: `source`, `target`, `amount`, `time` required,
    `id` and `device` optional. A name may join columns with `+` (a bank code and an
    account number that only together name an account)."""

    columns: dict[str, tuple[str, ...]]

    @classmethod
    def parse(cls, text: str) -> Mapping:
        columns: dict[str, tuple[str, ...]] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            key = key.strip().lower()
            if not sep or not value.strip():
                raise _bad(f"--map takes key=COLUMN pairs, got {part!r}", "map")
            if key not in REQUIRED + OPTIONAL:
                known = ", ".join(REQUIRED + OPTIONAL)
                raise _bad(f"--map: unknown key {key!r} (known: {known})", "map")
            columns[key] = tuple(c.strip() for c in value.split("+"))
        missing = [k for k in REQUIRED if k not in columns]
        if missing:
            raise _bad(f"--map needs {', '.join(missing)} (e.g. source=From,target=To)", "map")
        return cls(columns)


@dataclass(frozen=True)
class Reading:
    """How the file was read: what the scan's report tells its reader."""

    rows: int
    delimiter: str
    amount_unit: str
    time_format: str
    amounts_rounded: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "delimiter": self.delimiter,
            "amount_unit": self.amount_unit,
            "time_format": self.time_format,
            "amounts_rounded": self.amounts_rounded,
        }


@dataclass(frozen=True)
class Options:
    currency: str = "CNY"
    amount_unit: AmountUnit = "auto"
    step: StepUnit = "day"
    time_format: str | None = None  # a strftime layout, if detection is not wanted
    delimiter: str | None = None


def read_csv(
    path: Path, mapping: Mapping, options: Options = Options()
) -> tuple[pa.Table, Reading]:
    """The file's transactions in frame.SCHEMA, and how they were read."""
    if not path.is_file():
        raise _bad(f"no such file: {path}", "csv")
    delimiter = options.delimiter or sniff_delimiter(path)
    try:
        raw = pl.read_csv(path, separator=delimiter, infer_schema=False, encoding="utf8-lossy")
    except pl.exceptions.PolarsError as exc:
        raise _bad(f"the file is not CSV that can be read: {type(exc).__name__}", "csv") from None
    return to_transactions(raw, mapping, options, delimiter)


def to_transactions(
    raw: pl.DataFrame, mapping: Mapping, options: Options, delimiter: str = ","
) -> tuple[pa.Table, Reading]:
    """`raw` (every column text) as transactions."""
    missing = sorted({c for cols in mapping.columns.values() for c in cols} - set(raw.columns))
    if missing:
        have = ", ".join(raw.columns[:30])
        raise _bad(
            f"the file has no column {', '.join(map(repr, missing))} (it has: {have})", "map"
        )
    text = {key: _joined(raw, cols) for key, cols in mapping.columns.items()}
    for key in ("source", "target", "amount", "time"):
        _no_blanks(text[key], key)
    amounts, unit, rounded = parse_amounts(
        text["amount"], currency(options.currency).exponent, options.amount_unit
    )
    times, layout = parse_times(text["time"], options.step, options.time_format)
    ids = text.get("id", pl.Series([f"row{i + 2}" for i in range(raw.height)]))
    repeated = ~ids.is_first_distinct()
    if repeated.any():  # scenarios follow a payment by its id
        raise _bad(f"line {int(repeated.arg_true()[0]) + 2}: an id seen before", "id")
    device = text.get("device", pl.Series([None] * raw.height, dtype=pl.String))
    frame = pl.DataFrame(
        {
            "id": ids,
            "source": text["source"],
            "target": text["target"],
            "amount": amounts,
            "at": times,
            "device": device,
        }
    )
    reading = Reading(raw.height, delimiter, unit, layout, rounded)
    return frame.to_arrow().cast(SCHEMA.to_pyarrow()), reading


def sniff_delimiter(path: Path) -> str:
    """The delimiter the header line uses most: comma, semicolon, tab or bar."""
    with path.open("r", encoding="utf-8", errors="replace") as f:
        header = f.readline()
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse_amounts(
    values: pl.Series, exponent: int, unit: AmountUnit = "auto"
) -> tuple[pl.Series, str, int]:
    """Minor units, the unit the values were read in, and how many were rounded (a value
    with more decimals than the currency has, rounded half up)."""
    cleaned = values.str.replace_all(_SYMBOLS, "")
    cleaned = _decimal_point(cleaned)
    bad = ~cleaned.str.contains(r"^\d+(\.\d*)?$")
    if bad.any():
        line = int(bad.arg_true()[0]) + 2
        if cleaned.str.starts_with("-").any():
            raise _bad(f"line {line}: amounts must not be negative", "amount")
        raise _bad(f"line {line}: the amount column is not a number", "amount")
    huge = cleaned.str.contains(r"^\d{16,}")
    if huge.any():  # past what 64 bits of minor units hold; a mis-mapped card number?
        raise _bad(f"line {int(huge.arg_true()[0]) + 2}: the amount is too large", "amount")
    decimal = cleaned.str.contains(r"\.").any()
    if unit == "minor" and decimal:
        raise _bad("--amount-unit minor, but some amounts have decimals", "amount")
    major = unit != "minor"
    scale = exponent if major else 0
    whole = cleaned.str.extract(r"^(\d+)", 1).cast(pl.Int64)
    fraction = cleaned.str.extract(r"\.(\d*)$", 1).fill_null("")
    digits = (fraction + "0" * (scale + 1)).str.slice(0, scale + 1).cast(pl.Int64)
    minor = whole * 10**scale + (digits + 5) // 10
    extra = fraction.str.slice(scale).str.replace_all("0", "").str.len_chars() > 0
    shown = "major" if major else "minor"
    if unit == "auto" and not decimal:
        shown = "major (whole numbers; --amount-unit minor if they are already cents)"
    return minor.rename("amount"), shown, int(extra.sum())


def parse_times(
    values: pl.Series, step: StepUnit = "day", layout: str | None = None
) -> tuple[pl.Series, str]:
    """UTC timestamps (no zone) and the layout they were read with."""
    values = values.str.strip_chars()
    if layout is not None:
        return _with_layout(values, layout), layout
    if values.str.contains(r"^(19|20|21)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$").all():
        compact = _try(values, "%Y%m%d")  # 20240131 is a date, not day 20,240,131
        if compact is not None:
            return compact, "%Y%m%d"
    if values.str.contains(r"^\d{1,15}$").all():
        return _from_integers(values.cast(pl.Int64), step)
    if values.str.contains(r"^\d+\.\d+$").all():
        seconds = values.cast(pl.Float64)  # a time, not money: sub-second precision only
        return pl.from_epoch((seconds * 1_000_000).round().cast(pl.Int64), "us"), "epoch seconds"
    normal = values.str.replace(r"Z$", "+00:00")
    for candidate in TIME_FORMATS:
        parsed = _try(normal, candidate)
        if parsed is not None:
            return parsed, candidate
    fitting = [c for c in AMBIGUOUS_FORMATS if _try(normal, c) is not None]
    if len(fitting) == 1:
        return _with_layout(normal, fitting[0]), fitting[0]
    if len(fitting) > 1:
        raise _bad(
            f"the times read as both {fitting[0]} and {fitting[1]}: pass --time-format", "time"
        )
    line = _first_unreadable(normal) + 2
    raise _bad(f"line {line}: the time column is not a date, time or epoch number", "time")


def _from_integers(numbers: pl.Series, step: StepUnit) -> tuple[pl.Series, str]:
    top = numbers.max()
    top = top if isinstance(top, int) else 0
    if top >= _EPOCH_MILLIS_FROM:
        return pl.from_epoch(numbers, "ms"), "epoch milliseconds"
    if top >= _EPOCH_SECONDS_FROM:
        return pl.from_epoch(numbers, "s"), "epoch seconds"
    seconds = 86_400 if step == "day" else 3_600
    return pl.from_epoch(numbers * seconds, "s"), f"{step} steps"


def _try(values: pl.Series, layout: str) -> pl.Series | None:
    parsed = values.str.to_datetime(layout, strict=False, time_unit="us")
    if parsed.null_count() > values.null_count():
        return None
    return _naive_utc(parsed)


def _with_layout(values: pl.Series, layout: str) -> pl.Series:
    parsed = _try(values, layout)
    if parsed is None:
        line = int(values.str.to_datetime(layout, strict=False).is_null().arg_true()[0]) + 2
        raise _bad(f"line {line}: a time does not match --time-format {layout}", "time")
    return parsed


def _naive_utc(parsed: pl.Series) -> pl.Series:
    if isinstance(parsed.dtype, pl.Datetime) and parsed.dtype.time_zone is not None:
        return parsed.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return parsed


def _first_unreadable(values: pl.Series) -> int:
    """The index of the first value no layout reads."""
    readable = pl.Series([False] * len(values))
    for layout in TIME_FORMATS + AMBIGUOUS_FORMATS:
        readable = readable | values.str.to_datetime(layout, strict=False).is_not_null()
    return int((~readable).arg_true()[0]) if (~readable).any() else 0


def _decimal_point(values: pl.Series) -> pl.Series:
    """`1.234,56` and `1234,5` (a decimal comma) as `1234.56`; `1,234.56` as `1234.56`."""
    comma_decimal = values.str.contains(r"^[\d.]*,\d{1,2}$") & ~values.str.contains(r",\d{3}")
    if comma_decimal.any() and not values.str.contains(r"\.\d{1,2}$").any():
        return values.str.replace_all(r"\.", "").str.replace(",", ".")
    return values.str.replace_all(",", "")


def _joined(raw: pl.DataFrame, columns: tuple[str, ...]) -> pl.Series:
    if len(columns) == 1:
        return raw[columns[0]].str.strip_chars()
    joined = raw.select(
        pl.concat_str([pl.col(c).str.strip_chars() for c in columns], separator=":")
    )
    return joined.to_series().alias("+".join(columns))


def _no_blanks(values: pl.Series, key: str) -> None:
    blank = values.is_null() | (values == "")
    if blank.any():
        line = int(blank.arg_true()[0]) + 2
        raise _bad(f"line {line}: the {key} column is empty", key)


def _bad(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, code="transactions_unreadable", param=param)


def render_time(value: datetime, layout: str) -> str:
    """A time as the file wrote its times: a step number stays a step number."""
    if layout.endswith(" steps"):
        return str(_epoch(value) // (86_400 if layout.startswith("day") else 3_600))
    return value.isoformat()


def _epoch(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1)).total_seconds())


#: the columns of a scan's output file, `account` first
OUTPUT_COLUMNS = ("account", "score", "typologies", "first_seen", "last_seen", "explanation")


def output_rows(flagged: pa.Table, layout: str) -> list[dict[str, str]]:
    """One row per flagged account, times written the way the input wrote them."""
    rows = []
    for r in flagged.to_pylist():
        rows.append(
            {
                "account": r["account"],
                "score": f"{r['score']:.3f}",
                "typologies": r["typologies"],
                "first_seen": render_time(r["first_seen"], layout),
                "last_seen": render_time(r["last_seen"], layout),
                "explanation": r["explanation"],
            }
        )
    return rows
