"""The same people making the same requests as `actions.Actions`, through the HTTP API
(`guardpay simulate --via-api`).

What goes over HTTP: every money-moving request and what a person or merchant does after
one (order codes, payment codes, the terminal's collect, step-up codes sent and answered,
payment confirmation, shipping, receipt, red-packet claims, refunds) and the bank's
callbacks. What does not: opening the accounts (as in the services mode), issuing a
session per device, registering a merchant's key, a takeover's password change, and the
simulation's own observations for its output rows (the balance before a request, the
risk decision, read from the database). The server draws red-packet splits itself, so
a run's amounts after a red packet can differ between two runs with one seed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from guardpay.domain.money import Money
from guardpay.errors import GuardpayError, NotFound
from guardpay.services.payments import red_packets
from guardpay.services.platform.context import Actor, Context
from guardpay.sim.actions import Actions, FollowUp, Outcome
from guardpay.sim.api_client import ApiClient
from guardpay.sim.model import Tx
from guardpay.sim.platform import CURRENCY, PIN, Platform, phone
from guardpay.sim.population import Person, Population

Body = dict[str, Any]


class ApiActions(Actions):
    def __init__(
        self, platform: Platform, population: Population, seed: int, client: ApiClient
    ) -> None:
        super().__init__(platform, population, seed)
        self.api = client
        self.actor = Actor()
        self.waiting_challenge = ""

    def _once(
        self, tx: Tx, payer: Person, actor: Actor, before: dict[str, Any], challenge: str | None
    ) -> Outcome:
        """As `Actions._once`, but no unit of work stays open while the API works: the
        snapshot is read first, the request goes over HTTP, the decision is read after."""
        self.actor, self.challenge = actor, challenge
        if tx.channel == "refund":
            return self._refund(tx, payer, actor, before)
        prepared = self._prepare(tx, payer, actor)
        with self.platform.reading() as ctx:
            amount = self._snapshot(ctx, tx, payer, before)
        if amount <= 0:
            before.clear()
            return Outcome("skipped")
        handler = getattr(self, f"_{tx.channel}")
        result: Outcome = handler(None, tx, payer, Money(amount, CURRENCY), prepared)
        if result.status != "requires_action":
            result.decided = self.decision(result.subject or result.payment_id)
            return result
        decided = self.decision(result.payment_id)
        result = self._step_up(tx, payer, actor, result)
        result.decided = decided
        return result

    def _auth(self) -> Body:
        return {"payment_password": PIN, "step_up_challenge_id": self.challenge}

    def _paid_body(self, body: Body) -> Outcome:
        """A payment's answer; a `requires_action` one names its challenge."""
        self.waiting_challenge = str((body.get("next_action") or {}).get("challenge_id", ""))
        status = str(body["status"])
        return Outcome({"processing": "held"}.get(status, status), str(body["id"]))

    # -- the person's side ---------------------------------------------------------------
    def _prepare(self, tx: Tx, payer: Person, actor: Actor) -> str:
        if tx.channel == "qr_order":
            merchant = self.population.merchants[tx.merchant].merchant_id
            order = self.api.merchant(
                merchant,
                f"/v1/merchants/{merchant}/orders",
                {"amount": tx.amount, "currency": CURRENCY},
            )
            return str(order["payload"])
        if tx.channel == "payment_code":
            made = self.api.user(actor, "POST", "/v1/me/payment-codes", {"payment_password": PIN})
            return str(made["code"])
        return ""

    def _p2p(self, ctx: Context | None, tx: Tx, payer: Person, money: Money, _: str) -> Outcome:
        payee = self.population.people[tx.payee].user_id
        body = {"payee": payee, "amount": money.amount, "currency": money.currency}
        return self._paid_body(
            self.api.user(self.actor, "POST", "/v1/transfers", {**body, **self._auth()})
        )

    def _qr_static(
        self, ctx: Context | None, tx: Tx, payer: Person, money: Money, _: str
    ) -> Outcome:
        merchant = self.population.merchants[tx.merchant].merchant_id
        with self.platform.reading() as ctx:
            payload = self.platform.static_qr(ctx, merchant)  # printed on the counter
        body = {"payload": payload, "amount": money.amount, **self._auth()}
        return self._paid_body(self.api.user(self.actor, "POST", "/v1/payments/qr", body))

    def _qr_order(
        self, ctx: Context | None, tx: Tx, payer: Person, money: Money, payload: str
    ) -> Outcome:
        body = {"payload": payload, **self._auth()}
        return self._paid_body(self.api.user(self.actor, "POST", "/v1/payments/qr", body))

    def _payment_code(
        self, ctx: Context | None, tx: Tx, payer: Person, money: Money, code: str
    ) -> Outcome:
        merchant = self.population.merchants[tx.merchant].merchant_id
        body = {"code": code, "amount": money.amount, "currency": money.currency}
        return self._paid_body(
            self.api.merchant(merchant, f"/v1/merchants/{merchant}/collect", body)
        )

    def _escrow(self, ctx: Context | None, tx: Tx, payer: Person, money: Money, _: str) -> Outcome:
        merchant = self.population.merchants[tx.merchant].merchant_id
        body = {"merchant_id": merchant, "amount": money.amount, **self._auth()}
        trade = self.api.user(self.actor, "POST", "/v1/escrow", body)
        tid, buyer = str(trade["id"]), self.actor
        ups: list[FollowUp] = [
            (
                tx.at + timedelta(hours=20),
                self._later(lambda: self.api.merchant(merchant, f"/v1/escrow/{tid}/ship")),
            ),
            (
                tx.at + timedelta(days=3, hours=2),
                self._later(lambda: self.api.user(buyer, "POST", f"/v1/escrow/{tid}/confirm")),
            ),
        ]
        return Outcome("succeeded", str(trade["payment_id"]), ref=tid, follow_ups=ups, subject=tid)

    def _red_packet(
        self, ctx: Context | None, tx: Tx, payer: Person, money: Money, _: str
    ) -> Outcome:
        friends = [f for f in payer.friends if self.population.people[f].role == "normal"]
        shares = max(1, min(len(friends), 5))
        body = {"amount": money.amount, "shares": shares, "split": "random", **self._auth()}
        packet = self.api.user(self.actor, "POST", "/v1/red-packets", body)
        pid = str(packet["id"])
        ups: list[FollowUp] = []
        for k, friend in enumerate(friends[:shares]):
            ups.append((tx.at + timedelta(minutes=5 + 17 * k), self._claim_over_api(friend, pid)))
        subject = self._payment_of_packet(pid)
        return Outcome("succeeded", subject, ref=pid, follow_ups=ups, subject=pid)

    def _claim_over_api(self, friend: int, packet_id: str) -> Callable[[], None]:
        person = self.population.people[friend]
        claimer = Actor("user", person.user_id, person.ip, person.devices[0], person.home)
        path = f"/v1/red-packets/{packet_id}/claim"
        return self._later(lambda: self.api.user(claimer, "POST", path))

    def _payment_of_packet(self, packet_id: str) -> str:
        with self.platform.reading() as ctx:
            try:
                return red_packets.get_red_packet(ctx, packet_id).row.payment_id
            except NotFound:
                return ""

    def _topup(self, ctx: Context | None, tx: Tx, payer: Person, money: Money, _: str) -> Outcome:
        return self._funding("top-ups", tx, payer, money)

    def _withdrawal(
        self, ctx: Context | None, tx: Tx, payer: Person, money: Money, _: str
    ) -> Outcome:
        return self._funding("withdrawals", tx, payer, money)

    def _funding(self, kind: str, tx: Tx, payer: Person, money: Money) -> Outcome:
        card = self.platform.cards[(payer.index, tx.card)]
        body = {"card_id": card, "amount": money.amount, "currency": money.currency, **self._auth()}
        row = self.api.user(self.actor, "POST", f"/v1/me/{kind}", body)
        return Outcome("processing", str(row["id"]), ref=str(row["id"]))

    def _refund(self, tx: Tx, payer: Person, actor: Actor, before: dict[str, Any]) -> Outcome:
        merchant = self.population.merchants[tx.merchant].merchant_id
        with self.platform.reading() as ctx:
            self._snapshot(ctx, tx, payer, before)
        body = {"refund_id": f"sim-{tx.ref}", "amount": tx.amount, "currency": CURRENCY}
        done = self.api.merchant(merchant, f"/v1/payments/{tx.ref}/refunds", body)
        return Outcome("succeeded", str(done["payment_id"]))

    # -- answers -------------------------------------------------------------------------
    def _pass_sms(self, payer: Person, actor: Actor, challenge_id: str) -> str:
        self.platform.clock.now += timedelta(seconds=20)  # reading the text message
        code = self._texted_code(payer, actor, challenge_id)
        self.api.user(
            actor, "POST", f"/v1/me/step-ups/{challenge_id}/pass", {"method": "sms", "code": code}
        )
        return code

    def _texted_code(self, payer: Person, actor: Actor, challenge_id: str) -> str:
        self.api.anonymous(actor, f"/v1/step-ups/{challenge_id}/sms")
        code = self.platform.sms.last_code("+86" + phone(payer))
        self.platform.sms.outbox.clear()
        return code or ""

    def _step_up(self, tx: Tx, payer: Person, actor: Actor, waiting: Outcome) -> Outcome:
        if not self._can_step_up(tx):
            return waiting  # abandoned: it stays requires_action
        self.platform.clock.now += timedelta(seconds=20)  # reading the text message
        code = self._texted_code(payer, actor, self.waiting_challenge)
        body = {"payment_password": PIN, "step_up": {"method": "sms", "code": code}}
        path = f"/v1/payments/{waiting.payment_id}/confirm"
        return self._paid_body(self.api.user(actor, "POST", path, body))

    def _later(self, call: Callable[[], object]) -> Callable[[], None]:
        """A follow-up over HTTP: refusals (an expired packet, a trade refunded meanwhile)
        are part of life."""

        def run() -> None:
            with contextlib.suppress(GuardpayError):
                call()

        return run

    def settle_funding(self, outcome: Outcome) -> None:
        """Let the bank answer now, through the signed callback endpoint."""
        self.platform.bank.drain(self.api.bank_callback)
        shown = self.api.user(self.actor, "GET", f"/v1/me/fundings/{outcome.ref}")
        status = str(shown["status"])
        outcome.status = status if status in ("succeeded", "failed") else "requires_action"
