"""What every case planner shares: case ids, quotas, recruiting accounts, picking
victims, and where a crew acts from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from guardpay.sim.config import FRAUD_TYPOLOGIES, SimConfig
from guardpay.sim.model import Label, Step, Tx, Where
from guardpay.sim.population import FRAUD_BASES, Person, Population, jitter

Plan = list[Tx | Step]
LOCAL_OFFSET = timedelta(hours=8)  # Asia/Shanghai


def local_time(cfg: SimConfig, day: int, hour: float) -> datetime:
    """Day `day` (a local calendar day), `hour` hours after local midnight, in UTC."""
    return cfg.start - LOCAL_OFFSET + timedelta(days=day, seconds=round(hour * 3600))


def day_of(cfg: SimConfig, at: datetime) -> int:
    return (at - (cfg.start - LOCAL_OFFSET)) // timedelta(days=1)


@dataclass
class CaseKit:
    cfg: SimConfig
    pop: Population
    rng: np.random.Generator
    victims_used: set[int] = field(default_factory=set)
    declined: list[tuple[int, int]] = field(default_factory=list)  # (person, card) at the bank

    def label(self, typology: str, case_id: str) -> Label:
        if typology in FRAUD_TYPOLOGIES:
            return Label(fraud=typology, case_id=case_id)
        return Label(laundering=typology, case_id=case_id)

    def recruit(
        self, role: str, *, balance: int = 0, cls: str = "II", age: tuple[int, int] = (2, 60)
    ) -> Person:
        person = self.pop.recruit(role, self.rng, self.cfg.start, age_days=age, balance=balance)
        person.account_class = cls
        return person

    def victim(self, savings: tuple[int, int] = (0, 0)) -> Person:
        """An ordinary Class II/III person not yet a victim; `savings` (yuan) tops up
        their opening balance so the case has something to take."""
        people = self.pop.people
        for _ in range(1000):
            p = people[int(self.rng.integers(len(people)))]
            if p.role == "normal" and p.account_class != "I" and p.index not in self.victims_used:
                self.victims_used.add(p.index)
                if savings[1] > 0:
                    p.balance += int(self.rng.integers(*savings)) * 100
                return p
        raise ValueError("no victim left: lower the case rates or raise the users")

    def crew_where(self, case_id: str, k: int = 0) -> Where:
        base = FRAUD_BASES[int(self.rng.integers(len(FRAUD_BASES)))]
        n = int(self.rng.integers(1, 250))
        return Where(f"fdev-{case_id}-{k}", f"203.0.113.{n}", jitter(self.rng, base, 5.0))

    def home(self, person: Person) -> Where:
        return Where(person.devices[0], person.ip, jitter(self.rng, person.home, 2.0))

    def yuan(self, low: int, high: int) -> int:
        return int(self.rng.integers(low, high + 1)) * 100

    def hour(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def genuine_merchant(self) -> int:
        return int(self.rng.integers(self.cfg.merchants))


def after(at: datetime, minutes: float) -> datetime:
    return at + timedelta(minutes=minutes)


def actors(plan: Sequence[Tx | Step], pop: Population) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in plan:
        if isinstance(item, Tx):
            seen[pop.people[item.payer].sim_id] = None
            if item.payee >= 0:
                seen[pop.people[item.payee].sim_id] = None
        else:
            seen[pop.people[item.person].sim_id] = None
    return tuple(seen)
