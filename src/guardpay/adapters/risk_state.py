"""Risk feature state: the history behind `compute_features`, kept per user, device, payee.

`FeatureState` is the port. `MemoryFeatureState` (here) is the embedded default for the
single-process deployment; `RedisFeatureState` (risk_state_redis) is shared by API
workers. Both implement the same semantics, so a contract test compares them snapshot
for snapshot.

Time is whole epoch seconds and windows are relative to the request's `at`, never the
wall clock, so replays and simulations are deterministic.

Velocity windows are bucketed; window `WINDOWS[k]` is served by level `k`, buckets of
`BUCKET_SECONDS[k]` (1 s, 1 min, 15 min, 1 day). An event recorded at second `e` counts
for a request at second `t` in that window iff `e <= t` and `e // size >= t // size -
span + 1` (span = window / size: the `span` most recent buckets, the current one cut
off at `t` using the finer levels). So: nothing later than `t` and nothing older than
the window ever counts, everything younger than the window less one bucket always
counts; the 1m window is exact to the second. The error is at most one bucket at the old
edge (under 2%, 1.7%, 1% and 3.3% of the window's length respectively).

All-time facts (known devices, payees and merchants, amount statistics, hour habit, the
users on a device, the last location) are as recorded so far, in recording order.

Both stores keep enough buckets to answer any request time from one window before the
newest event recorded for that entity onwards (live traffic, in-order replays, and
out-of-order arrivals within a window); for times further back the memory store may
have pruned buckets Redis still holds, and only there may they differ.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Final, Protocol

from guardpay.domain.risk.features import (
    VELOCITY_NAMES,
    ZERO_VELOCITY,
    Location,
    Probe,
    RiskEvent,
    StateSnapshot,
    epoch_seconds,
    welford_step,
)
from guardpay.domain.risk.schema import WINDOW_SECONDS, WINDOWS

BUCKET_SECONDS: Final = (1, 60, 900, 86_400)
SPAN: Final = tuple(WINDOW_SECONDS[w] // s for w, s in zip(WINDOWS, BUCKET_SECONDS, strict=True))
DECLINED: Final = "declined"  # per user, declined attempts; 1h is its longest window
PAYEE_FIRST: Final = "payee_first"  # per payee, first-time payers; 24h is its longest
DEPTH: Final[dict[str, int]] = {
    "user": 4,
    "device": 4,
    "ip": 4,
    "payee": 4,
    "merchant": 4,
    DECLINED: 2,
    PAYEE_FIRST: 3,
}

Buckets = dict[int, int]  # bucket index -> pack(count, sum of amounts)
_COUNT_BITS: Final = 32
_COUNT_MASK: Final = (1 << _COUNT_BITS) - 1


class FeatureState(Protocol):
    def snapshot(self, req: Probe) -> StateSnapshot:
        """The history of `req`'s user, device, IP, payee and merchant as of `req.at`."""
        ...

    def snapshot_many(self, probes: Sequence[Probe]) -> list[StateSnapshot]:
        """`snapshot` of each, in order: for a micro-batch, one round trip in all."""
        ...

    def record(self, event: RiskEvent) -> None:
        """Add a decided request to the history (any order; windows use `event.ts`)."""
        ...

    def record_many(self, events: Iterable[RiskEvent]) -> None:
        """Record a batch, e.g. history loaded at start-up; same result as one by one."""
        ...

    def clear(self) -> None:
        """Forget everything (tests, simulations)."""
        ...


