"""`guardpay bench risk`: the latency of one risk decision against a large history.

Setup (not timed, progress on stderr): a throwaway migrated SQLite database (or the
given URL); a synthetic population of users, merchants, devices, IPs and cities; N
money-moving and login events over 30 days, generated from a seed in time order and
loaded into the feature state with `record_many`; a few block and allow list entries;
and a LightGBM model trained on a sample of the history's features (taken as the load
passes them, so each row sees only its past) with synthetic labels, saved to a temp dir,
registered and activated, so the engine's `ModelSource` loads it as in production.

Timed: D decisions, each what the payment path does before the payment itself: one
read-only unit of work per decision (opened inside the timed span), the block/allow
list look-up in the database (`payments_risk.list_flags`), then `RiskEngine.score`
(state snapshot, `compute_features`, the model's `explain_one`, rules, `decide`). Nothing
is recorded, so every decision sees the same history. A warm-up (untimed) loads the
model first. Baselines in the same run: snapshot + `compute_features` alone over the same
requests, and an empty call, so the cost of the model, rules and list look-up shows as a
ratio.
"""

from __future__ import annotations

import gc
import os
import random
import resource
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np
from rich.console import Console
from rich.progress import Progress

from guardpay.adapters.risk_state import FeatureState, MemoryFeatureState
from guardpay.domain.risk.decision import Decision
from guardpay.domain.risk.features import Location, RiskEvent, RiskRequest, compute_features
from guardpay.domain.risk.schema import NUMERIC_FEATURES
from guardpay.ml.train import train_model
from guardpay.security.keys import Keyring
from guardpay.services.platform.context import Context
from guardpay.services.risk import lists as risk_lists
from guardpay.services.risk import models as risk_models
from guardpay.services.risk.engine import ModelSource, RiskEngine, RuleSource
from guardpay.services.risk.screening import list_flags
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import current_revision, head_revision, upgrade
from guardpay.storage.engine.scratch import throwaway_database
from guardpay.storage.uow import read_only, unit_of_work

TARGET_P99_MS: Final = 5.0
DAYS: Final = 30
START: Final = int(datetime(2025, 5, 2, tzinfo=UTC).timestamp())  # fixed: runs repeat
NOW: Final = START + DAYS * 86_400  # the decisions happen just after the history
UTC8: Final = 8 * 3_600  # Asia/Shanghai, no DST since 1991: hour_local without tzdata
CHUNK: Final = 10_000  # events per record_many call (and progress step)
TRAIN_ROWS: Final = 20_000
WARMUP: Final = 200
MODEL_FEATURES: Final = tuple(n for n in NUMERIC_FEATURES if n != "model_score")
CITIES: Final[tuple[Location, ...]] = (
    (31.23, 121.47),
    (39.90, 116.41),
    (23.13, 113.26),
    (22.54, 114.06),
    (30.57, 104.07),
    (30.27, 120.16),
    (34.34, 108.94),
    (29.56, 106.55),
    (32.06, 118.80),
    (22.32, 114.17),
)


@dataclass(frozen=True)
class Population:
    """Who the history is about; ids are built once so a million events share them."""

    users: list[str]
    merchants: list[str]
    devices: list[tuple[str, ...]]  # per user, the first is the usual one
    ips: list[str]  # per user, the usual one
    home: list[int]  # per user, an index into CITIES
    created: list[int]  # per user, account creation (epoch seconds)


def population(users: int, merchants: int, seed: int) -> Population:
    rng = random.Random(seed)
    devices = [tuple(f"dev_b{u:06d}_{k}" for k in range(1 + (u % 3 == 0))) for u in range(users)]
    return Population(
        users=[f"usr_b{u:06d}" for u in range(users)],
        merchants=[f"mch_b{m:05d}" for m in range(merchants)],
        devices=devices,
        ips=[f"10.{u >> 16 & 255}.{u >> 8 & 255}.{u & 255}" for u in range(users)],
        home=[rng.randrange(len(CITIES)) for _ in range(users)],
        created=[START - rng.randrange(86_400, 3 * 365 * 86_400) for _ in range(users)],
    )


class Txn(NamedTuple):
    """One synthetic request, before it becomes a `RiskEvent` or a `RiskRequest`."""

    ts: int
    user: int
    kind: str
    payee: str | None
    merchant: str | None
    amount: int
    device: str
    ip: str
    location: Location
    accepted: bool


