"""Fraud typologies: each planner returns every request (and step) one case makes, all
carrying the case's label. Times are local hours of the case's day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from guardpay.sim.cases import CaseKit, Plan, after, local_time
from guardpay.sim.model import Step, Tx, Where

T = "account_takeover"


def account_takeover(kit: CaseKit, case_id: str, day: int) -> Plan:
    """Stolen credentials: the crew logs in from a new phone far away, changes the login
    password, drains the wallet to two mules, who cash out. A SIM swap lets the crew
    pass SMS step-ups; otherwise a challenged drain is abandoned."""
    label, victim = kit.label(T, case_id), kit.victim(savings=(500, 8_000))
    victim.login = True
    mules = [kit.recruit("mule", age=(3, 40)) for _ in range(2)]
    boss, crew = kit.recruit("fraudster"), kit.crew_where(case_id)
    swapped = bool(kit.rng.random() < kit.cfg.sim_swap_share)
    t0 = local_time(kit.cfg, day, kit.hour(0.5, 23.5))
    plan: Plan = [Step(t0, victim.index, "change_password", crew, label)]
    for k, (mule, part) in enumerate(zip(mules, (5_000, 9_000), strict=True)):
        plan.append(
            Tx(
                after(t0, 3 + 4 * k),
                victim.index,
                "p2p",
                payee=mule.index,
                where=crew,
                can_step_up=swapped,
                label=label,
                share_bp=part,
            )
        )
    plan.append(
        Tx(
            after(t0, 120),
            mules[0].index,
            "withdrawal",
            where=kit.home(mules[0]),
            label=label,
            share_bp=9_500,
        )
    )
    plan.append(
        Tx(
            after(t0, 150),
            mules[1].index,
            "p2p",
            payee=boss.index,
            where=kit.home(mules[1]),
            label=label,
            share_bp=9_500,
        )
    )
    plan.append(
        Tx(
            after(t0, 300),
            boss.index,
            "withdrawal",
            where=kit.home(boss),
            label=label,
            share_bp=9_500,
        )
    )
    return plan


def telecom_scam(kit: CaseKit, case_id: str, day: int) -> Plan:
    """A 'police officer' on the phone talks the victim into moving savings to a 'safe
    account' (a fresh mule) from the victim's own phone; the victim, coached, passes any
    step-up. The mule forwards to the crew within the hour."""
    label, victim = kit.label("telecom_scam", case_id), kit.victim(savings=(3_000, 30_000))
    mule, boss = kit.recruit("mule", age=(1, 10)), kit.recruit("fraudster")
    t0 = local_time(kit.cfg, day, kit.hour(9, 23))
    where = kit.home(victim)
    shares = (4_000, 7_000, 9_000)[: int(kit.rng.integers(1, 4))]
    plan: Plan = [
        Tx(
            after(t0, 12 * k),
            victim.index,
            "p2p",
            payee=mule.index,
            where=where,
            label=label,
            share_bp=part,
        )
        for k, part in enumerate(shares)
    ]
    plan.append(
        Tx(
            after(t0, 45),
            mule.index,
            "p2p",
            payee=boss.index,
            where=kit.crew_where(case_id),
            label=label,
            share_bp=9_700,
        )
    )
    plan.append(
        Tx(
            after(t0, 90),
            boss.index,
            "withdrawal",
            where=kit.home(boss),
            label=label,
            share_bp=9_500,
        )
    )
    return plan


def qr_swap(kit: CaseKit, case_id: str, day: int) -> Plan:
    """A sticker of the crew's own (days-old) merchant code over a shop's static QR: the
    shop's customers pay the crew all day."""
    label, boss = kit.label("qr_swap", case_id), kit.recruit("fraudster")
    opened = local_time(kit.cfg, day, 0) - timedelta(days=int(kit.rng.integers(1, 6)))
    fake = kit.pop.add_merchant(boss.index, kit.rng, opened)
    shop = kit.pop.merchants[kit.genuine_merchant()]
    plan: Plan = []
    for _ in range(int(kit.rng.integers(3, 9))):
        payer = kit.victim()
        where = Where(payer.devices[0], payer.ip, shop.home)
        at = local_time(kit.cfg, day, kit.hour(8, 21))
        plan.append(
            Tx(
                at,
                payer.index,
                "qr_static",
                kit.yuan(8, 200),
                merchant=fake.index,
                where=where,
                label=label,
            )
        )
    return plan


