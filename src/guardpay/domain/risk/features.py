"""Risk features: one request set against the history of its user, device, IP and payee.

Pure, so the same code scores live traffic, replays and simulations, and is tested without
Redis. The payment path builds a `RiskRequest`, asks a state store
(`guardpay.adapters.risk_state`) for the `StateSnapshot` of that request, and
`compute_features` turns the two into exactly the names of `schema.FEATURES`. Once the
request is decided (and, if allowed, committed) the caller records
`RiskEvent.from_request(req, accepted=...)` so later requests see it.

What a recorded event feeds (the stores implement exactly this):
- accepted money-moving request (`MONEY_KINDS`): the velocity counters of its user,
  device, IP, payee and merchant; the user's amount statistics and hour-of-day habit;
  the user's known payees and merchants (a payee's first accepted payment from a user
  also counts that user as one of the payee's first-time payers at that time);
- any accepted request: the user's known devices and last location;
- any request, accepted or declined: the users seen on its device;
- declined request: the user's declined attempts.

Money stays integer minor units; ratios, statistics and distances are floats because
they are measurements.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from guardpay.domain.risk.schema import ENTITIES, KINDS, WINDOWS, Value

LOCAL_TZ: Final = ZoneInfo("Asia/Shanghai")
MONEY_KINDS: Final = frozenset({"payment", "transfer", "withdrawal", "topup", "red_packet"})
EARTH_RADIUS_KM: Final = 6371.0088
MIN_TRAVEL_HOURS: Final = 1 / 60  # GPS jitter seconds apart must not read as supersonic
HOUR_HABIT_MIN_HISTORY: Final = 20
HOUR_HABIT_RARE_SHARE: Final = 0.02
_CREDENTIAL_RECENT: Final = timedelta(hours=24)
_DAY_SECONDS: Final = 86_400.0

# entity -> ((count name, sum name) per window, in WINDOWS order)
VELOCITY_NAMES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    entity: tuple((f"{entity}_count_{w}", f"{entity}_sum_{w}") for w in WINDOWS)
    for entity in ENTITIES
}
ZERO_VELOCITY: Final[dict[str, int]] = {
    name: 0 for pairs in VELOCITY_NAMES.values() for pair in pairs for name in pair
}

Location = tuple[float, float]  # (latitude, longitude) in degrees


def epoch_seconds(at: datetime) -> int:
    """Whole seconds since the epoch: the stores' time resolution (1 s)."""
    return math.floor(at.timestamp())


@dataclass(frozen=True, slots=True)
class RiskRequest:
    """What the payment path knows about one request when it asks for a decision."""

    kind: str  # one of schema.KINDS
    channel: str
    user_id: str
    amount: int  # minor units
    currency: str
    at: datetime  # aware
    account_created_at: datetime
    balance_before: int = 0
    account_class: int = 0  # 0 unverified, 1..3 PBOC classes I..III
    device_id: str | None = None
    ip: str | None = None
    payee_id: str | None = None
    payee_is_merchant: bool = False
    merchant_id: str | None = None
    location: Location | None = None
    credential_changed_at: datetime | None = None
    payee_created_at: datetime | None = None
    list_block_hit: bool = False
    list_allow_hit: bool = False

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("RiskRequest.at must be timezone-aware")
        if self.kind not in KINDS:
            raise ValueError(f"unknown request kind {self.kind!r}")
        if not 0 <= self.account_class <= 3:
            raise ValueError(f"account_class must be 0..3, not {self.account_class}")

    @property
    def moves_money(self) -> bool:
        return self.kind in MONEY_KINDS

    def entity_ids(self) -> tuple[tuple[str, str], ...]:
        """(entity, id) for each velocity entity this request names, in ENTITIES order."""
        return _entity_ids(self.user_id, self.device_id, self.ip, self.payee_id, self.merchant_id)


def _entity_ids(
    user: str, device: str | None, ip: str | None, payee: str | None, merchant: str | None
) -> tuple[tuple[str, str], ...]:
    pairs = (("user", user), ("device", device), ("ip", ip), ("payee", payee))
    named = tuple((e, i) for e, i in pairs if i is not None)
    return (*named, ("merchant", merchant)) if merchant is not None else named


class Probe(Protocol):
    """What a state store is asked about: whose history (the request's user, device,
    IP, payee and merchant), as of when. A `RiskRequest` is one; so is a `StateProbe`,
    what a micro-batch knows of a payment before it runs."""

    @property
    def at(self) -> datetime: ...
    @property
    def user_id(self) -> str: ...
    @property
    def device_id(self) -> str | None: ...
    @property
    def ip(self) -> str | None: ...
    @property
    def payee_id(self) -> str | None: ...
    @property
    def merchant_id(self) -> str | None: ...
    def entity_ids(self) -> tuple[tuple[str, str], ...]: ...


