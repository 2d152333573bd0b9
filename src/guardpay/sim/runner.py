"""The day loop: plan the cases, open the accounts, then run every request in time
order through the services, and write the labelled outputs.

Determinism: every draw comes from generators spawned from `--seed` (numpy for the
population, the cases and ordinary life; `random.Random` seeded from it for step-up
answers and red-packet splits; the fake bank is seeded too), and requests run one at a
time in (time, sequence) order, so two runs with one seed make the same requests and
get the same answers. The platform's own ids are random; the outputs use simulation ids
(see records.py) and payment_id is the one column that differs.

Payment passwords are hashed with `passwords.CHEAP` for the whole run: at argon2's
production cost, hashing and verifying PINs would dominate the run time.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from guardpay.adapters.bank import FakeBank
from guardpay.errors import GuardpayError
from guardpay.security import passwords
from guardpay.services.auth import facade as auth
from guardpay.services.platform.context import Actor
from guardpay.sim import fraud, laundering
from guardpay.sim.actions import Actions, FollowUp
from guardpay.sim.api_actions import ApiActions
from guardpay.sim.api_client import ApiClient
from guardpay.sim.cases import CaseKit, Plan, actors, day_of, local_time
from guardpay.sim.config import FRAUD_TYPOLOGIES, TYPOLOGIES, SimConfig, case_quota, expected_cases
from guardpay.sim.model import Step, Tx, Where
from guardpay.sim.ordinary import OrdinaryLife
from guardpay.sim.platform import CALM, Platform, SimClock, login_password, open_accounts
from guardpay.sim.population import Population, build_population
from guardpay.sim.records import Case, totals, tx_frame, typology_counts, write_outputs
from guardpay.storage.engine.db import Database, scratch
from guardpay.storage.engine.migrate import upgrade

Item = Tx | Step | FollowUp
PLANNERS = {**fraud.PLANNERS, **laundering.PLANNERS}


@dataclass
class Queue:
    """Requests by (time, order of scheduling): a deterministic total order."""

    heap: list[tuple[datetime, int, Item]] = field(default_factory=list)
    seq: itertools.count[int] = field(default_factory=itertools.count)

    def push(self, at: datetime, item: Item) -> None:
        heapq.heappush(self.heap, (at, next(self.seq), item))

    def pop_before(self, end: datetime) -> Item | None:
        if self.heap and self.heap[0][0] < end:
            return heapq.heappop(self.heap)[2]
        return None


@dataclass
class Result:
    transactions: pl.DataFrame
    manifest: dict[str, Any]
    cases: list[Case]


def plan_cases(cfg: SimConfig, kit: CaseKit) -> tuple[list[Case], list[Plan]]:
    cases: list[Case] = []
    plans: list[Plan] = []
    for typology in TYPOLOGIES:
        short = "".join(w[0] for w in typology.split("_")).upper()
        for day, count in enumerate(case_quota(cfg, typology, kit.rng)):
            for _ in range(count):
                case_id = f"C{short}{len(cases):05d}"
                plan = PLANNERS[typology](kit, case_id, day)
                family = "fraud" if typology in FRAUD_TYPOLOGIES else "laundering"
                cases.append(Case(case_id, typology, family, day, actors(plan, kit.pop)))
                plans.append(plan)
    return cases, plans


class Simulation:
    def __init__(self, cfg: SimConfig, db: Database) -> None:
        self.cfg = cfg
        seeds = np.random.SeedSequence(cfg.seed).spawn(4)
        rng_pop, rng_cases, self.rng_life = (np.random.default_rng(s) for s in seeds[:3])
        self.pop: Population = build_population(cfg, rng_pop)
        self.kit = CaseKit(cfg, self.pop, rng_cases)
        self.cases, self.plans = plan_cases(cfg, self.kit)
        self.platform = Platform(db, SimClock(cfg.start))
        self.platform.bank = FakeBank(seed=cfg.seed, chaos=CALM)
        actions_seed = int(seeds[3].generate_state(1)[0])
        self.client = ApiClient(self.platform) if cfg.via_api else None
        self.actions = Actions(self.platform, self.pop, actions_seed)
        if self.client is not None:
            self.actions = ApiActions(self.platform, self.pop, actions_seed, self.client)
        self.actions.step_up_success = cfg.step_up_success
        self.rows: list[dict[str, Any]] = []
        self.queue = Queue()
        self.passwords: dict[int, str] = {}

    def setup(self) -> None:
        open_accounts(self.platform, self.pop, self.cfg.start)
        self.platform.clock.now = local_time(self.cfg, 0, 0) - timedelta(seconds=1)
        for key in self.kit.declined:
            self.platform.bank.declined_tokens.add(self.platform.tokens[key])
        self.life = OrdinaryLife(self.cfg, self.pop, self.rng_life)
        for plan in self.plans:
            for item in plan:
                self.queue.push(item.at, item)

    def run_day(self, day: int) -> None:
        for tx in self.life.day(day):
            self.queue.push(tx.at, tx)
        end = local_time(self.cfg, day + 1, 0)
        while (item := self.queue.pop_before(end)) is not None:
            self._handle(item)

    def _tick(self, at: datetime) -> None:
        clock = self.platform.clock
        clock.now = max(at, clock.now + timedelta(milliseconds=1))

    def _handle(self, item: Item) -> None:
        if isinstance(item, tuple):
            self._tick(item[0])
            item[1]()
        elif isinstance(item, Step):
            self._tick(item.at)
            self._step(item)
        else:
            self._tick(item.at)
            self._request(item)

    def _request(self, tx: Tx) -> None:
        row, outcome = self.actions.run(tx)
        if row is not None:
            row["day"] = day_of(self.cfg, self.platform.clock.now)
            self.rows.append(row)
        for at, fn in outcome.follow_ups:
            self.queue.push(at, (at, fn))
        for later in self.life.after(tx, outcome):
            self.queue.push(later.at, later)

    def _step(self, step: Step) -> None:
        """A takeover's password change, from the crew's phone."""
        person = self.pop.people[step.person]
        old = self.passwords.get(person.index, login_password(person))
        new = f"Taken-{step.label.case_id}-9x"
        where = step.where or Where(person.devices[0], person.ip, person.home)
        actor = Actor("user", person.user_id, where.ip, where.device_id, where.location)
        try:
            with self.platform.unit(actor) as ctx:
                auth.change_login_password(ctx, person.user_id, old, new)
            self.passwords[person.index] = new
        except GuardpayError:
            pass

    def frame(self) -> pl.DataFrame:
        for n, row in enumerate(self.rows, start=1):
            row["tx_id"] = f"tx_{n:07d}"
        return tx_frame(self.rows)


def run(
    cfg: SimConfig,
    out: Path,
    *,
    database_url: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Result:
    """Simulate `cfg` and write the outputs to `out`; `progress(day)` after each day."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    if database_url is None:
        (out / "simulation.db").unlink(missing_ok=True)
        database_url = f"sqlite:///{out / 'simulation.db'}"
    db = Database(database_url)
    scratch(db)  # no fsync per commit: a crashed run is simply run again
    upgrade(db)
    with passwords.using(passwords.CHEAP):
        sim = Simulation(cfg, db)
        sim.setup()
        set_up = time.perf_counter()
        for day in range(cfg.days):
            sim.run_day(day)
            if progress is not None:
                progress(day)
    if sim.client is not None:
        sim.client.close()
    db.dispose()
    frame = sim.frame()
    timing = {
        "setup_seconds": round(set_up - started, 2),
        "run_seconds": round(time.perf_counter() - set_up, 2),
    }
    manifest = _manifest(cfg, frame, sim, timing)
    write_outputs(out, frame, _people(sim.pop), _merchants(sim.pop), sim.cases, manifest)
    return Result(frame, manifest, sim.cases)


