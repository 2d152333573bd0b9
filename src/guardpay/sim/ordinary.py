"""Ordinary life: shopping by QR and payment code with a daily and weekly rhythm,
transfers among friends, escrow purchases, top-ups, salaries, withdrawals, red packets at
festivals and refunds. Nothing here is labelled."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from guardpay.sim.actions import Outcome
from guardpay.sim.cases import local_time
from guardpay.sim.config import SimConfig
from guardpay.sim.model import Tx, Where
from guardpay.sim.population import CITIES, Person, Population, jitter

MERCHANT_CHANNELS = frozenset({"qr_static", "qr_order", "payment_code"})
#: (median yuan, spread, cap yuan) of an amount by channel
AMOUNTS: dict[str, tuple[float, float, int]] = {
    "qr_static": (25, 0.8, 450),
    "qr_order": (60, 0.9, 900),
    "payment_code": (40, 0.9, 900),
    "p2p": (150, 1.0, 5_000),
    "escrow": (150, 0.8, 3_000),
    "withdrawal": (500, 0.7, 5_000),
    "topup": (500, 0.7, 5_000),
    "red_packet": (30, 0.6, 200),
}


class OrdinaryLife:
    def __init__(self, cfg: SimConfig, pop: Population, rng: np.random.Generator) -> None:
        self.cfg, self.pop, self.rng = cfg, pop, rng
        self.people = pop.ordinary()
        self.rates = np.array([p.activity for p in self.people])
        mix = cfg.channel_mix
        self.channels = list(mix)
        weights = np.array([mix[c] for c in self.channels])
        self.weights = weights / weights.sum()

    def day(self, day: int) -> list[Tx]:
        weekday = (self.cfg.start + timedelta(days=day)).weekday()
        counts = self.rng.poisson(self.rates * self.cfg.weekday_factor[weekday])
        out: list[Tx] = []
        for i in np.flatnonzero(counts):
            person = self.people[int(i)]
            for _ in range(int(counts[i])):
                channel = self.channels[int(self.rng.choice(len(self.channels), p=self.weights))]
                out.append(self._tx(person, day, channel))
        out.extend(self._salaries(day))
        if day in self.cfg.festival_days:
            out.extend(self._red_packets(day))
        return out

    def _when(self, person: Person, day: int) -> float:
        peak = person.habit_hours[int(self.rng.integers(len(person.habit_hours)))]
        return float(np.clip(self.rng.normal(peak + 0.5, 1.2), 6.5, 23.9))

    def _where(self, person: Person) -> Where:
        device = (
            person.devices[1]
            if len(person.devices) > 1 and self.rng.random() < 0.2
            else person.devices[0]
        )
        home = person.home
        if self.rng.random() < 0.02:  # away on a trip
            city = CITIES[int(self.rng.integers(len(CITIES)))]
            home = (city[1], city[2])
        return Where(device, person.ip, jitter(self.rng, home, 3.0))

    def amount(self, channel: str) -> int:
        median, spread, cap = AMOUNTS[channel]
        yuan = float(np.exp(self.rng.normal(np.log(median), spread)))
        fen = int(min(yuan, cap) * 100)
        return (
            max(100, fen // 100 * 100) if channel in ("p2p", "topup", "withdrawal") else max(1, fen)
        )

    def _tx(self, person: Person, day: int, channel: str) -> Tx:
        at = local_time(self.cfg, day, self._when(person, day))
        where, amount = self._where(person), self.amount(channel)
        if channel == "p2p":
            return Tx(at, person.index, channel, amount, payee=self._friend(person), where=where)
        if channel in ("topup", "withdrawal"):
            return Tx(at, person.index, channel, amount, where=where)
        return Tx(at, person.index, channel, amount, merchant=self._shop(person), where=where)

    def _friend(self, person: Person) -> int:
        friends = [f for f in person.friends if self.pop.people[f].role == "normal"]
        if friends:
            return friends[int(self.rng.integers(len(friends)))]
        others = [p for p in self.people[:2] if p.index != person.index]
        pick = self.people[int(self.rng.integers(len(self.people)))]
        return pick.index if pick.index != person.index else others[0].index

    def _shop(self, person: Person) -> int:
        if person.favourites and self.rng.random() < 0.8:
            return person.favourites[int(self.rng.integers(len(person.favourites)))]
        return int(self.rng.integers(self.cfg.merchants))

    def _salaries(self, day: int) -> list[Tx]:
        if (self.cfg.start + timedelta(days=day)).day != self.cfg.salary_day:
            return []
        return [
            Tx(
                local_time(self.cfg, day, float(self.rng.uniform(9, 11))),
                p.index,
                "topup",
                p.salary,
                where=Where(p.devices[0], p.ip, p.home),
            )
            for p in self.people
            if p.employed
        ]

    def _red_packets(self, day: int) -> list[Tx]:
        out = []
        for p in self.people:
            if self.rng.random() < self.cfg.red_packets_per_user_festival and p.friends:
                at = local_time(self.cfg, day, float(self.rng.uniform(18, 23.5)))
                out.append(
                    Tx(at, p.index, "red_packet", self.amount("red_packet"), where=self._where(p))
                )
        return out

    def after(self, tx: Tx, outcome: Outcome) -> list[Tx]:
        """A merchant now and then refunds an ordinary purchase a day or three later."""
        if tx.label.case_id or tx.channel not in MERCHANT_CHANNELS:
            return []
        if outcome.status != "succeeded" or self.rng.random() >= self.cfg.refund_share:
            return []
        amount = tx.amount if self.rng.random() < 0.7 else max(1, tx.amount // 2)
        at = tx.at + timedelta(days=float(self.rng.uniform(1, 3)))
        return [
            Tx(
                at,
                tx.payer,
                "refund",
                amount,
                merchant=tx.merchant,
                ref=outcome.payment_id,
                where=Where("merchant-terminal", "", None),
            )
        ]