@dataclass(frozen=True, slots=True)
class StateProbe:
    user_id: str
    at: datetime
    device_id: str | None = None
    ip: str | None = None
    payee_id: str | None = None
    merchant_id: str | None = None

    def entity_ids(self) -> tuple[tuple[str, str], ...]:
        return _entity_ids(self.user_id, self.device_id, self.ip, self.payee_id, self.merchant_id)


ProbeKey = tuple[str, str | None, str | None, str | None, str | None, int]


def probe_key(probe: Probe) -> ProbeKey:
    """Two probes with the same key get the same snapshot from a store (its time
    resolution is one second)."""
    return (
        probe.user_id,
        probe.device_id,
        probe.ip,
        probe.payee_id,
        probe.merchant_id,
        epoch_seconds(probe.at),
    )


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    """The history a store holds for one request, as of the request's time.

    `velocity` maps every `<entity>_count|sum_<window>` name to its value (missing = 0);
    the user's amount statistics are Welford's (count, mean, M2) over accepted
    money-moving requests; `last_location_ts` is epoch seconds.
    """

    velocity: Mapping[str, int] = field(default_factory=dict)
    user_count: int = 0
    user_mean: float = 0.0
    user_m2: float = 0.0
    hour_histogram: tuple[int, ...] = (0,) * 24
    device_known: bool = False  # this device was used by this user in an accepted request
    device_users: int = 0  # distinct users seen on this device, ever (this one if recorded)
    device_user_seen: bool = False  # this user is among them
    payee_known: bool = False
    merchant_known: bool = False
    last_location: Location | None = None
    last_location_ts: int | None = None
    payee_new_payers_24h: int = 0
    user_declined_1h: int = 0

    @property
    def amount_std(self) -> float:
        """Sample standard deviation of the user's past amounts (0 below two): a
        statistic for the features, never an amount (see `welford_step`)."""
        return math.sqrt(self.user_m2 / (self.user_count - 1)) if self.user_count > 1 else 0.0


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """A decided request, as the state stores record it (see the module docstring)."""

    ts: int  # epoch seconds
    user_id: str
    amount: int  # minor units; 0 when no money moves
    accepted: bool
    money_moving: bool
    hour_local: int
    device_id: str | None = None
    ip: str | None = None
    payee_id: str | None = None
    merchant_id: str | None = None
    location: Location | None = None

    @classmethod
    def from_request(cls, req: RiskRequest, *, accepted: bool) -> RiskEvent:
        money = req.moves_money
        return cls(
            ts=epoch_seconds(req.at),
            user_id=req.user_id,
            amount=req.amount if money else 0,
            accepted=accepted,
            money_moving=money,
            hour_local=hour_local(req.at),
            device_id=req.device_id,
            ip=req.ip,
            payee_id=req.payee_id,
            merchant_id=req.merchant_id,
            location=req.location,
        )

    def entity_ids(self) -> tuple[tuple[str, str], ...]:
        return _entity_ids(self.user_id, self.device_id, self.ip, self.payee_id, self.merchant_id)


def welford_step(count: int, mean: float, m2: float, amount: int) -> tuple[int, float, float]:
    """One step of Welford's running (count, mean, M2): stable for large amounts, and the
    Redis store's script does the same float operations in the same order, so both stores
    hold bit-identical statistics. These are measurements of amounts for the features,
    never money: nothing here is posted, compared with a balance or shown as an amount,
    so floats are right (DESIGN.md forbids them for money only)."""
    n = count + 1
    x = float(amount)
    delta = x - mean
    mean = mean + delta / n
    return n, mean, m2 + delta * (x - mean)


def welford_stats(amounts: Iterable[int]) -> tuple[int, float, float]:
    """(count, mean, M2) of `amounts`, as a store would hold them after recording each."""
    count, mean, m2 = 0, 0.0, 0.0
    for amount in amounts:
        count, mean, m2 = welford_step(count, mean, m2, amount)
    return count, mean, m2


def hour_local(at: datetime) -> int:
    """Hour of day 0..23 in the platform's local time (Asia/Shanghai)."""
    return at.astimezone(LOCAL_TZ).hour