def txn(pop: Population, rng: random.Random, ts: int) -> Txn:
    """Skewed activity: busy users and a few very busy merchants, mostly usual devices,
    IPs and home cities, 2 % declined, 7 % logins (no money)."""
    u = int(len(pop.users) * rng.random() ** 2)
    r = rng.random()
    merchant = pop.merchants[int(len(pop.merchants) * rng.random() ** 3)] if r < 0.65 else None
    payee = merchant or pop.users[(u + rng.randrange(1, 40)) % len(pop.users)]
    kind = "payment" if r < 0.65 else "transfer" if r < 0.93 else "login"
    own = pop.devices[u]
    device = own[0] if rng.random() < 0.9 else rng.choice(pop.devices)[-1]
    ip = pop.ips[u] if rng.random() < 0.8 else rng.choice(pop.ips)
    city = CITIES[pop.home[u] if rng.random() < 0.95 else rng.randrange(len(CITIES))]
    where = (city[0] + rng.uniform(-0.05, 0.05), city[1] + rng.uniform(-0.05, 0.05))
    amount = 0 if kind == "login" else max(1, int(rng.lognormvariate(8.5, 1.3)))
    return Txn(
        ts,
        u,
        kind,
        None if kind == "login" else payee,
        merchant,
        amount,
        device,
        ip,
        where,
        rng.random() >= 0.02,
    )


def event(pop: Population, t: Txn) -> RiskEvent:
    """What `RiskEvent.from_request(request(...))` gives, without the datetime round trip."""
    return RiskEvent(
        t.ts,
        pop.users[t.user],
        t.amount,
        t.accepted,
        t.kind != "login",
        (t.ts + UTC8) // 3_600 % 24,
        t.device,
        t.ip,
        t.payee,
        t.merchant,
        t.location,
    )


def request(pop: Population, t: Txn) -> RiskRequest:
    """The request the payment path would build (list flags filled in later)."""
    return RiskRequest(
        kind=t.kind,
        channel={"payment": "qr_dynamic", "transfer": "p2p"}.get(t.kind, "app"),
        user_id=pop.users[t.user],
        amount=t.amount,
        currency="CNY",
        at=datetime.fromtimestamp(t.ts, UTC),
        account_created_at=datetime.fromtimestamp(pop.created[t.user], UTC),
        balance_before=t.amount * (1 + t.user % 7),
        account_class=1 + t.user % 3,
        device_id=t.device,
        ip=t.ip,
        payee_id=t.payee,
        payee_is_merchant=t.merchant is not None,
        merchant_id=t.merchant,
        location=t.location,
        payee_created_at=datetime.fromtimestamp(START - 400 * 86_400, UTC),
    )


def history(pop: Population, n: int, seed: int) -> Iterator[Txn]:
    """`n` requests over DAYS days before NOW, in time order (Poisson arrivals)."""
    rng = random.Random(seed)
    mean_gap = DAYS * 86_400 / max(n, 1)
    at = 0.0
    for _ in range(n):
        at += rng.expovariate(1 / mean_gap)
        yield txn(pop, rng, START + min(int(at), DAYS * 86_400 - 1))


