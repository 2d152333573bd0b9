"""Top-up and withdrawal over HTTP on both backends, with the bank answering through the
signed callback endpoint: late, twice, out of order, sometimes failing, sometimes
contradicting itself. Whatever the order, each funding ends as the bank finally said,
the reserve reconciles and the ledger verifies clean."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from guardpay.adapters.bank import BankCallback, Chaos, FakeBank
from guardpay.adapters.kyc import Kyc
from guardpay.adapters.sms import FakeSms
from guardpay.api.app import create_app
from guardpay.security import passwords
from guardpay.security.keys import Keyring
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import reconcile
from guardpay.services.webhooks import events as webhooks
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only
from tests.api.api_fixtures import PIN, RAISE, Api, Clock, PhoneApp, error_of
from tests.domain.identity.numbers import card, resident_id

SECRET = "bank-shared-secret-7f3a"
CALM = Chaos(failure=0.0, duplicate=0.0, late=0.0, contradiction=0.0)
WORST_DAY = Chaos(failure=0.3, duplicate=0.5, late=0.4, contradiction=0.3)
ALICE, BOB = "13812345678", "13900139000"


@dataclass
class Holder:
    token: str
    card_id: str
    phone: str


class BankApi(Api):
    bank: FakeBank

    def holder(self, phone: str, seq: str, pan: str) -> Holder:
        self.register(phone)
        token = self.sign_in(PhoneApp(), phone)
        assert self.verify(token, resident_id("310104", "19880512", seq)).status_code == 200
        assert (
            self.post("/v1/me/payment-password", {"payment_password": PIN}, token).status_code
            == 200
        )
        bound = self.post("/v1/me/cards", {"card_number": pan, "reserved_phone": phone}, token)
        assert bound.status_code == 201, bound.text
        return Holder(token, bound.json()["id"], phone)

    def fund(
        self, kind: str, who: Holder, amount: int, pin: str = PIN, challenge: str | None = None
    ) -> Response:
        body = {
            "card_id": who.card_id,
            "amount": amount,
            "payment_password": pin,
            "step_up_challenge_id": challenge,
        }
        return self.post(f"/v1/me/{kind}", body, who.token)

    def fund_as_the_app_does(self, kind: str, who: Holder, amount: int) -> Response:
        """Ask; if risk control wants a step-up, pass it by SMS and ask again with it."""
        r = self.fund(kind, who, amount)
        if r.status_code != 401:
            return r
        challenge = error_of(r, 401, "step_up_required")["step_up"]["challenge_id"]
        assert self.step_up(who, challenge).status_code == 200
        return self.fund(kind, who, amount, challenge=challenge)

    def step_up(self, who: Holder, challenge: str, *, wrong: bool = False) -> Response:
        """Have the code texted and answer with it (or, `wrong`, with another)."""
        code = self.sms_code(challenge, "+86" + who.phone)
        if wrong:
            code = "000000" if code != "000000" else "111111"
        return self.post(
            f"/v1/me/step-ups/{challenge}/pass", {"method": "sms", "code": code}, who.token
        )

    def callback(
        self,
        cb: BankCallback,
        secret: str = SECRET,
        at: int | None = None,
        raw: bytes | None = None,
    ) -> Response:
        """What the bank sends: the JSON body, signed with the shared secret."""
        body = raw if raw is not None else json.dumps(asdict(cb)).encode()
        signed_at = int(self.clock().timestamp()) if at is None else at
        headers = {
            "Bank-Timestamp": str(signed_at),
            "Content-Type": "application/json",
            "Bank-Signature": webhooks.signature(secret, signed_at, body),
        }
        return self.client.post("/v1/bank/callbacks", content=body, headers=headers)

    def deliver_all(self) -> list[str]:
        """Pump the bank until it is quiet, every callback over HTTP; the outcomes."""
        outcomes: list[str] = []

        def send(cb: BankCallback) -> None:
            r = self.callback(cb)
            assert r.status_code == 200, r.text
            outcomes.append(r.json()["outcome"])

        self.bank.drain(send)
        return outcomes

    def funding(self, who: Holder, funding_id: str) -> dict[str, Any]:
        r = self.get(f"/v1/me/fundings/{funding_id}", who.token)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def available(self, who: Holder) -> int:
        me = self.get("/v1/me", who.token).json()
        with read_only(self.db) as uow:
            wallet = uow.conn.exec_driver_sql(
                "SELECT account_id FROM wallets WHERE owner_kind = 'user' AND owner_id = "
                + ("%s" if self.db.backend == "postgresql" else "?"),
                (me["id"],),
            ).scalar_one()
            account = uow.ledger_queries.account(int(wallet))
        assert account is not None
        return account.available


def bank_api(db: Database, bank: FakeBank | None, secret: str | None = SECRET) -> Iterator[BankApi]:
    keyring, kyc, sms, clock = Keyring.generate(), Kyc.fakes(), FakeSms(), Clock()
    app = create_app(
        db, keyring=keyring, kyc=kyc, sms=sms, clock=clock, bank=bank, bank_secret=secret
    )
    with passwords.using(passwords.CHEAP), TestClient(app, raise_server_exceptions=RAISE) as c:
        api = BankApi(c, db, keyring, kyc, sms, clock)
        api.bank = bank if bank is not None else app.state.bank
        yield api


@pytest.fixture
def api(db: Database) -> Iterator[BankApi]:
    yield from bank_api(db, FakeBank(seed=11, chaos=CALM))


def assert_books_balance(db: Database) -> None:
    with read_only(db) as uow:
        assert ledger.verify(uow).ok
        assert reconcile.reserve(uow).ok


def test_a_top_up_is_held_until_the_bank_says_yes(api: BankApi) -> None:
    alice = api.holder(ALICE, "111", card("622202", 19))
    r = api.fund("top-ups", alice, 500_00)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["kind"], made["status"], made["amount"]) == ("top_up", "processing", 500_00)
    assert made["card_last4"] is not None
    assert made["bank_reference"] is not None
    assert api.available(alice) == 0  # in flight: not spendable yet
    assert api.deliver_all() == ["succeeded"]
    assert api.funding(alice, made["id"])["status"] == "succeeded"
    assert api.available(alice) == 500_00
    assert_books_balance(api.db)


def test_a_withdrawal_holds_the_money_and_a_failure_gives_it_back(api: BankApi) -> None:
    alice = api.holder(ALICE, "111", card("622202", 19))
    error_of(api.fund("withdrawals", alice, 1), 400, "insufficient_funds")
    api.fund("top-ups", alice, 300_00)
    api.deliver_all()
    out = api.fund("withdrawals", alice, 200_00).json()
    assert out["status"] == "processing"
    assert api.available(alice) == 100_00  # held at once
    failed = BankCallback(out["bank_reference"], out["id"], "failed", 200_00, "CNY")
    assert api.callback(failed).json() == {"outcome": "failed"}
    assert api.funding(alice, out["id"])["status"] == "failed"
    assert api.available(alice) == 300_00
    # The bank's own (successful) answer arrives after: a conflict is recorded, no change.
    assert api.deliver_all() == ["conflict"]
    assert api.available(alice) == 300_00
    assert_books_balance(api.db)


def test_a_top_up_after_a_restart_gets_a_new_reference(api: BankApi) -> None:
    """After a restart the server has a new fake bank on the same database (same seed):
    a top-up is 201, not a 500 on the unique bank reference, and settles as itself."""
    alice = api.holder(ALICE, "111", card("622202", 19))
    before = api.fund("top-ups", alice, 100_00).json()
    assert api.deliver_all() == ["succeeded"]
    api.bank = api.client.app.state.bank = FakeBank(seed=11, chaos=CALM)  # the restart
    r = api.fund("top-ups", alice, 25_00)
    assert r.status_code == 201, r.text
    after = r.json()
    assert after["bank_reference"] != before["bank_reference"]
    assert api.deliver_all() == ["succeeded"]
    assert api.funding(alice, after["id"])["status"] == "succeeded"
    assert api.available(alice) == 125_00
    assert_books_balance(api.db)


def test_every_funding_answer_says_status_and_still_the_deprecated_state(api: BankApi) -> None:
    """`status`, as payments say it; `state`, the same value, stays for one release."""
    alice = api.holder(ALICE, "111", card("622202", 19))
    made = api.fund("top-ups", alice, 300_00).json()
    api.deliver_all()
    api.clock.advance(seconds=1)  # the list is newest first
    out = api.fund("withdrawals", alice, 100_00).json()
    answers = [made, out, api.funding(alice, made["id"]), api.funding(alice, out["id"])]
    answers += api.get("/v1/me/fundings", alice.token).json()["data"]
    assert [a["status"] for a in answers] == [
        "processing",
        "processing",
        "succeeded",
        "processing",
        "processing",
        "succeeded",
    ]
    for answer in answers:
        assert answer["state"] == answer["status"]


def test_the_schema_marks_state_deprecated(api: BankApi) -> None:
    spec = api.get("/openapi.json").json()
    props = spec["components"]["schemas"]["FundingOut"]["properties"]
    assert "status" in spec["components"]["schemas"]["FundingOut"]["required"]
    assert props["state"]["deprecated"] is True
    assert "status" in props["state"]["description"]
    assert not props["status"].get("deprecated", False)


def test_wrong_payment_password_and_foreign_cards_are_refused(api: BankApi) -> None:
    alice = api.holder(ALICE, "111", card("622202", 19))
    bob = api.holder(BOB, "222", card("622848", 19))
    before = api.snapshot()
    error_of(api.fund("top-ups", alice, 100, pin="000000"), 401, "invalid_payment_password")
    assert api.changed(before) <= {"auth_failures", "audit_log", "audit_head"}
    mine_not_yours = {"card_id": bob.card_id, "amount": 100, "payment_password": PIN}
    error_of(api.post("/v1/me/top-ups", mine_not_yours, alice.token), 404, "card_not_found")
    error_of(api.fund("top-ups", alice, 0), 400, "parameter_invalid")
    made = api.fund("top-ups", bob, 100).json()
    error_of(api.get(f"/v1/me/fundings/{made['id']}", alice.token), 404, "funding_not_found")
    error_of(api.get("/v1/me/fundings?cursor=fnd_nope", alice.token), 400, "invalid_cursor")


def test_my_fundings_page_newest_first(api: BankApi) -> None:
    alice = api.holder(ALICE, "111", card("622202", 19))
    made = []
    for amount in (100, 200, 300):
        api.clock.advance(seconds=1)
        made.append(api.fund("top-ups", alice, amount).json()["id"])
    first = api.get("/v1/me/fundings?limit=2", alice.token).json()
    assert [f["id"] for f in first["data"]] == made[::-1][:2]
    assert first["has_more"]
    rest = api.get(f"/v1/me/fundings?limit=2&cursor={first['next_cursor']}", alice.token).json()
    assert ([f["id"] for f in rest["data"]], rest["has_more"]) == ([made[0]], False)


def test_a_callback_must_carry_the_banks_signature(api: BankApi) -> None:
    alice = api.holder(ALICE, "111", card("622202", 19))
    out = api.fund("top-ups", alice, 100_00).json()
    paid = BankCallback(out["bank_reference"], out["id"], "succeeded", 100_00, "CNY")
    before = api.snapshot()
    error_of(api.callback(paid, secret="guessed"), 401, "bank_signature_invalid")
    stale = int(api.clock().timestamp()) - 301  # five minutes is the window
    error_of(api.callback(paid, at=stale), 401, "bank_signature_invalid")
    error_of(api.callback(paid, raw=b'{"bank_reference": 7}'), 400, "invalid_callback")
    assert api.changed(before) == set()
    assert api.callback(paid).json() == {"outcome": "succeeded"}
    assert api.callback(paid).json() == {"outcome": "duplicate"}
    assert api.available(alice) == 100_00


def test_callbacks_are_refused_until_a_secret_is_configured(db: Database) -> None:
    for unconfigured in bank_api(db, FakeBank(seed=3, chaos=CALM), secret=None):
        cb = BankCallback("bnk_1", "fnd_1", "succeeded", 1, "CNY")
        error_of(unconfigured.callback(cb), 503, "bank_callbacks_unconfigured")


def test_the_banks_worst_day_ends_as_the_bank_finally_said(db: Database) -> None:
    for api in bank_api(db, FakeBank(seed=5, chaos=WORST_DAY)):
        people = [
            api.holder(ALICE, "111", card("622202", 19)),
            api.holder(BOB, "222", card("622848", 19)),
        ]
        made: list[tuple[Holder, dict[str, Any]]] = []
        for k in range(12):
            who = people[k % 2]
            r = api.fund_as_the_app_does("top-ups", who, 20_00 + k)
            assert r.status_code == 201, r.text
            made.append((who, r.json()))
        outcomes = api.deliver_all()
        for k in range(6):
            who = people[k % 2]
            r = api.fund_as_the_app_does("withdrawals", who, 1_00 + k)
            if r.status_code == 201:  # a person whose top-ups all failed has nothing
                made.append((who, r.json()))
            else:
                error_of(r, 400, "insufficient_funds")
        outcomes += api.deliver_all()
        assert {"duplicate", "conflict"} <= set(outcomes)  # the chaos really happened
        for who, funding in made:
            final = api.bank.final_status(funding["bank_reference"])
            assert api.funding(who, funding["id"])["status"] == final
        assert_books_balance(api.db)


def test_a_step_up_asked_for_a_top_up_is_answered_over_the_api(api: BankApi) -> None:
    alice = api.holder(ALICE, "111", card("622202", 19))
    bob = api.holder(BOB, "222", card("622848", 19))
    asked = None
    for k in range(10):  # top-ups in quick succession: risk control asks who this is
        r = api.fund("top-ups", alice, 10_00 + k)
        if r.status_code == 401:
            asked = error_of(r, 401, "step_up_required")["step_up"]["challenge_id"]
            break
        assert r.status_code == 201, r.text
    assert asked is not None, "risk control never asked for a step-up"
    theirs = {"method": "sms", "code": "123456"}
    error_of(api.post(f"/v1/me/step-ups/{asked}/pass", theirs, bob.token), 401, "challenge_invalid")
    error_of(api.step_up(alice, asked, wrong=True), 401, "invalid_code")
    assert api.step_up(alice, asked).status_code == 200
    retried = api.fund("top-ups", alice, 10_00 + k, challenge=asked)
    assert retried.status_code == 201, retried.text
    reused = api.fund("top-ups", alice, 10_00 + k, challenge=asked)
    assert reused.status_code == 401  # a passed challenge buys one request


def test_a_served_app_pumps_its_own_fake_bank(db: Database) -> None:
    """Without a bank given (the demo, `guardpay serve`), the fake answers in-process."""
    for api in bank_api(db, None):
        alice = api.holder(ALICE, "111", card("622202", 19))
        made = api.fund("top-ups", alice, 50_00).json()
        deadline = time.monotonic() + 20
        while api.funding(alice, made["id"])["status"] == "processing":
            assert time.monotonic() < deadline, "the fake bank never answered"
            time.sleep(0.05)
        final = api.funding(alice, made["id"])["status"]
        assert final == api.bank.final_status(made["bank_reference"])
        assert api.available(alice) == (50_00 if final == "succeeded" else 0)
