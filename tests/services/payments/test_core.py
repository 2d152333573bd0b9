"""P2P transfers and the payment machinery, on SQLite and PostgreSQL: balances move by
ledger transfers committed with the payment row; every rejection changes no balance;
the ledger verifies clean after every test.

`World` runs each call the way the API does (api/deps.request_unit): its own unit of
work, committed on success and on the refusals that kept their bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from guardpay.adapters.sms import FakeSms
from guardpay.api.deps import request_unit
from guardpay.domain.ledger.chart import AccountCode, TransferCode
from guardpay.domain.ledger.model import Transfer
from guardpay.domain.money import Money
from guardpay.errors import GuardpayError
from guardpay.security import passwords
from guardpay.security.keys import Keyring
from guardpay.services.auth import facade as auth
from guardpay.services.identity import facade as identity
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import wallets
from guardpay.services.payments import core as payments
from guardpay.services.payments.pipeline import Authorization
from guardpay.services.platform.context import SYSTEM, Actor, Context
from guardpay.services.risk.engine import RiskEngine
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only
from tests.api.api_fixtures import Clock
from tests.domain.identity.numbers import uscc

T = TypeVar("T")
PIN = "730194"
PASSWORD = Authorization(payment_password=PIN)
FOODMALL = uscc("91310115MA1H7XYR0")


def cny(yuan: int) -> Money:
    return Money(yuan * 100, "CNY")


@dataclass
class World:
    db: Database
    keyring: Keyring = field(default_factory=Keyring.generate)
    clock: Clock = field(default_factory=Clock)
    sms: FakeSms = field(default_factory=FakeSms)
    risk: RiskEngine = field(default_factory=RiskEngine)  # its own history per test
    actor: Actor = SYSTEM
    _transfer_id: int = 0

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with request_unit(self.db) as uow:
            ctx = Context(uow, self.keyring, self.actor, self.clock, None, self.risk)
            return fn(ctx, *args, **kwargs)

    def refused(self, code: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """`fn` is refused with `code` and no balance changes."""
        before = self.balances()
        with pytest.raises(GuardpayError) as caught:
            self.run(fn, *args, **kwargs)
        assert caught.value.code == code, caught.value.message
        assert self.balances() == before

    def user(self, phone: str, account_class: str = "II", pin: str | None = PIN) -> str:
        def make(ctx: Context) -> str:
            user = identity.register_user(ctx, phone)
            if account_class != "unverified":
                ctx.uow.identity.set_verified(user.id, account_class, None, ctx.now())
            if pin is not None:
                auth.set_payment_password(ctx, user.id, pin)
            return user.id

        return self.run(make)

    def fund(self, user_id: str, amount: Money) -> None:
        """What a settled top-up does: reserve -> the user's wallet."""
        self._transfer_id += 1
        tid = 10**12 + self._transfer_id

        def top_up(ctx: Context) -> None:
            reserve = wallets.open_platform_accounts(ctx, amount.currency)[AccountCode.RESERVE]
            wallet = wallets.wallet(ctx, "user", user_id, amount.currency)
            move = Transfer(
                tid, reserve, wallet, amount.amount, ledger=156, code=TransferCode.TOP_UP
            )
            assert [r.value for r in ledger.execute(ctx.uow, [move])] == ["ok"]

        self.run(top_up)

    def merchant(self, name: str = "FoodMall") -> str:
        return self.run(
            lambda ctx: (
                identity.register_merchant(
                    ctx,
                    legal_name=f"{name} Ltd",
                    display_name=name,
                    registration_number=FOODMALL,
                    mcc="5812",
                ).id
            )
        )

    def balance(
        self, kind: str, owner: str, code: AccountCode = AccountCode.CUSTOMER_WALLET
    ) -> int:
        def read(ctx: Context) -> int:
            account = wallets.wallet(ctx, kind, owner, "CNY", code)
            return wallets.balance(ctx, account, "CNY").amount

        return self.run(read)

    def balances(self) -> list[tuple[int, int, int]]:
        """Every account holding or having moved money (an empty wallet opened on the way
        to a refusal is no balance)."""
        with self.db.read() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, credits_posted, debits_posted FROM ledger_accounts "
                    "WHERE credits_posted != 0 OR debits_posted != 0 ORDER BY id"
                )
            )
            return [(int(a), int(b), int(c)) for a, b, c in rows]

    def failed_payments(self, payer: str) -> list[str]:
        with self.db.read() as conn:
            query = text(
                "SELECT failure_code FROM payments WHERE payer_id = :p "
                "AND status = 'failed' ORDER BY created_at, id"
            )
            rows = conn.execute(query, {"p": payer})
            return [str(r[0]) for r in rows]

    def audit(self, action: str) -> list[tuple[Any, ...]]:
        with self.db.read() as conn:
            rows = conn.execute(
                text("SELECT subject, outcome FROM audit_log WHERE action = :a ORDER BY seq"),
                {"a": action},
            )
            return [tuple(r) for r in rows]


