"""The simulator's transactions table, read and typed for a replay.

`DIR/transactions.parquet` if present, else `DIR/transactions.csv`: one row per attempted
money-moving request, in time order (sorted again here, stably, to be sure). Times become
aware UTC datetimes, empty strings become missing, and each row turns into the
`RiskRequest` the payment path would have built for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import polars as pl

from guardpay.domain.risk.features import RiskRequest
from guardpay.domain.risk.schema import KINDS
from guardpay.errors import InvalidRequest

TIME_COLUMNS: Final = ("ts", "account_created_at", "credential_changed_at", "payee_created_at")
TEXT_COLUMNS: Final = (
    "tx_id",
    "kind",
    "channel",
    "user_id",
    "payee_id",
    "merchant_id",
    "currency",
    "device_id",
    "ip",
    "fraud_typology",
    "laundering_typology",
)
REQUIRED: Final = (
    "tx_id",
    "ts",
    "day",
    "kind",
    "channel",
    "user_id",
    "amount",
    "currency",
    "account_created_at",
    "is_fraud",
)
OPTIONAL_DEFAULTS: Final[dict[str, Any]] = {
    "payee_id": None,
    "payee_is_merchant": False,
    "merchant_id": None,
    "device_id": None,
    "ip": None,
    "lat": None,
    "lon": None,
    "account_class": 0,
    "balance_before": 0,
    "credential_changed_at": None,
    "payee_created_at": None,
    "fraud_typology": "",
    "is_laundering": 0,
    "laundering_typology": "",
}


def read_transactions(directory: Path) -> pl.DataFrame:
    """The transactions of `directory`, typed and in time order."""
    parquet, csv = directory / "transactions.parquet", directory / "transactions.csv"
    if parquet.exists():
        frame = pl.read_parquet(parquet)
    elif csv.exists():
        overrides = {name: pl.String for name in (*TEXT_COLUMNS, *TIME_COLUMNS)}
        frame = pl.read_csv(csv, schema_overrides=overrides, infer_schema_length=10_000)
    else:
        raise InvalidRequest(
            f"no transactions.parquet or transactions.csv in {directory}",
            code="data_missing",
            param="data",
        )
    return prepare(frame)


def prepare(frame: pl.DataFrame) -> pl.DataFrame:
    """Check the columns, fill optional ones, type times as UTC and sort by time."""
    missing = [name for name in REQUIRED if name not in frame.columns]
    if missing:
        raise InvalidRequest(
            f"the transactions table lacks {', '.join(missing)}", code="data_invalid", param="data"
        )
    for name, default in OPTIONAL_DEFAULTS.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(default).alias(name))
    text = [name for name in TEXT_COLUMNS if name in frame.columns]
    frame = frame.with_columns(
        [pl.col(name).cast(pl.String).replace("", None) for name in text]
        + [_utc(frame, name) for name in TIME_COLUMNS]
    )
    return frame.with_columns(
        pl.col("fraud_typology").fill_null(""),
        pl.col("laundering_typology").fill_null(""),
        pl.col("is_fraud").cast(pl.Int8).fill_null(0),
        pl.col("is_laundering").cast(pl.Int8).fill_null(0),
        pl.col("amount").cast(pl.Int64),
        pl.col("day").cast(pl.Int64),
        pl.col("payee_is_merchant").cast(pl.Boolean).fill_null(False),
    ).sort("ts", maintain_order=True)


def _utc(frame: pl.DataFrame, name: str) -> pl.Expr:
    dtype = frame.schema[name]
    col = pl.col(name)
    if dtype == pl.String:
        return col.replace("", None).str.to_datetime(time_unit="us", time_zone="UTC")
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return col.dt.replace_time_zone("UTC")
        return col.dt.convert_time_zone("UTC")
    return col.cast(pl.Datetime("us", "UTC"))


@dataclass(frozen=True)
class DaySplit:
    train_days: tuple[int, ...]
    eval_days: tuple[int, ...]

    @property
    def first_eval_day(self) -> int:
        return self.eval_days[0]


def split_days(frame: pl.DataFrame, train_share: float) -> DaySplit:
    """The first `train_share` of the distinct days train, the rest are evaluated; each
    side gets at least one day."""
    if not 0.0 < train_share < 1.0:
        raise InvalidRequest(
            "--train-share must be between 0 and 1 (exclusive)",
            code="parameter_invalid",
            param="train_share",
        )
    days = tuple(sorted(int(d) for d in frame["day"].unique().to_list()))
    if len(days) < 2:
        raise InvalidRequest(
            f"the data covers {len(days)} day(s); at least 2 are needed "
            "to train on some and evaluate on the rest",
            code="data_too_short",
            param="data",
        )
    cut = min(len(days) - 1, max(1, round(train_share * len(days))))
    return DaySplit(days[:cut], days[cut:])


def to_request(row: Mapping[str, Any]) -> RiskRequest | None:
    """The request the payment path would have built for `row` (None: a kind the risk
    engine does not know, which the replay skips and counts)."""
    if row["kind"] not in KINDS:
        return None
    lat, lon = row["lat"], row["lon"]
    return RiskRequest(
        kind=row["kind"],
        channel=row["channel"] or "",
        user_id=row["user_id"],
        amount=int(row["amount"]),
        currency=row["currency"] or "",
        at=_aware(row["ts"]),
        account_created_at=_aware(row["account_created_at"]),
        balance_before=int(row["balance_before"] or 0),
        account_class=int(row["account_class"] or 0),
        device_id=row["device_id"],
        ip=row["ip"],
        payee_id=row["payee_id"],
        payee_is_merchant=bool(row["payee_is_merchant"]),
        merchant_id=row["merchant_id"],
        location=None if lat is None or lon is None else (float(lat), float(lon)),
        credential_changed_at=row["credential_changed_at"],
        payee_created_at=row["payee_created_at"],
    )


def _aware(value: datetime | None) -> datetime:
    if value is None:
        raise InvalidRequest("a transaction lacks a required time", code="data_invalid")
    return value