def load_history(
    state: FeatureState, pop: Population, n: int, seed: int, tick: Callable[[int], None]
) -> list[list[float]]:
    """Record the history in time order; every k-th request is also featurised against
    the history before it (the model's training rows)."""
    every = max(1, n // TRAIN_ROWS)
    rows: list[list[float]] = []
    chunk: list[RiskEvent] = []
    for i, t in enumerate(history(pop, n, seed)):
        if i % every == 0:
            state.record_many(chunk)
            tick(len(chunk))
            chunk = []
            req = request(pop, t)
            features = compute_features(req, state.snapshot(req))
            rows.append([float(features[name]) for name in MODEL_FEATURES])
        chunk.append(event(pop, t))
        if len(chunk) >= CHUNK:
            state.record_many(chunk)
            tick(len(chunk))
            chunk = []
    state.record_many(chunk)
    tick(len(chunk))
    return rows


def synthetic_labels(rows: list[list[float]], seed: int) -> np.ndarray:
    """Fraud = the top 3 % (at least 4) of a noisy score of a few risky signals, so the
    model has something to learn and both classes exist at any size."""
    X = np.asarray(rows)
    col = {name: X[:, i] for i, name in enumerate(MODEL_FEATURES)}
    risk = (
        1.5 * col["device_new"]
        + 1.2 * col["payee_new"]
        + 0.8 * np.log1p(col["amount_ratio_avg"])
        + np.log1p(col["speed_kmh"]) / 4
        + col["hour_unusual"]
        + np.random.default_rng(seed).normal(0, 1, len(X))
    )
    y = np.zeros(len(X), dtype=np.int8)
    y[np.argsort(risk, kind="stable")[-max(4, len(X) * 3 // 100) :]] = 1
    return y


def register_model(db: Database, rows: list[list[float]], seed: int, directory: Path) -> str:
    """Train on the sampled rows, save, register and activate; the version."""
    model = train_model(np.asarray(rows), synthetic_labels(rows, seed), MODEL_FEATURES, seed=seed)
    path = model.save(directory / model.version)
    now = datetime.now(UTC)
    with unit_of_work(db) as uow:
        risk_models.seed_active_model(uow, model.version, path, model.metrics, now)
    return model.version


def add_list_entries(db: Database, pop: Population) -> int:
    """Block a few users, devices and IPs and allow a few users: list hits happen."""
    at = datetime.fromtimestamp(START, UTC)
    entries = [("block", "user", pop.users[u]) for u in range(5, len(pop.users), 997)]
    entries += [("block", "device", pop.devices[u][0]) for u in range(7, len(pop.users), 1999)]
    entries += [("block", "ip", pop.ips[u]) for u in range(11, len(pop.users), 1999)]
    entries += [("allow", "user", pop.users[u]) for u in range(3, len(pop.users), 1997)]
    with unit_of_work(db) as uow:
        risk_lists.seed_entries(uow, entries, by="bench", at=at)
    return len(entries)


Probe = tuple[RiskRequest, list[tuple[str, str | None]]]


def probes(pop: Population, d: int, seed: int) -> list[Probe]:
    """D requests in the minutes after the history, with the list keys a payment checks."""
    rng = random.Random(seed + 1)
    out: list[Probe] = []
    for i in range(d):
        t = txn(pop, rng, NOW + i * 3_600 // max(d, 1))
        keys = [("user", pop.users[t.user]), ("device", t.device), ("ip", t.ip), ("payee", t.payee)]
        out.append((request(pop, t), keys))
    return out


def decide_one(db: Database, engine: RiskEngine, keyring: Keyring, probe: Probe) -> Decision:
    """The decision step of a payment, minus the payment: lists, then features, model
    and rules, in one read-only unit of work."""
    req, keys = probe
    with read_only(db) as uow:
        ctx = Context(uow, keyring, clock=lambda: req.at)
        block, allow = list_flags(ctx, keys)
        decision, _, _ = engine.score(ctx, replace(req, list_block_hit=block, list_allow_hit=allow))
    return decision


class Timings(NamedTuple):
    wall: list[int]  # ns, perf_counter_ns: what a caller waits
    cpu: list[int]  # ns, thread_time_ns: the same less time lost to other processes


def timed(call: Callable[[Probe], object], work: Sequence[Probe]) -> Timings:
    """Wall and thread CPU nanoseconds per call. Both, because a busy machine (2 cores,
    other jobs) stretches the wall-clock tail while the CPU time shows the code's cost."""
    out = Timings([], [])
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    for probe in work:
        start, start_cpu = wall(), cpu()
        call(probe)
        out.cpu.append(cpu() - start_cpu)
        out.wall.append(wall() - start)
    return out


def stats(ns: list[int]) -> dict[str, float]:
    """p50 / p99 (nearest rank), mean and max in milliseconds."""
    ordered = sorted(ns)
    n = len(ordered)

    def rank(q: float) -> float:
        return round(ordered[min(n - 1, int(q * n))] / 1e6, 4) if n else 0.0

    mean = round(sum(ordered) / n / 1e6, 4) if n else 0.0
    return {"p50_ms": rank(0.50), "p99_ms": rank(0.99), "mean_ms": mean, "max_ms": rank(1.0)}


@contextmanager
def feature_state(use_redis: bool) -> Iterator[tuple[str, FeatureState]]:
    """The in-process store, or Redis on 127.0.0.1:6379 under a fresh prefix that is
    deleted afterwards (the bench must not leave a million keys behind)."""
    if not use_redis:
        yield "memory", MemoryFeatureState()
        return
    import redis

    from guardpay.adapters.risk_state_redis import RedisFeatureState

    client = redis.Redis(host="127.0.0.1", port=6379)
    state = RedisFeatureState(client, prefix=f"guardpay:bench:{secrets.token_hex(4)}")
    try:
        yield "redis", state
    finally:
        state.clear()
        client.close()


def _measure(
    db: Database, engine: RiskEngine, work: list[Probe], progress: Progress
) -> tuple[Timings, Timings, Timings, Counter[str]]:
    keyring = Keyring.generate()
    task = progress.add_task("warm-up and timed decisions", total=3)
    for probe in work[:WARMUP]:  # loads the model; first-call costs stay out of the figures
        decide_one(db, engine, keyring, probe)
    gc.collect()
    actions: Counter[str] = Counter()

    def full(probe: Probe) -> None:
        actions[decide_one(db, engine, keyring, probe).action.value] += 1

    decided = timed(full, work)
    progress.advance(task)
    state = engine.state
    features = timed(lambda p: compute_features(p[0], state.snapshot(p[0])), work)
    progress.advance(task)
    noop = timed(lambda p: None, work)
    progress.advance(task)
    return decided, features, noop, actions


def _setup(
    db: Database,
    state: FeatureState,
    pop: Population,
    size: int,
    seed: int,
    progress: Progress,
    models: Path,
) -> tuple[float, str, int, int]:
    """(load seconds, model version, training rows, list entries)."""
    if current_revision(db) != head_revision():
        upgrade(db)
    entries = add_list_entries(db, pop)
    task = progress.add_task("history -> feature state", total=size)
    start = time.perf_counter()
    rows = load_history(state, pop, size, seed, lambda k: progress.advance(task, k))
    loaded = time.perf_counter() - start
    task = progress.add_task("training the model", total=1)
    version = register_model(db, rows, seed, models)
    progress.advance(task)
    return loaded, version, len(rows), entries


def _report(
    size: int, loaded: float, timings: tuple[Timings, Timings, Timings], extra: dict[str, Any]
) -> dict[str, Any]:
    decided, features, noop = timings
    main, base = stats(decided.wall), stats(features.wall)
    return {
        "decisions": len(decided.wall),
        **main,
        "history": size,
        "cpu": {
            "what": "thread CPU time per decision (no time lost to other processes)",
            **stats(decided.cpu),
        },
        "load_seconds": round(loaded, 1),
        "load_events_per_second": round(size / loaded) if loaded else None,
        "baseline": {
            "what": "state snapshot + compute_features only (no lists, model, rules or "
            "unit of work), same requests, same run",
            **base,
            "cpu_p99_ms": stats(features.cpu)["p99_ms"],
            "noop": {"what": "an empty call in the same timing loop", **stats(noop.wall)},
        },
        "ratio_p99_to_baseline": round(main["p99_ms"] / base["p99_ms"], 2)
        if base["p99_ms"]
        else None,
        "target_p99_ms": TARGET_P99_MS,
        "met": main["p99_ms"] <= TARGET_P99_MS,
        "unit_of_work": "one read-only unit of work per decision, inside the timed span",
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        **extra,
    }


@contextmanager
def _model_dir(keep: bool) -> Iterator[Path]:
    """A temp dir for the model; kept when the database is (its active row points there)."""
    if keep:
        yield Path(tempfile.mkdtemp(prefix="guardpay-bench-model-"))
        return
    with tempfile.TemporaryDirectory(prefix="guardpay-bench-model-") as tmp:
        yield Path(tmp)


def run(
    history_size: int = 1_000_000,
    decisions: int = 20_000,
    *,
    seed: int = 7,
    database_url: str | None = None,
    use_redis: bool = False,
    users: int = 20_000,
    merchants: int = 2_000,
    show_progress: bool = True,
) -> dict[str, Any]:
    """The benchmark end to end; the JSON the command prints."""
    pop = population(users, merchants, seed)
    work = probes(pop, decisions, seed)
    db_ctx: AbstractContextManager[Database]
    db_ctx = nullcontext(Database(database_url)) if database_url else throwaway_database("sqlite")
    progress = Progress(console=Console(stderr=True), disable=not show_progress)
    with (
        db_ctx as db,
        feature_state(use_redis) as (store, state),
        progress,
        _model_dir(keep=database_url is not None) as models,
    ):
        setup = _setup(db, state, pop, history_size, seed, progress, models)
        engine = RiskEngine(state, RuleSource(), ModelSource())
        decided, features, noop, actions = _measure(db, engine, work, progress)
        model = engine.models.model
        extra = {
            "store": store,
            "database": db.backend,
            "seed": seed,
            "model_version": None if model is None else model.version,
            "model_registered": setup[1],
            "train_rows": setup[2],
            "list_entries": setup[3],
            "population": {"users": users, "merchants": merchants, "days": DAYS},
            "actions": dict(sorted(actions.items())),
        }
        return _report(history_size, setup[0], (decided, features, noop), extra)