def _manifest(
    cfg: SimConfig, frame: pl.DataFrame, sim: Simulation, timing: dict[str, float]
) -> dict[str, Any]:
    params = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(cfg).items()}
    run_s = max(timing["run_seconds"], 1e-9)
    roles: dict[str, int] = {}
    for p in sim.pop.people:
        roles[p.role] = roles.get(p.role, 0) + 1
    return {
        "seed": cfg.seed,
        "parameters": params,
        "typologies": typology_counts(frame, sim.cases),
        "expected_cases": {t: round(expected_cases(cfg, t), 3) for t in TYPOLOGIES},
        "totals": totals(frame, cfg.users),
        "roles": roles,
        "runtime": {**timing, "requests_per_second": round(frame.height / run_s, 1)},
        "notes": [
            "payment passwords hashed with passwords.CHEAP during the run",
            "requests through the HTTP API"
            if cfg.via_api
            else "requests through the platform's services",
            "ids are simulation ids; payment_id is the platform's (random per run)",
        ],
    }


def _people(pop: Population) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "id": p.sim_id,
                "created_at": p.created_at.isoformat(),
                "account_class": p.account_class,
                "home_lat": p.home[0],
                "home_lon": p.home[1],
                "devices": ",".join(p.devices),
                "ip": p.ip,
                "role": p.role,
                "activity": p.activity,
                "employed": p.employed,
                "stolen_cards": p.stolen_cards,
            }
            for p in pop.people
        ]
    )


def _merchants(pop: Population) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "id": m.sim_id,
                "name": m.name,
                "mcc": m.mcc,
                "home_lat": m.home[0],
                "home_lon": m.home[1],
                "owner": pop.people[m.owner].sim_id if m.owner >= 0 else "",
                "role": "fraud_merchant" if m.owner >= 0 else "merchant",
                "created_at": m.created_at.isoformat() if m.created_at else "",
            }
            for m in pop.merchants
        ]
    )