def window_totals(
    levels: Sequence[Mapping[int, int]], ts: int, newest: int | None = None
) -> list[tuple[int, int]]:
    """(count, sum) in WINDOWS[:len(levels)] at second `ts`; see the module docstring.

    Buckets hold `pack(count, sum)`. The current bucket of level k is cut at `ts` by
    summing the finer level's buckets since its start (`head`), so events recorded later
    than `ts` never count. `newest` (the latest event's second, if known) lets a level
    whose window holds nothing skip its scan: the common case for a sparse user.
    """
    out: list[tuple[int, int]] = []
    head = levels[0].get(ts, 0)  # level 0 buckets are the seconds themselves
    for k, data in enumerate(levels):
        now = ts // BUCKET_SECONDS[k]
        lo, hi, mid = now - SPAN[k] + 1, now - 1, now
        if k + 1 < len(BUCKET_SECONDS):
            mid = ts // BUCKET_SECONDS[k + 1] * (BUCKET_SECONDS[k + 1] // BUCKET_SECONDS[k])
        if newest is not None and newest // BUCKET_SECONDS[k] < lo:
            full = part = 0
        else:
            full, part = _scan(data, lo, hi, mid)
        out.append(unpack(full + head))
        head += part
    return out


def pack(count: int, total: int) -> int:
    """Count and sum in one int, so a bucket is one dict value: half the lookups and no
    per-bucket object for the GC to track. Exact while a window holds < 2**32 events."""
    return (total << _COUNT_BITS) + count


def unpack(packed: int) -> tuple[int, int]:
    return packed & _COUNT_MASK, packed >> _COUNT_BITS


def _scan(data: Mapping[int, int], lo: int, hi: int, mid: int) -> tuple[int, int]:
    """Totals of the buckets in [lo, hi] and in [mid, hi] (mid >= lo), visiting whichever
    is fewer: the stored buckets (sparse users) or the range (busy merchants)."""
    if hi < lo:
        return 0, 0
    if len(data) > hi - lo + 1:
        get = data.get
        part = sum(map(get, range(mid, hi + 1), repeat(0)))
        return sum(map(get, range(lo, mid), repeat(0))) + part, part
    full = part = 0
    for b, value in data.items():
        if lo <= b <= hi:
            full += value
            if b >= mid:
                part += value
    return full, part


def velocity_from_totals(totals: Mapping[str, Sequence[tuple[int, int]]]) -> dict[str, int]:
    """The `<entity>_count|sum_<window>` mapping from per-entity window totals."""
    out = dict(ZERO_VELOCITY)
    for entity, windows in totals.items():
        for (count_name, sum_name), (count, total) in zip(
            VELOCITY_NAMES[entity], windows, strict=True
        ):
            out[count_name] = count
            out[sum_name] = total
    return out


class _Series:
    """Bucketed counters of one (kind, id), one dict per level."""

    __slots__ = ("levels", "newest")

    def __init__(self, depth: int) -> None:
        self.levels: list[Buckets] = [{} for _ in range(depth)]
        self.newest = 0

    def add(self, ts: int, amount: int) -> None:
        self.newest = max(self.newest, ts)
        step = pack(1, amount)
        for k, data in enumerate(self.levels):
            b = ts // BUCKET_SECONDS[k]
            data[b] = data.get(b, 0) + step
            if len(data) > 3 * SPAN[k]:
                self._prune(k)

    def _prune(self, k: int) -> None:
        """Keep two windows behind the newest event: enough for any request time no more
        than one window older than it."""
        cut = self.newest // BUCKET_SECONDS[k] - 2 * SPAN[k]
        data = self.levels[k]
        for b in [b for b in data if b < cut]:
            del data[b]


@dataclass(slots=True)
class _User:
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    hours: list[int] = field(default_factory=lambda: [0] * 24)
    devices: set[str] = field(default_factory=set)
    payees: set[str] = field(default_factory=set)
    merchants: set[str] = field(default_factory=set)
    location: Location | None = None
    location_ts: int | None = None


_EMPTY_USER: Final = _User()


