"""The platform as the simulation uses it: a database, the master keyring, one risk
engine (in-process feature state) for the whole run, a simulated clock, the fake SMS
outbox and a calm fake bank — and the opening of every account.

Every request runs in its own unit of work exactly as the API runs one
(`api.deps.request_unit`: committed on success and on the refusals that kept their
bookkeeping, `UnitOfWork.keep`). The set-up is the one shortcut: accounts are opened
through the identity and auth services, but many to a unit of work, verified by setting
the account class directly (as the identity tests do) and funded with an opening top-up
transfer from the reserve (what a settled top-up does); cards are written as the card
binding would store them, without the KYC round trip. The day-by-day requests never take shortcuts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from guardpay.adapters.bank import Chaos, FakeBank
from guardpay.adapters.risk_state import MemoryFeatureState
from guardpay.adapters.sms import FakeSms
from guardpay.api.deps import request_unit
from guardpay.domain.identity.checksums import gb32100_check_char, luhn_check_digit
from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import Transfer
from guardpay.security.keys import Keyring
from guardpay.security.passwords import hasher
from guardpay.services.auth import facade as auth
from guardpay.services.auth import passwords as auth_passwords
from guardpay.services.identity import cards as identity_cards
from guardpay.services.identity import facade as identity
from guardpay.services.identity import users as identity_users
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import wallets
from guardpay.services.platform.context import SYSTEM, Actor, Context
from guardpay.services.risk.engine import RiskEngine
from guardpay.sim.population import Merchant, Person, Population
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only

PIN = "730194"
CURRENCY = "CNY"
SETUP_BATCH = 250
CALM = Chaos(failure=0.0, duplicate=0.0, late=0.0, contradiction=0.0)


def login_password(person: Person) -> str:
    return f"Jade7-Heron-{person.index}"


def phone(person: Person) -> str:
    return f"13{person.index:09d}"


def card_number(person: Person, k: int) -> str:
    """A Luhn-valid ICBC debit number: card 0 is the person's own, 1.. stolen ones."""
    body = f"622202{k:03d}{person.index:09d}"
    return body + luhn_check_digit(body)


class SimClock:
    """The clock every request reads: set by the runner, never the wall clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Platform:
    db: Database
    clock: SimClock
    keyring: Keyring = field(default_factory=Keyring.generate)
    engine: RiskEngine = field(default_factory=lambda: RiskEngine(MemoryFeatureState()))
    sms: FakeSms = field(default_factory=FakeSms)
    bank: FakeBank = field(default_factory=lambda: FakeBank(seed=0, chaos=CALM))
    cards: dict[tuple[int, int], str] = field(default_factory=dict)  # (person, k) -> card id
    tokens: dict[tuple[int, int], str] = field(default_factory=dict)  # (person, k) -> token
    _static_qr: dict[str, str] = field(default_factory=dict)

    @contextmanager
    def unit(self, actor: Actor = SYSTEM) -> Iterator[Context]:
        """One request's unit of work, as the API runs it."""
        with request_unit(self.db) as uow:
            yield Context(uow, self.keyring, actor, self.clock, risk_engine=self.engine)

    @contextmanager
    def reading(self) -> Iterator[Context]:
        with read_only(self.db) as uow:
            yield Context(uow, self.keyring, SYSTEM, self.clock, risk_engine=self.engine)

    def static_qr(self, ctx: Context, merchant_id: str) -> str:
        from guardpay.services.payments.qr import static_payload

        if merchant_id not in self._static_qr:
            self._static_qr[merchant_id] = static_payload(ctx, merchant_id)
        return self._static_qr[merchant_id]


def open_accounts(platform: Platform, population: Population, start: datetime) -> None:
    """Register, verify, credential, fund and card every person; register the merchants.
    Every simulated person has the same payment PIN, so it is hashed once and the hash
    stored for each (with the audit entry a first PIN gets); their opening balances go to
    the ledger in one batch per unit of work."""
    people = population.people
    pin_hash = hasher().hash(PIN)
    for first in range(0, len(people), SETUP_BATCH):
        with platform.unit() as ctx:
            wallets.open_platform_accounts(ctx, CURRENCY)
            moves = [
                _open_person(platform, ctx, person, pin_hash)
                for person in people[first : first + SETUP_BATCH]
            ]
            funded = [m for m in moves if m is not None]
            if funded:
                results = ledger.execute(ctx.uow, funded, clock=ctx.ledger_clock)
                assert all(r.value == "ok" for r in results), results
    with platform.unit() as ctx:
        for merchant in population.merchants:
            _open_merchant(platform, ctx, merchant, start)
    with platform.unit() as ctx:  # the static codes, signed under a committed QR key
        for merchant in population.merchants:
            platform.static_qr(ctx, merchant.merchant_id)
    platform.clock.now = start


def _open_person(
    platform: Platform, ctx: Context, person: Person, pin_hash: str
) -> Transfer | None:
    """The person's accounts; the opening balance's ledger transfer, if any."""
    platform.clock.now = person.created_at
    user = identity.register_user(ctx, phone(person))
    person.user_id = user.id
    identity_users.seed_verified(ctx, user.id, person.account_class, person.created_at)
    if person.login:
        auth.set_login_password(ctx, user.id, login_password(person))
    auth_passwords.seed_payment_password_hash(ctx, user.id, pin_hash)
    for k in range(1 + person.stolen_cards):
        platform.cards[(person.index, k)], platform.tokens[(person.index, k)] = _bind(
            ctx, person, k
        )
    wallet = wallets.wallet(ctx, "user", user.id, CURRENCY)
    if person.balance <= 0:
        return None
    reserve = wallets.platform_account_id(AccountCode.RESERVE, CURRENCY)
    return Transfer(
        10**15 + person.index, reserve, wallet, person.balance, ledger=156, code=TransferCode.TOP_UP
    )


def _bind(ctx: Context, person: Person, k: int) -> tuple[str, str]:
    """A bound debit card, stored as `identity.bind_card` stores one."""
    row = identity_cards.seed_card(ctx, person.user_id, card_number(person, k))
    assert row.token is not None
    return row.id, row.token


def _open_merchant(platform: Platform, ctx: Context, merchant: Merchant, start: datetime) -> None:
    at = merchant.created_at or start - timedelta(days=400 + merchant.index)
    platform.clock.now = at
    merchant.created_at = at
    body = f"91310115{merchant.index:09d}"
    made = identity.register_merchant(
        ctx,
        legal_name=f"{merchant.name} Trading Co Ltd",
        display_name=merchant.name,
        registration_number=body + gb32100_check_char(body),
        mcc=merchant.mcc,
    )
    merchant.merchant_id = made.id
