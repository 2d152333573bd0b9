"""Bring-your-own-data: turn a messy CSV export into a feature matrix, labels and times.

Exports from other systems are never clean: spreadsheets quote numbers and add thousands
separators, every tool spells "missing" differently, labels arrive as "fraud"/"legit" or
" TRUE ", timestamps as ISO strings or epoch numbers. Everything is read as text and
cleaned here, column by column, so one odd cell never changes how a whole column is typed
(polars' type inference would turn a column to strings on its first "N/A"). Whatever is
used or skipped is reported back, so the person training sees what the model saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import numpy as np
import polars as pl

from guardpay.errors import InvalidRequest

MISSING: Final = frozenset({"", "na", "n/a", "null", "nan", "none", "-", "?", "#n/a"})
NUMERIC_SHARE: Final = 0.95
POSITIVE: Final = frozenset({"1", "true", "t", "yes", "y", "fraud"})
NEGATIVE: Final = frozenset({"0", "false", "f", "no", "n", "legit"})
EPOCH_MS_ABOVE: Final = 1e11  # 1e11 seconds is the year 5138: larger epochs are in ms
_THOUSANDS: Final = r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?([eE][+-]?\d+)?$"
_MAX_LISTED: Final = 10


@dataclass(frozen=True)
class CsvData:
    """A cleaned training CSV. `X` is float64 with NaN for missing, `y` is 0/1, `times`
    are epoch seconds (None without a time column)."""

    X: np.ndarray
    feature_names: list[str]
    y: np.ndarray
    label_column: str
    times: np.ndarray | None = None
    time_column: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why
    coerced: dict[str, int] = field(default_factory=dict)  # feature -> unparsable cells

    @property
    def rows(self) -> int:
        return int(self.X.shape[0])


def read_text_csv(path: Path) -> pl.DataFrame:
    """Every cell as a string (BOM dropped, quotes removed by the CSV parser)."""
    if not path.is_file():
        raise InvalidRequest(f"no such file: {path}", code="file_not_found", param="csv")
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InvalidRequest(
            f"cannot read {path} as CSV: {exc}", code="invalid_csv", param="csv"
        ) from exc
    if frame.height == 0:
        raise InvalidRequest(f"{path} has no data rows", code="empty_csv", param="csv")
    frame.columns = [c.strip().lstrip("\ufeff") for c in frame.columns]
    return frame


def clean_text(column: pl.Series) -> pl.Series:
    """Trimmed strings with every spelling of "missing" turned into null."""
    text = column.cast(pl.String).str.strip_chars()
    return text.set(text.is_null() | text.str.to_lowercase().is_in(list(MISSING)), None)


def parse_numbers(text: pl.Series) -> pl.Series:
    """Float64 from cleaned text: exponents, signs, "1,234.5"; anything else (and ±inf,
    which no feature legitimately holds) becomes null."""
    plain = (
        pl.when(text.str.contains(_THOUSANDS)).then(text.str.replace_all(",", "")).otherwise(text)
    )
    frame = pl.DataFrame({"t": text}).select(plain.alias("t"))
    numbers = frame.to_series().cast(pl.Float64, strict=False)
    return numbers.set(~numbers.is_finite().fill_null(False), None)


def numeric_share(text: pl.Series, numbers: pl.Series) -> float:
    """Share of present (non-missing) cells that parsed as numbers; 0.0 if none present."""
    present = text.len() - text.null_count()
    return (numbers.len() - numbers.null_count()) / present if present else 0.0


def parse_label(column: pl.Series, name: str) -> np.ndarray:
    """0/1 labels from numbers or words (case and surrounding spaces ignored); every
    unrecognised spelling is named in the error, because guessing a label is never safe."""
    text = clean_text(column).str.to_lowercase()
    numbers = parse_numbers(text)
    bad: dict[str, int] = {}
    out = np.empty(len(text), dtype=np.int8)
    for i, (word, number) in enumerate(zip(text.to_list(), numbers.to_list(), strict=True)):
        if number in (0.0, 1.0):
            out[i] = int(number)
        elif word in POSITIVE or word in NEGATIVE:
            out[i] = 1 if word in POSITIVE else 0
        else:
            key = "<missing>" if word is None else repr(word)
            bad[key] = bad.get(key, 0) + 1
    if bad:
        listed = ", ".join(f"{k} ({n}x)" for k, n in list(bad.items())[:_MAX_LISTED])
        raise InvalidRequest(
            f"label column {name!r} has unrecognised values: {listed}; expected 1/0, "
            "true/false, t/f, yes/no or fraud/legit",
            code="invalid_label",
            param=name,
        )
    return out


def _parse_instant(text: str) -> float | None:
    """Epoch seconds from an ISO 8601 date or datetime; naive values are taken as UTC
    (only their order matters for the split)."""
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_times(column: pl.Series, name: str) -> np.ndarray:
    """Epoch seconds from epoch numbers (seconds, or milliseconds when implausibly
    large) or ISO strings. A row without a usable time cannot be placed before or
    after the split, so any such row is an error rather than a guess."""
    text = clean_text(column)
    numbers = parse_numbers(text)
    seconds: list[float | None] = []
    cache: dict[str, float | None] = {}
    for word, number in zip(text.to_list(), numbers.to_list(), strict=True):
        if number is not None:
            seconds.append(number / 1000 if abs(number) > EPOCH_MS_ABOVE else number)
        elif word is None:
            seconds.append(None)
        else:
            seconds.append(
                cache[word] if word in cache else cache.setdefault(word, _parse_instant(word))
            )
    bad = [
        f"row {i + 2}: {w!r}"
        for i, (w, s) in enumerate(zip(text.to_list(), seconds, strict=True))
        if s is None
    ]
    if bad:
        raise InvalidRequest(
            f"time column {name!r} has {len(bad)} missing or unparsable value(s), e.g. "
            + "; ".join(bad[:5])
            + " (use ISO 8601 dates/datetimes or epoch seconds/ms)",
            code="invalid_time",
            param=name,
        )
    return np.array(seconds, dtype=np.float64)


def _require_column(frame: pl.DataFrame, name: str, param: str) -> None:
    if name not in frame.columns:
        raise InvalidRequest(
            f"column {name!r} not in the CSV (columns: {', '.join(frame.columns)})",
            code="unknown_column",
            param=param,
        )


def _as_matrix(columns: Sequence[pl.Series], rows: int) -> np.ndarray:
    if not columns:
        return np.empty((rows, 0), dtype=np.float64)
    stacked = np.column_stack([c.to_numpy(allow_copy=True).astype(np.float64) for c in columns])
    return np.ascontiguousarray(stacked, dtype=np.float64)


def load_training_csv(path: Path, label: str, time_column: str | None = None) -> CsvData:
    """Labels, times and every numeric column as a feature. A column is numeric when at
    least 95 % of its present cells parse as numbers (the rest become missing and are
    counted in `coerced`); other columns are skipped with a reason."""
    frame = read_text_csv(path)
    _require_column(frame, label, "label")
    if time_column is not None:
        _require_column(frame, time_column, "time_column")
        if time_column == label:
            raise InvalidRequest(
                "the label and time columns must differ", code="invalid_time", param="time_column"
            )
    y = parse_label(frame[label], label)
    times = None if time_column is None else parse_times(frame[time_column], time_column)
    used: list[pl.Series] = []
    skipped: dict[str, str] = {}
    coerced: dict[str, int] = {}
    for name in frame.columns:
        if name in (label, time_column):
            continue
        text = clean_text(frame[name])
        numbers = parse_numbers(text)
        share = numeric_share(text, numbers)
        if text.null_count() == text.len():
            skipped[name] = "no values"
        elif share < NUMERIC_SHARE:
            skipped[name] = f"not numeric ({share:.0%} of values are numbers)"
        else:
            used.append(numbers.alias(name))
            if bad := numbers.null_count() - text.null_count():
                coerced[name] = bad
    if not used:
        raise InvalidRequest(
            f"{path} has no numeric feature columns", code="no_features", param="csv"
        )
    return CsvData(
        _as_matrix(used, frame.height),
        [s.name for s in used],
        y,
        label,
        times,
        time_column,
        skipped,
        coerced,
    )


def load_scoring_csv(path: Path, feature_names: Sequence[str]) -> np.ndarray:
    """The model's features, in the model's order; extra columns are ignored, missing
    ones are an error naming all of them (scoring without a feature would silently
    change what the model means). Unparsable cells become NaN, as in training."""
    frame = read_text_csv(path)
    absent = [n for n in feature_names if n not in frame.columns]
    if absent:
        raise InvalidRequest(
            f"the CSV lacks the model's feature column(s): {', '.join(absent)}",
            code="missing_feature_columns",
            param="csv",
        )
    columns = [parse_numbers(clean_text(frame[n])).alias(n) for n in feature_names]
    return _as_matrix(columns, frame.height)