class MemoryFeatureState:
    """In-process state behind one lock: the embedded single-process deployment.

    Memory is bounded for counters: a series keeps two windows of buckets behind its
    newest event, and a series idle for two of its longest windows (behind the newest
    event seen anywhere) is dropped by a sweep whose cost is amortised over records.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._series: dict[tuple[str, str], _Series] = {}
            self._users: dict[str, _User] = {}
            self._device_users: dict[str, set[str]] = {}
            self._newest = 0
            self._since_sweep = 0

    def snapshot_many(self, probes: Sequence[Probe]) -> list[StateSnapshot]:
        return [self.snapshot(probe) for probe in probes]

    def snapshot(self, req: Probe) -> StateSnapshot:
        ts = epoch_seconds(req.at)
        with self._lock:
            totals = {e: self._totals(e, i, ts) for e, i in req.entity_ids()}
            declined = self._totals(DECLINED, req.user_id, ts)[1][0]
            payee_first = 0
            if req.payee_id is not None:
                payee_first = self._totals(PAYEE_FIRST, req.payee_id, ts)[2][0]
            user = self._users.get(req.user_id, _EMPTY_USER)
            on_device = self._device_users.get(req.device_id or "", set())
            return StateSnapshot(
                velocity=velocity_from_totals(totals),
                user_count=user.count,
                user_mean=user.mean,
                user_m2=user.m2,
                hour_histogram=tuple(user.hours),
                device_known=req.device_id in user.devices,
                device_users=len(on_device),
                device_user_seen=req.user_id in on_device,
                payee_known=req.payee_id in user.payees,
                merchant_known=req.merchant_id in user.merchants,
                last_location=user.location,
                last_location_ts=user.location_ts,
                payee_new_payers_24h=payee_first,
                user_declined_1h=declined,
            )

    def _totals(self, kind: str, ident: str, ts: int) -> list[tuple[int, int]]:
        series = self._series.get((kind, ident))
        if series is None:
            return [(0, 0)] * DEPTH[kind]
        return window_totals(series.levels, ts, series.newest)

    def record(self, event: RiskEvent) -> None:
        with self._lock:
            self._apply(event)

    def record_many(self, events: Iterable[RiskEvent]) -> None:
        with self._lock:
            for event in events:
                self._apply(event)

    def _apply(self, e: RiskEvent) -> None:
        if e.device_id is not None:
            self._device_users.setdefault(e.device_id, set()).add(e.user_id)
        if not e.accepted:
            self._bump(DECLINED, e.user_id, e.ts, 0)
            return
        user = self._users.get(e.user_id)
        if user is None:
            user = self._users[e.user_id] = _User()
        if e.device_id is not None:
            user.devices.add(e.device_id)
        if e.location is not None and (user.location_ts is None or e.ts >= user.location_ts):
            user.location, user.location_ts = e.location, e.ts
        if e.money_moving:
            self._apply_money(e, user)

    def _apply_money(self, e: RiskEvent, user: _User) -> None:
        user.count, user.mean, user.m2 = welford_step(user.count, user.mean, user.m2, e.amount)
        user.hours[e.hour_local] += 1
        for entity, ident in e.entity_ids():
            self._bump(entity, ident, e.ts, e.amount)
        if e.payee_id is not None and e.payee_id not in user.payees:
            user.payees.add(e.payee_id)
            self._bump(PAYEE_FIRST, e.payee_id, e.ts, e.amount)
        if e.merchant_id is not None:
            user.merchants.add(e.merchant_id)

    def _bump(self, kind: str, ident: str, ts: int, amount: int) -> None:
        series = self._series.get((kind, ident))
        if series is None:
            series = self._series[(kind, ident)] = _Series(DEPTH[kind])
        series.add(ts, amount)
        self._newest = max(self._newest, ts)
        self._since_sweep += 1
        if self._since_sweep >= max(4096, len(self._series)):
            self._sweep()

    def _sweep(self) -> None:
        """Drop series idle for two of their longest windows (amortised O(1) a record)."""
        self._since_sweep = 0
        idle = [
            key
            for key, series in self._series.items()
            if series.newest < self._newest - 2 * WINDOW_SECONDS[WINDOWS[DEPTH[key[0]] - 1]]
        ]
        for key in idle:
            del self._series[key]
