"""A small synthetic transactions table in the simulator's schema, with obvious fraud.

Ten days of ordinary small merchant payments by 120 long-standing users, plus:
- account_takeover: 4 a day, a victim's password changed an hour earlier, then a new
  device drains 90 % of the balance to a payee account two days old;
- card_testing: one burst a day of 6 small top-ups within minutes from an account
  created an hour earlier.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

START = datetime(2025, 3, 1, tzinfo=UTC)
DAYS, USERS, MERCHANTS, LEGIT_PER_DAY = 10, 120, 20, 180
BALANCE = 500_000


def iso(at: datetime | None) -> str:
    return "" if at is None else at.strftime("%Y-%m-%dT%H:%M:%SZ")


def base(at: datetime, user: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ts": at,
        "day": (at - START).days,
        "kind": "payment",
        "channel": "qr_dynamic",
        "user_id": user,
        "payee_id": "",
        "payee_is_merchant": False,
        "merchant_id": "",
        "amount": 0,
        "currency": "CNY",
        "device_id": f"dev-{user}",
        "ip": f"ip-{user}",
        "lat": 31.23,
        "lon": 121.47,
        "account_created_at": START - timedelta(days=300),
        "account_class": 2,
        "balance_before": BALANCE,
        "credential_changed_at": None,
        "payee_created_at": None,
        "payment_id": "",
        "status": "done",
        "decision": "",
        "score": None,
        "is_fraud": 0,
        "fraud_typology": "",
        "is_laundering": 0,
        "laundering_typology": "",
        "case_id": "",
    }
    row.update(extra)
    return row


def legit(rng: np.random.Generator, day: int, count: int) -> list[dict[str, Any]]:
    rows = []
    for _ in range(count):
        at = START + timedelta(days=day, seconds=int(rng.integers(0, 86_400)))
        merchant = f"m{int(rng.integers(0, MERCHANTS)):02d}"
        amount = int(min(40_000, rng.lognormal(8.0, 0.6)))
        rows.append(
            base(
                at,
                f"u{int(rng.integers(0, USERS)):03d}",
                payee_id=merchant,
                payee_is_merchant=True,
                merchant_id=merchant,
                amount=amount,
            )
        )
    return rows


def takeovers(rng: np.random.Generator, day: int) -> list[dict[str, Any]]:
    rows = []
    for k in range(4):
        at = START + timedelta(days=day, seconds=int(rng.integers(3_600, 86_400)))
        tag = f"{day}-{k}"
        rows.append(
            base(
                at,
                f"u{int(rng.integers(0, USERS)):03d}",
                kind="transfer",
                channel="p2p",
                payee_id=f"mule-{tag}",
                device_id=f"fd-{tag}",
                ip=f"fip-{tag}",
                lat=23.13,
                lon=113.26,
                amount=BALANCE * 9 // 10,
                credential_changed_at=at - timedelta(hours=1),
                payee_created_at=at - timedelta(days=2),
                is_fraud=1,
                fraud_typology="account_takeover",
            )
        )
    return rows


def card_testing(rng: np.random.Generator, day: int) -> list[dict[str, Any]]:
    start = START + timedelta(days=day, seconds=int(rng.integers(3_600, 80_000)))
    user = f"ct-{day}"
    return [
        base(
            start + timedelta(seconds=40 * i),
            user,
            kind="topup",
            channel="card",
            amount=int(rng.integers(100, 900)),
            account_created_at=start - timedelta(hours=1),
            account_class=0,
            balance_before=0,
            device_id=f"ctd-{day}",
            ip="ct-ip",
            is_fraud=1,
            fraud_typology="card_testing",
        )
        for i in range(6)
    ]


def transactions(seed: int = 5, legit_per_day: int = LEGIT_PER_DAY) -> pl.DataFrame:
    """The table as the simulator writes it: ISO-8601 UTC strings, time ordered."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(DAYS):
        rows += legit(rng, day, legit_per_day) + takeovers(rng, day) + card_testing(rng, day)
    rows.sort(key=lambda r: r["ts"])
    for i, row in enumerate(rows):
        row["tx_id"] = f"tx{i:05d}"
        for name in ("ts", "account_created_at", "credential_changed_at", "payee_created_at"):
            row[name] = iso(row[name])
    return pl.DataFrame(rows, infer_schema_length=None)
