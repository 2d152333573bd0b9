"""Laundering typologies: each planner returns every request one case makes, labelled
with its typology and case. Laundering accounts are Class III (the ¥200,000 a year
allowance) and exist only for their case."""

from __future__ import annotations

from collections.abc import Callable

from guardpay.sim.cases import CaseKit, Plan, after, local_time
from guardpay.sim.model import Label, Step, Tx, Where
from guardpay.sim.population import Person


def _p2p(
    kit: CaseKit,
    label: Label,
    at_min: float,
    day: int,
    payer: Person,
    payee: Person,
    amount: int = 0,
    share_bp: int | None = None,
    where: Where | None = None,
) -> Tx:
    at = after(local_time(kit.cfg, day, 0), at_min)
    return Tx(
        at,
        payer.index,
        "p2p",
        amount,
        payee=payee.index,
        where=where or kit.home(payer),
        label=label,
        share_bp=share_bp,
    )


def mule_network(kit: CaseKit, case_id: str, day: int) -> Plan:
    """Fan-in then fan-out: many senders pay a few mules, who pass it on to many."""
    label = kit.label("mule_network", case_id)
    mules = [kit.recruit("mule", cls="III") for _ in range(int(kit.rng.integers(2, 4)))]
    plan: Plan = []
    for k in range(int(kit.rng.integers(5, 9))):
        sender = kit.recruit("launderer", balance=kit.yuan(3_000, 8_000), cls="III")
        plan.append(
            _p2p(
                kit, label, 600 + 40 * k, day, sender, mules[k % len(mules)], kit.yuan(1_500, 2_900)
            )
        )
    for m, mule in enumerate(mules):
        for k, part in enumerate((3_500, 5_000, 9_500)):
            out = kit.recruit("launderer", cls="III")
            plan.append(_p2p(kit, label, 1_140 + 60 * m + 15 * k, day, mule, out, share_bp=part))
    return plan


def structuring(kit: CaseKit, case_id: str, day: int) -> Plan:
    """Cash in and out in amounts just below the ¥50,000 large-value report threshold."""
    label, who = kit.label("structuring", case_id), kit.recruit("launderer", cls="III")
    t0, plan = local_time(kit.cfg, day, kit.hour(9, 12)), list[Tx | Step]()
    n = int(kit.rng.integers(2, 4))
    for k in range(n):
        plan.append(
            Tx(
                after(t0, 95 * k),
                who.index,
                "topup",
                kit.yuan(45_000, 49_900),
                where=kit.home(who),
                label=label,
            )
        )
    for k in range(n):
        plan.append(
            Tx(
                after(t0, 1_440 + 110 * k),
                who.index,
                "withdrawal",
                kit.yuan(45_000, 48_000),
                where=kit.home(who),
                label=label,
            )
        )
    return plan


def scatter_gather(kit: CaseKit, case_id: str, day: int) -> Plan:
    """One source scatters to many intermediaries, who gather it into one account."""
    label = kit.label("scatter_gather", case_id)
    source = kit.recruit("launderer", balance=kit.yuan(30_000, 60_000), cls="III")
    sink, plan = kit.recruit("launderer", cls="III"), list[Tx | Step]()
    for k in range(int(kit.rng.integers(4, 8))):
        mid = kit.recruit("mule", cls="III")
        plan.append(_p2p(kit, label, 540 + 10 * k, day, source, mid, kit.yuan(2_000, 4_800)))
        plan.append(_p2p(kit, label, 780 + 25 * k, day, mid, sink, share_bp=9_800))
    return plan


def cycle(kit: CaseKit, case_id: str, day: int) -> Plan:
    """Round-tripping: the same money goes A -> B -> ... -> A, twice."""
    label = kit.label("cycle", case_id)
    ring = [kit.recruit("launderer", cls="III") for _ in range(int(kit.rng.integers(3, 6)))]
    ring[0].balance = kit.yuan(8_000, 20_000)
    plan: Plan = []
    for rnd in range(2):
        for k, payer in enumerate(ring):
            payee = ring[(k + 1) % len(ring)]
            plan.append(
                _p2p(kit, label, 600 + 480 * rnd + 30 * k, day, payer, payee, share_bp=9_700)
            )
    return plan


def rapid_pass_through(kit: CaseKit, case_id: str, day: int) -> Plan:
    """A large amount arrives and leaves again within minutes."""
    label = kit.label("rapid_pass_through", case_id)
    source = kit.recruit("launderer", balance=kit.yuan(12_000, 40_000), cls="III")
    through, dest = kit.recruit("mule", cls="III"), kit.recruit("launderer", cls="III")
    t = kit.hour(8, 22) * 60
    return [
        _p2p(kit, label, t, day, source, through, share_bp=9_000),
        _p2p(kit, label, t + float(kit.rng.uniform(3, 15)), day, through, dest, share_bp=9_900),
    ]


def dormant_reactivation(kit: CaseKit, case_id: str, day: int) -> Plan:
    """An account silent for years suddenly receives and moves large sums."""
    label = kit.label("dormant_reactivation", case_id)
    sleeper = kit.recruit("dormant", cls="III", age=(700, 1_800))
    sleeper.balance = kit.yuan(1, 30)
    plan: Plan = []
    for k in range(int(kit.rng.integers(2, 4))):
        sender = kit.recruit("launderer", balance=kit.yuan(8_000, 20_000), cls="III")
        plan.append(_p2p(kit, label, 660 + 20 * k, day, sender, sleeper, share_bp=9_000))
    dest = kit.recruit("launderer", cls="III")
    plan.append(_p2p(kit, label, 800, day, sleeper, dest, share_bp=6_000))
    plan.append(
        Tx(
            after(local_time(kit.cfg, day, 0), 830),
            sleeper.index,
            "withdrawal",
            where=kit.home(sleeper),
            label=label,
            share_bp=9_500,
        )
    )
    return plan


def account_farm(kit: CaseKit, case_id: str, day: int) -> Plan:
    """Several accounts run from one phone and address, all paying one collector."""
    label = kit.label("account_farm", case_id)
    phone = Where(
        f"farm-{case_id}", f"198.51.100.{int(kit.rng.integers(1, 250))}", kit.pop.people[0].home
    )
    collector, plan = kit.recruit("launderer", cls="III"), list[Tx | Step]()
    for k in range(int(kit.rng.integers(5, 9))):
        farm = kit.recruit("farm", balance=kit.yuan(300, 1_500), age=(1, 20))
        plan.append(
            _p2p(kit, label, 1_200 + 2 * k, day, farm, collector, share_bp=9_500, where=phone)
        )
    return plan


PLANNERS: dict[str, Callable[[CaseKit, str, int], Plan]] = {
    "mule_network": mule_network,
    "structuring": structuring,
    "scatter_gather": scatter_gather,
    "cycle": cycle,
    "rapid_pass_through": rapid_pass_through,
    "dormant_reactivation": dormant_reactivation,
    "account_farm": account_farm,
}