@pytest.fixture
def world(db: Database) -> Iterator[World]:
    """A world on this backend; afterwards the ledger must verify clean."""
    with passwords.using(passwords.CHEAP):
        w = World(db)
        yield w
    with read_only(db) as uow:
        report = ledger.verify(uow)
    assert report.ok, report.problems


ALICE, BOB = "13812345678", "13900139000"


def test_p2p_by_phone_and_by_id(world: World) -> None:
    alice, bob = world.user(ALICE), world.user(BOB)
    world.fund(alice, cny(100))
    paid = world.run(payments.p2p_transfer, alice, BOB, cny(30), PASSWORD)
    assert (paid.row.status, paid.row.fee, paid.row.kind) == ("succeeded", 0, "p2p")
    world.run(payments.p2p_transfer, alice, bob, Money(1, "CNY"), PASSWORD)
    assert (world.balance("user", alice), world.balance("user", bob)) == (69_99, 30_01)
    assert world.run(payments.get_payment, bob, paid.row.id).amount == 30_00
    assert [o for _, o in world.audit("payment.succeeded")] == ["ok", "ok"]


def test_p2p_rejections_change_no_balance(world: World) -> None:
    alice, bob = world.user(ALICE, "I"), world.user(BOB, "unverified")
    world.fund(alice, cny(2000))
    world.fund(bob, cny(10))
    world.refused(
        "invalid_payment_password",
        payments.p2p_transfer,
        alice,
        bob,
        cny(1),
        Authorization(payment_password="000000"),
    )
    world.refused("account_not_verified", payments.p2p_transfer, bob, alice, cny(1), PASSWORD)
    world.refused("payee_not_found", payments.p2p_transfer, alice, "13700000000", cny(1), PASSWORD)
    world.refused("payee_is_payer", payments.p2p_transfer, alice, alice, cny(1), PASSWORD)
    world.run(payments.p2p_transfer, alice, bob, cny(900), PASSWORD)
    world.refused("limit_exceeded", payments.p2p_transfer, alice, bob, cny(101), PASSWORD)
    with pytest.raises(GuardpayError, match=r"100\.00 CNY remaining"):
        world.run(payments.p2p_transfer, alice, bob, cny(101), PASSWORD)
    carol = world.user("13700001111")
    world.refused("insufficient_funds", payments.p2p_transfer, carol, bob, cny(1), PASSWORD)
    # Refused before any money moved, but not forgotten: the payer's history shows them.
    assert world.failed_payments(alice) == ["limit_exceeded", "limit_exceeded"]
    assert world.failed_payments(carol) == ["insufficient_funds"]
    assert world.failed_payments(bob) == []  # an unverified payer never got that far


def test_no_factor_requires_a_step_up_then_confirms(world: World) -> None:
    alice, bob = world.user(ALICE), world.user(BOB)
    world.fund(alice, cny(50))
    before = world.balances()
    waiting = world.run(payments.p2p_transfer, alice, bob, cny(20), Authorization())
    assert waiting.row.status == "requires_action"
    assert waiting.next_action is not None
    assert "sms" in waiting.next_action["methods"]  # type: ignore[operator]
    assert world.balances() == before
    challenge = str(waiting.next_action["challenge_id"])
    world.refused(
        "step_up_not_passed", payments.confirm_payment, alice, waiting.row.id, Authorization()
    )
    world.run(auth.send_sms_code, challenge, world.sms)
    code = world.sms.last_code("+86" + ALICE)
    world.run(auth.pass_step_up, challenge, "sms", code=code)
    done = world.run(payments.confirm_payment, alice, waiting.row.id, PASSWORD)
    assert (done.row.status, done.row.factors) == ("succeeded", 2)
    assert world.balance("user", bob) == 20_00
    world.refused("illegal_transition", payments.confirm_payment, alice, waiting.row.id, PASSWORD)


def test_my_payments_page_by_cursor(world: World) -> None:
    alice, bob = world.user(ALICE), world.user(BOB)
    world.fund(alice, cny(10))
    made = []
    for _ in range(5):
        world.clock.advance(seconds=1)
        made.append(world.run(payments.p2p_transfer, alice, bob, Money(1, "CNY"), PASSWORD))
    first, cursor = world.run(payments.list_payments, alice, None, 2)
    second, cursor2 = world.run(payments.list_payments, alice, cursor, 2)
    third, end = world.run(payments.list_payments, alice, cursor2, 2)
    ids = [r.id for r in first + second + third]
    assert ids == [p.row.id for p in reversed(made)]
    assert end is None
    world.refused("invalid_cursor", payments.list_payments, bob, cursor, 2)


def test_a_currency_the_limits_are_not_set_in_is_refused(world: World) -> None:
    """Else a Class I account, capped at ¥1,000 in all, could pay without limit in USD."""
    alice, bob = world.user(ALICE, "I"), world.user(BOB)
    world.fund(alice, cny(10))
    usd = Money(100, "USD")
    world.refused("currency_not_supported", payments.p2p_transfer, alice, bob, usd, PASSWORD)
    assert world.failed_payments(alice) == []  # not a limit: the payment never began
