"""The demo's cast, built through the real services: the platform accounts, one person of
each account class (the fake KYC channels decide the class, as the real ones would), a
merchant with a sub-merchant, and bound debit cards.

Every call runs in its own unit of work through `api.deps.request_unit`, exactly as an
API request would: committed on success and on the refusals that kept what they wrote
(`UnitOfWork.keep`: the audit entry of a replayed QR code), rolled back on anything
else. Nothing here writes to a table directly, so the demo shows what the platform
really does.

All people, numbers and cards are made up: the ID numbers and card numbers carry valid
check digits (computed here) so the validators accept them, and belong to nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from guardpay.adapters.bank import BankCallback, Chaos, FakeBank
from guardpay.adapters.kyc import FakeKyc, Kyc
from guardpay.adapters.sms import FakeSms
from guardpay.api.deps import request_unit
from guardpay.domain.identity.checksums import (
    gb11643_check_char,
    gb32100_check_char,
    luhn_check_digit,
)
from guardpay.errors import GuardpayError
from guardpay.security.keys import Keyring
from guardpay.services.auth import facade as auth
from guardpay.services.identity import facade as identity
from guardpay.services.identity.facade import CardEvidence, Evidence
from guardpay.services.ledger import wallets
from guardpay.services.payments import funding
from guardpay.services.platform.context import SYSTEM, Actor, Context, utc_now
from guardpay.services.risk.engine import RiskEngine
from guardpay.storage.engine.db import Database

T = TypeVar("T")

#: The demo's shared secrets: fake accounts on a throwaway database, printed on purpose.
LOGIN_PASSWORD = "Jade7-Heron-cove"
PAYMENT_PIN = "730194"

#: A bank that answers every instruction once, promptly and truthfully: the chaos is for
#: the tests (tests/services/test_funding_chaos.py); the demo tells the happy path.
CALM = Chaos(failure=0.0, duplicate=0.0, late=0.0, contradiction=0.0)


def resident_id(region: str, birth: str, seq: str) -> str:
    body = region + birth + seq
    return body + gb11643_check_char(body)


def debit_card(seed: str) -> str:
    """A 19-digit ICBC debit card number (BIN 622202) passing the Luhn check."""
    body = ("622202" + seed * 13)[:18]
    return body + luhn_check_digit(body)


def credit_code(first17: str) -> str:
    return first17 + gb32100_check_char(first17)


@dataclass(frozen=True)
class Person:
    name: str
    phone: str
    id_number: str
    channels: int  # how many KYC channels to pass: 0 unverified, 1 I, 3 II, 5 III
    card_seed: str | None = None  # a debit card to bind, if any


@dataclass(frozen=True)
class Member:
    """A person as the platform knows them after onboarding."""

    person: Person
    user_id: str
    account_class: str
    card_id: str | None


PEOPLE = (
    Person("李华", "13800138000", resident_id("310104", "19900307", "123"), 3, "3"),
    Person("陈刚", "13900139000", resident_id("440305", "19751129", "888"), 5, "5"),
    Person("张伟", "13700137000", resident_id("110105", "19880512", "456"), 1),
    Person("赵敏", "13600136000", resident_id("330106", "19950821", "777"), 0),
)


@dataclass
class DemoClock:
    """The walkthrough's time: it starts a day ago and each step takes 30 seconds, as if
    people were using their phones, so risk control's velocity features see a plausible
    day (not forty payments in one second); the served API then runs on real time, later
    than anything the walkthrough wrote."""

    STEP: ClassVar[timedelta] = timedelta(seconds=30)
    at: datetime

    def __call__(self) -> datetime:
        return self.at


@dataclass
class DemoWorld:
    """One demo run: the database, its keyring, and the fakes standing in for the KYC
    services, the SMS gateway and the bank (kept so the served API can use the same)."""

    db: Database
    keyring: Keyring
    kyc: FakeKyc = field(default_factory=Kyc.fakes)
    sms: FakeSms = field(default_factory=FakeSms)
    bank: FakeBank = field(default_factory=lambda: FakeBank(seed=7, chaos=CALM))
    risk: RiskEngine = field(default_factory=RiskEngine)
    clock: DemoClock = field(default_factory=lambda: DemoClock(utc_now() - timedelta(days=1)))

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.run_as(SYSTEM, fn, *args, **kwargs)

    def run_as(self, actor: Actor, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self.clock.at += DemoClock.STEP
        with request_unit(self.db) as uow:
            ctx = Context(uow, self.keyring, actor, self.clock, None, self.risk)
            return fn(ctx, *args, **kwargs)

    def deliver(self, callback: BankCallback) -> funding.Outcome:
        """What the bank's callback endpoint does: one unit of work per callback."""
        return self.run(funding.handle_callback, callback)


