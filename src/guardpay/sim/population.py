"""Who lives in the simulation: people with homes, devices, friends and habits, and the
merchants they shop at. Everything is drawn from one seeded numpy generator.

Everyone starts as an ordinary person; the fraud and laundering planners then take
people out of ordinary life for their roles (`Population.recruit`): fraudsters, mules,
farm accounts, launderers and dormant accounts act only in their cases, so no ordinary
request is ever made by an account that exists for a case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from guardpay.sim.config import SimConfig

Location = tuple[float, float]

CITIES: tuple[tuple[str, float, float], ...] = (
    ("Shanghai", 31.23, 121.47),
    ("Beijing", 39.90, 116.41),
    ("Shenzhen", 22.54, 114.06),
    ("Guangzhou", 23.13, 113.26),
    ("Hangzhou", 30.27, 120.16),
    ("Chengdu", 30.57, 104.07),
    ("Wuhan", 30.59, 114.31),
    ("Xi'an", 34.34, 108.94),
)
#: where fraud crews operate from: far from the victims' homes
FRAUD_BASES: tuple[Location, ...] = ((11.56, 104.92), (14.60, 120.98), (21.97, 96.08))
MCCS = ("5812", "5411", "5999", "5732", "5651", "4121", "5814", "5311")
ROLES = ("normal", "fraudster", "mule", "farm", "launderer", "dormant")


@dataclass
class Person:
    index: int
    sim_id: str
    role: str
    account_class: str  # "I" | "II" | "III"
    created_at: datetime
    home: Location
    devices: list[str]
    ip: str
    activity: float  # ordinary requests per day
    employed: bool
    salary: int  # minor units
    balance: int  # opening balance, minor units
    friends: list[int] = field(default_factory=list)
    favourites: list[int] = field(default_factory=list)
    habit_hours: tuple[int, ...] = (12, 19)  # local peak hours
    stolen_cards: int = 0  # extra cards bound that are not theirs (fraud)
    login: bool = False  # has a login password (only takeover victims need one here)
    user_id: str = ""  # the platform's id, once set up


@dataclass
class Merchant:
    index: int
    sim_id: str
    name: str
    mcc: str
    home: Location
    owner: int = -1  # a person index for a fraudster's merchant, else -1
    created_at: datetime | None = None
    merchant_id: str = ""


@dataclass
class Population:
    people: list[Person]
    merchants: list[Merchant]
    _free: list[int] = field(default_factory=list)

    def recruit(
        self,
        role: str,
        rng: np.random.Generator,
        start: datetime,
        *,
        age_days: tuple[int, int] = (2, 60),
        balance: int = 0,
    ) -> Person:
        """Take an ordinary person out of ordinary life for `role`."""
        if not self._free:
            raise ValueError("the population is too small for the configured case rates")
        person = self.people[self._free.pop()]
        person.role, person.activity, person.balance = role, 0.0, balance
        person.created_at = start - timedelta(
            days=int(rng.integers(*age_days)), minutes=int(rng.integers(0, 1440))
        )
        person.friends, person.favourites = [], []
        return person

    def add_merchant(self, owner: int, rng: np.random.Generator, created_at: datetime) -> Merchant:
        """A fraudster's merchant, registered shortly before it is used."""
        i = len(self.merchants)
        merchant = Merchant(
            i,
            f"M{i:05d}",
            f"Shop {i}",
            str(rng.choice(MCCS)),
            self.people[owner].home,
            owner,
            created_at,
        )
        self.merchants.append(merchant)
        return merchant

    def ordinary(self) -> list[Person]:
        return [p for p in self.people if p.role == "normal"]


def jitter(rng: np.random.Generator, at: Location, km: float) -> Location:
    d = km / 111.0
    return (round(at[0] + float(rng.normal(0, d)), 5), round(at[1] + float(rng.normal(0, d)), 5))


def _person(i: int, cfg: SimConfig, rng: np.random.Generator) -> Person:
    city = CITIES[int(rng.integers(len(CITIES)))]
    cls = str(rng.choice(["I", "II", "III"], p=list(cfg.class_shares)))
    age = int(rng.gamma(2.0, 300.0)) + 5
    devices = [f"dev-{i:06d}-{k}" for k in range(1 + int(rng.random() < 0.25))]
    employed = bool(rng.random() < cfg.employed_share)
    hours = tuple(sorted({int(h) for h in rng.choice([8, 12, 13, 18, 19, 20, 21], size=2)}))
    return Person(
        i,
        f"P{i:06d}",
        "normal",
        cls,
        cfg.start - timedelta(days=age, minutes=int(rng.integers(0, 1440))),
        jitter(rng, (city[1], city[2]), 8.0),
        devices,
        f"10.{(i >> 8) & 255}.{i & 255}.{1 + (i >> 16)}",
        float(cfg.activity * rng.lognormal(0.0, 0.8) / np.exp(0.32)),
        employed,
        int(rng.integers(30, 150)) * 10_000 if employed else 0,
        int(rng.integers(50, 3_000)) * 100,
        habit_hours=hours,
    )


def _merchant(i: int, rng: np.random.Generator) -> Merchant:
    city = CITIES[int(rng.integers(len(CITIES)))]
    return Merchant(
        i, f"M{i:05d}", f"Shop {i}", str(rng.choice(MCCS)), jitter(rng, (city[1], city[2]), 8.0)
    )


def _social(people: list[Person], merchants: list[Merchant], rng: np.random.Generator) -> None:
    """Friends (mutual, mostly in the same city) and favourite merchants (nearby)."""
    n, by_city = len(people), _by_city([p.home for p in people])
    shops = _by_city([m.home for m in merchants])
    for p in people:
        local = by_city[_city_of(p.home)]
        for _ in range(int(rng.integers(2, 6))):
            pool = local if rng.random() < 0.8 and len(local) > 1 else range(n)
            f = int(pool[int(rng.integers(len(pool)))])
            if f != p.index and f not in p.friends:
                p.friends.append(f)
                people[f].friends.append(p.index)
        near = shops.get(_city_of(p.home)) or list(range(len(merchants)))
        p.favourites = [int(near[int(rng.integers(len(near)))]) for _ in range(4)]


def _city_of(at: Location) -> int:
    return min(
        range(len(CITIES)), key=lambda c: (CITIES[c][1] - at[0]) ** 2 + (CITIES[c][2] - at[1]) ** 2
    )


def _by_city(places: list[Location]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for i, at in enumerate(places):
        out.setdefault(_city_of(at), []).append(i)
    return out


def build_population(cfg: SimConfig, rng: np.random.Generator) -> Population:
    if cfg.users < 50 or cfg.merchants < 2:
        raise ValueError("simulate at least 50 users and 2 merchants")
    people = [_person(i, cfg, rng) for i in range(cfg.users)]
    merchants = [_merchant(i, rng) for i in range(cfg.merchants)]
    _social(people, merchants, rng)
    free = [int(i) for i in rng.permutation(cfg.users)]
    return Population(people, merchants, free)
