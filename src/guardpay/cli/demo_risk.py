"""The demo's risk-control flow: a block-listed mule refused, and a scam-like night
transfer held as a pending ledger transfer until an analyst releases it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from guardpay.cli.demo_world import PAYMENT_PIN, Cast, DemoWorld, refused
from guardpay.domain.money import Money
from guardpay.domain.risk.explain import plain_words
from guardpay.domain.risk.features import LOCAL_TZ
from guardpay.services.auth.operators import create_operator
from guardpay.services.payments import core as payments
from guardpay.services.payments import funding
from guardpay.services.payments import review as payments_review
from guardpay.services.payments.pipeline import Authorization
from guardpay.services.platform.context import Actor
from guardpay.services.risk import decisions as risk_decisions
from guardpay.services.risk import lists as risk_lists

#: the demo's analyst, an operator of the console API (fake, printed on purpose)
ANALYST_NAME = "demo-risk"
ANALYST_SECRET = "Demo-analyst-pass-7"


def _yuan(minor: int) -> str:
    return f"¥{Money(minor, 'CNY').to_decimal_string()}"


def _night(world: DemoWorld) -> None:
    """Move the walkthrough's clock to the next 02:30 in Shanghai (still in the past)."""
    local = world.clock.at.astimezone(LOCAL_TZ)
    target = local.replace(hour=2, minute=30, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    world.clock.at = target


def risk_flow(world: DemoWorld, cast: Cast, say: Callable[[str], None]) -> str:
    pin = Authorization(payment_password=PAYMENT_PIN)
    analyst = world.run(create_operator, ANALYST_NAME, "analyst", ANALYST_SECRET)
    as_analyst = Actor("operator", analyst.id)
    world.run_as(
        as_analyst,
        risk_lists.add_entry,
        "block",
        "payee",
        cast.dave.user_id,
        "reported by a bank as a money mule",
        timedelta(days=30),
    )
    say(f"an analyst puts {cast.dave.person.name} on the block list (a reported money mule)")
    say(
        f"  {cast.alice.person.name} tries to pay him ¥50.00: "
        + refused(
            world,
            payments.p2p_transfer,
            cast.alice.user_id,
            cast.dave.user_id,
            Money(50_00, "CNY"),
            pin,
        )
    )
    bob = cast.bob
    assert bob.card_id is not None
    world.run(funding.request_top_up, world.bank, bob.user_id, bob.card_id, Money(8_000_00, "CNY"))
    world.bank.drain(world.deliver)
    _night(world)
    held = world.run(
        payments.p2p_transfer, bob.user_id, cast.carol.user_id, Money(6_000_00, "CNY"), pin
    )
    decision = world.run(risk_decisions.decision_for, held.row.id)
    assert decision is not None
    say(
        f"at 02:30 {bob.person.name} sends {_yuan(6_000_00)} to someone he never paid: "
        f"[cyan]{held.row.status}[/], the money held ({', '.join(decision.reasons)})"
    )
    for line in plain_words(decision.action, decision.reasons):
        say(f"  what {bob.person.name} is told: {line}")
    done = world.run_as(as_analyst, payments_review.approve, decision.id, "called him back")
    say(f"  the analyst calls him, he confirms: [green]{done.payment.status}[/], the hold posted")
    return done.payment.status