def haversine_km(a: Location, b: Location) -> float:
    """Great-circle distance between two (lat, lon) points in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def speed_kmh(distance_km: float, elapsed_seconds: float) -> float:
    """Distance over time, with the time floored at one minute (never divides by zero)."""
    return distance_km / max(elapsed_seconds / 3600, MIN_TRAVEL_HOURS)


def hour_share(histogram: tuple[int, ...], hour: int) -> float:
    """Share of past requests in `hour` or either neighbour (circular: 23 borders 0)."""
    total = sum(histogram)
    if total == 0:
        return 0.0
    near = histogram[(hour - 1) % 24] + histogram[hour] + histogram[(hour + 1) % 24]
    return near / total


def amount_zscore(amount: int, snap: StateSnapshot) -> float:
    """How many standard deviations `amount` sits from the user's mean (0 if undefined).
    A unitless feature: the amount itself stays an int and nothing here becomes money."""
    std = snap.amount_std
    return (amount - snap.user_mean) / std if std > 0 else 0.0


def days_between(earlier: datetime | None, later: datetime) -> float:
    """Age in days, never negative; 0 when the start is unknown."""
    if earlier is None:
        return 0.0
    return max(0.0, (later - earlier).total_seconds() / _DAY_SECONDS)


def _location_features(req: RiskRequest, snap: StateSnapshot) -> tuple[bool, float, float]:
    """(location_known, distance_km, speed_kmh) against the user's last location."""
    if req.location is None or snap.last_location is None or snap.last_location_ts is None:
        return False, 0.0, 0.0
    distance = haversine_km(snap.last_location, req.location)
    elapsed = max(0, epoch_seconds(req.at) - snap.last_location_ts)
    return True, distance, speed_kmh(distance, elapsed)


def compute_features(req: RiskRequest, snap: StateSnapshot) -> dict[str, Value]:
    """Every name in schema.FEATURES, for `req` given its history `snap`.

    `model_score` is 0.0 here; the decision service fills it in when a model is active.
    """
    amount = req.amount if req.kind in MONEY_KINDS else 0
    out = _request_features(req, amount)
    out.update(_user_features(req, snap, amount))
    out.update(_counterpart_features(req, snap))
    out.update(ZERO_VELOCITY)
    out.update(snap.velocity)
    return out


def _request_features(req: RiskRequest, amount: int) -> dict[str, Value]:
    """What the request says about itself, without any history."""
    credential = req.credential_changed_at
    return {
        "kind": req.kind,
        "channel": req.channel,
        "amount": amount,
        "currency": req.currency,
        "balance_before": req.balance_before,
        "amount_share_of_balance": amount / req.balance_before if req.balance_before > 0 else 0.0,
        "account_age_days": days_between(req.account_created_at, req.at),
        "account_class": req.account_class,
        "credential_change_24h": credential is not None
        and req.at - credential <= _CREDENTIAL_RECENT,
        "payee_is_merchant": req.payee_is_merchant,
        "payee_account_age_days": days_between(req.payee_created_at, req.at),
        "list_block_hit": req.list_block_hit,
        "list_allow_hit": req.list_allow_hit,
        "model_score": 0.0,
    }


def _user_features(req: RiskRequest, snap: StateSnapshot, amount: int) -> dict[str, Value]:
    """The request against the user's own habits: amounts, hours, places, declines."""
    hour = hour_local(req.at)
    share = hour_share(snap.hour_histogram, hour)
    mean = snap.user_mean if snap.user_count > 0 else 0.0
    known, distance, speed = _location_features(req, snap)
    return {
        "hour_local": hour,
        "user_payment_count": snap.user_count,
        "amount_avg": mean,
        "amount_ratio_avg": amount / mean if mean > 0 else 0.0,
        "amount_zscore": amount_zscore(amount, snap) if snap.user_count > 1 else 0.0,
        "hour_share": share,
        "hour_unusual": sum(snap.hour_histogram) >= HOUR_HABIT_MIN_HISTORY
        and share < HOUR_HABIT_RARE_SHARE,
        "user_declined_1h": snap.user_declined_1h,
        "location_known": known,
        "distance_km": distance,
        "speed_kmh": speed,
    }


def _counterpart_features(req: RiskRequest, snap: StateSnapshot) -> dict[str, Value]:
    """Device, payee and merchant: new to this user, or shared with many others."""
    return {
        "device_new": req.device_id is None or not snap.device_known,
        "device_accounts": _device_accounts(req, snap),
        "payee_new": req.payee_id is not None and not snap.payee_known,
        "merchant_first": req.merchant_id is not None and not snap.merchant_known,
        "payee_new_payers_24h": snap.payee_new_payers_24h,
    }


def _device_accounts(req: RiskRequest, snap: StateSnapshot) -> int:
    """Distinct users on the device counting this request's user (0 without a device)."""
    if req.device_id is None:
        return 0
    return snap.device_users + (0 if snap.device_user_seen else 1)