def stolen_card_topup(kit: CaseKit, case_id: str, day: int) -> Plan:
    """Stolen cards bound to a fresh account top it up, then the money leaves: to a mule
    and out to the crew's own card."""
    label = kit.label("stolen_card_topup", case_id)
    boss, mule = kit.recruit("fraudster", age=(0, 5)), kit.recruit("mule", age=(2, 30))
    boss.stolen_cards = 2
    where, t0 = kit.crew_where(case_id), local_time(kit.cfg, day, kit.hour(0, 20))
    plan: Plan = [
        Tx(
            after(t0, 7 * k),
            boss.index,
            "topup",
            kit.yuan(500, 3_000),
            where=where,
            label=label,
            card=1 + k % 2,
        )
        for k in range(3)
    ]
    plan.append(
        Tx(
            after(t0, 40),
            boss.index,
            "p2p",
            payee=mule.index,
            where=where,
            label=label,
            share_bp=6_000,
        )
    )
    plan.append(
        Tx(after(t0, 50), boss.index, "withdrawal", where=where, label=label, share_bp=9_500)
    )
    plan.append(
        Tx(
            after(t0, 180),
            mule.index,
            "withdrawal",
            where=kit.home(mule),
            label=label,
            share_bp=9_500,
        )
    )
    return plan


def card_testing(kit: CaseKit, case_id: str, day: int) -> Plan:
    """Tiny top-ups from many stolen cards within the hour to see which are live (most
    are declined at the bank); a live one is then used for real."""
    label, boss = kit.label("card_testing", case_id), kit.recruit("fraudster", age=(0, 3))
    cards = int(kit.rng.integers(5, 9))
    boss.stolen_cards = cards
    live = 1 + int(kit.rng.integers(cards))
    kit.declined.extend((boss.index, k) for k in range(1, cards + 1) if k != live)
    where, t0 = kit.crew_where(case_id), local_time(kit.cfg, day, kit.hour(0, 22))
    plan: Plan = [
        Tx(after(t0, 3 * k), boss.index, "topup", kit.yuan(1, 10), where=where, label=label, card=k)
        for k in range(1, cards + 1)
    ]
    plan.append(
        Tx(
            after(t0, 60),
            boss.index,
            "topup",
            kit.yuan(1_000, 3_000),
            where=where,
            label=label,
            card=live,
        )
    )
    plan.append(
        Tx(after(t0, 75), boss.index, "withdrawal", where=where, label=label, share_bp=9_000)
    )
    return plan


def fake_merchant_cashout(kit: CaseKit, case_id: str, day: int) -> Plan:
    """False trades: accounts the crew controls 'buy' from the crew's merchant in escrow,
    confirm at once on paper, and the merchant settles the money out."""
    label, boss = kit.label("fake_merchant_cashout", case_id), kit.recruit("fraudster")
    opened = local_time(kit.cfg, day, 0) - timedelta(days=int(kit.rng.integers(3, 20)))
    shop = kit.pop.add_merchant(boss.index, kit.rng, opened)
    plan: Plan = []
    for _ in range(int(kit.rng.integers(3, 7))):
        buyer = kit.recruit("mule", balance=kit.yuan(3_000, 9_000), age=(5, 90))
        at = local_time(kit.cfg, day, kit.hour(9, 22))
        plan.append(
            Tx(
                at,
                buyer.index,
                "escrow",
                kit.yuan(1_000, 2_800),
                merchant=shop.index,
                where=kit.home(buyer),
                label=label,
            )
        )
    return plan


PLANNERS: dict[str, Callable[[CaseKit, str, int], Plan]] = {
    "account_takeover": account_takeover,
    "telecom_scam": telecom_scam,
    "qr_swap": qr_swap,
    "stolen_card_topup": stolen_card_topup,
    "card_testing": card_testing,
    "fake_merchant_cashout": fake_merchant_cashout,
}