@dataclass(frozen=True)
class Cast:
    alice: Member  # Class II, with a card: pays
    bob: Member  # Class III, with a card: receives, then withdraws
    carol: Member  # Class I
    dave: Member  # unverified: may receive, may not pay
    shop: str  # a merchant (its id)
    shop_name: str
    branch: str  # the merchant's sub-merchant
    branch_name: str

    @property
    def members(self) -> tuple[Member, ...]:
        return (self.alice, self.bob, self.carol, self.dave)


def _evidence(p: Person) -> Evidence:
    """The channels that make the class: the ID authority first, then a card's four
    elements and a selfie (3: Class II), then the carrier and a bank transfer (5: III)."""
    card = CardEvidence(debit_card(p.card_seed or "9"), p.phone) if p.channels >= 3 else None
    return Evidence(
        id_authority=True,
        card=card,
        selfie_ref=f"selfie-{p.phone}" if p.channels >= 3 else None,
        phone_carrier=p.channels >= 5,
        transfer_reference=f"GPV-{p.phone[-4:]}" if p.channels >= 5 else None,
    )


def _onboard(ctx: Context, kyc: Kyc, p: Person) -> Member:
    user = identity.register_user(ctx, p.phone, p.name)
    cls = user.account_class.value
    if p.channels:
        cls = identity.verify_identity(
            ctx,
            kyc,
            user.id,
            name=p.name,
            document_type="resident_id",
            document_number=p.id_number,
            evidence=_evidence(p),
        ).account_class.value
    auth.set_login_password(ctx, user.id, LOGIN_PASSWORD)
    card_id = None
    if p.card_seed is not None:
        card_id = identity.bind_card(ctx, kyc, user.id, debit_card(p.card_seed), p.phone).id
    if p.channels:
        auth.set_payment_password(ctx, user.id, PAYMENT_PIN)
    return Member(p, user.id, cls, card_id)


def _merchants(ctx: Context) -> tuple[str, str]:
    shop = identity.register_merchant(
        ctx,
        legal_name="Shanghai Tea House Co Ltd",
        display_name="Tea House",
        registration_number=credit_code("91310115MA1H7XYR0"),
        mcc="5812",
    )
    branch = identity.add_sub_merchant(
        ctx, shop.id, legal_name="Tea House Pudong Branch", display_name="Pudong", mcc="5812"
    )
    return shop.id, branch.id


def build(world: DemoWorld) -> Cast:
    """Open the platform's CNY accounts, onboard the people and the merchants."""
    world.run(wallets.open_platform_accounts, "CNY")
    alice, bob, carol, dave = (world.run(_onboard, world.kyc, p) for p in PEOPLE)
    shop, branch = world.run(_merchants)
    names = world.run(
        lambda ctx: (
            identity.get_merchant(ctx, shop).descriptor,
            identity.get_merchant(ctx, branch).descriptor,
        )
    )
    return Cast(alice, bob, carol, dave, shop, names[0], branch, names[1])


def refused(world: DemoWorld, fn: Callable[..., Any], *args: Any) -> str:
    """Run a call that should be refused; its error code, in words for the story."""
    try:
        world.run(fn, *args)
    except GuardpayError as exc:
        return f"[yellow]refused ({exc.code})[/]: {exc.message}"
    return "[red]accepted — it should have been refused[/]"
