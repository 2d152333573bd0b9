"""One request as a person makes it, through the services, and what came of it.

A person answers the platform as people do: a `requires_action` payment gets its SMS code
sent and entered (if the person can: a fraudster on someone else's account usually
cannot), a denial or a refusal (limits, balance) is a failed attempt, and a payment held
for review stays held. The result is one output row with the platform's decision (read
from `risk_decisions` by payment id) beside the request's ground truth.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from guardpay.domain.money import Money
from guardpay.domain.payments.red_packets import Split
from guardpay.errors import GuardpayError, RequestDenied, RiskDenied, StepUpRequired
from guardpay.services.auth import facade as auth
from guardpay.services.ledger import wallets
from guardpay.services.payments import codes as payments_codes
from guardpay.services.payments import core as payments
from guardpay.services.payments import escrow, funding, red_packets, refunds
from guardpay.services.payments import qr as payments_qr
from guardpay.services.payments.pipeline import PURPOSE, Authorization, Payment, StepUpAnswer
from guardpay.services.platform.context import Actor, Context
from guardpay.services.risk import decisions as risk_decisions
from guardpay.services.risk.screening import available, credential_changed_at
from guardpay.sim.model import KIND_OF, Tx, Where
from guardpay.sim.platform import CURRENCY, PIN, Platform, phone
from guardpay.sim.population import Person, Population

PASSWORD = Authorization(payment_password=PIN)
CLASS_NUMBER = {"I": 1, "II": 2, "III": 3}
FollowUp = tuple[datetime, Callable[[], None]]
#: the output's channel names where they differ from the platform's payment kinds
OUTPUT_CHANNEL = {"qr_order": "qr_dynamic"}


@dataclass
class Outcome:
    status: str = "failed"  # succeeded | failed | requires_action | held | denied
    payment_id: str = ""
    failure_code: str = ""
    ref: str = ""  # the trade, packet or funding the request made
    subject: str = ""  # the risk decision's subject id, when not the payment's
    decided: tuple[str, int | None] | None = None  # the decision that asked for a step-up
    follow_ups: list[FollowUp] = field(default_factory=list)


def iso(at: datetime | None) -> str:
    """ISO-8601 UTC with microseconds always, so the strings sort as the times do."""
    return "" if at is None else at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _status(payment: Payment) -> str:
    return {"processing": "held"}.get(payment.row.status, payment.row.status)


class Actions:
    def __init__(self, platform: Platform, population: Population, seed: int) -> None:
        self.platform, self.population = platform, population
        self.given: Authorization = PASSWORD
        self.challenge: str | None = None
        self.rng = random.Random(seed)
        self.step_up_success = 0.97

    # -- the request -------------------------------------------------------------------
    def run(self, tx: Tx) -> tuple[dict[str, Any] | None, Outcome]:
        payer = self.population.people[tx.payer]
        where = tx.where or Where(payer.devices[0], payer.ip, payer.home)
        started = self.platform.clock.now
        actor = Actor("user", payer.user_id, where.ip, where.device_id, where.location)
        before: dict[str, Any] = {}
        try:
            outcome = self._attempt(tx, payer, actor, before)
        except GuardpayError as exc:
            denied = isinstance(exc, RiskDenied)
            status = "requires_action" if isinstance(exc, StepUpRequired) else "failed"
            outcome = Outcome("denied" if denied else status, failure_code=exc.code)
            if denied and not isinstance(exc, RequestDenied):
                outcome.payment_id = self._newest_payment(payer.user_id)
        if not before:
            return None, outcome  # nothing was asked (a drain of an empty wallet)
        return self._row(tx, started, payer, where, before, outcome), outcome

    def _attempt(self, tx: Tx, payer: Person, actor: Actor, before: dict[str, Any]) -> Outcome:
        """Make the request; a step-up asked for up front (funding, escrow, red packets)
        is answered and the request made again with it, as the app does."""
        try:
            return self._once(tx, payer, actor, before, None)
        except StepUpRequired as exc:
            if exc.challenge_id is None or not self._can_step_up(tx):
                raise
            self._pass_sms(payer, actor, exc.challenge_id)
            before.clear()
            return self._once(tx, payer, actor, before, exc.challenge_id)

    def _once(
        self, tx: Tx, payer: Person, actor: Actor, before: dict[str, Any], challenge: str | None
    ) -> Outcome:
        handler = getattr(self, f"_{tx.channel}")
        if tx.channel == "refund":
            return handler(tx, payer, actor, before)  # type: ignore[no-any-return]
        prepared = self._prepare(tx, payer, actor)
        self.given = Authorization(PIN, step_up_challenge_id=challenge)
        self.challenge = challenge
        with self.platform.unit(actor) as ctx:
            amount = self._snapshot(ctx, tx, payer, before)
            if amount <= 0:
                before.clear()
                return Outcome("skipped")
            result: Outcome = handler(ctx, tx, payer, Money(amount, CURRENCY), prepared)
            if result.status != "requires_action":  # read in the request's own unit
                result.decided = self._decision_in(ctx, result.subject or result.payment_id)
        if result.status == "requires_action":
            decided = self.decision(result.payment_id)
            result = self._step_up(tx, payer, actor, result)
            result.decided = decided
        return result

    def _can_step_up(self, tx: Tx) -> bool:
        return tx.can_step_up and self.rng.random() <= self.step_up_success

    def _pass_sms(self, payer: Person, actor: Actor, challenge_id: str) -> str:
        """Have the code texted, read it off the phone, and answer the challenge."""
        self.platform.clock.now += timedelta(seconds=20)  # reading the text message
        with self.platform.unit(actor) as ctx:
            auth.send_sms_code(ctx, challenge_id, self.platform.sms)
        code = self.platform.sms.last_code("+86" + phone(payer))
        self.platform.sms.outbox.clear()
        with self.platform.unit(actor) as ctx:
            auth.pass_step_up(ctx, challenge_id, "sms", code=code, purpose=PURPOSE)
        return code or ""

    def _prepare(self, tx: Tx, payer: Person, actor: Actor) -> str:
        """What must exist before the payment: an order code, or the payer's code."""
        if tx.channel == "qr_order":
            merchant = self.population.merchants[tx.merchant].merchant_id
            with self.platform.unit(Actor("merchant", merchant)) as ctx:
                order = payments_qr.create_order_qr(ctx, merchant, Money(tx.amount, CURRENCY))
            return order.payload
        if tx.channel == "payment_code":
            with self.platform.unit(actor) as ctx:
                device = str(actor.device_id)
                issued = payments_codes.generate_payment_code(ctx, payer.user_id, device, PASSWORD)
            return issued.code
        return ""

    def _snapshot(self, ctx: Context, tx: Tx, payer: Person, before: dict[str, Any]) -> int:
        """What the risk request will see of the payer, just before the request."""
        wallet = wallets.wallet(ctx, "user", payer.user_id, CURRENCY)
        balance = available(ctx, wallet)
        before["balance_before"] = balance
        before["credential_changed_at"] = credential_changed_at(
            ctx, payer.user_id, payer.created_at
        )
        if tx.share_bp is None:
            before["amount"] = tx.amount
        else:  # whole basis points of the balance, rounded down to whole yuan
            before["amount"] = balance * tx.share_bp // 10_000 // 100 * 100
        return int(before["amount"])

    # -- channels ----------------------------------------------------------------------
    def _p2p(self, ctx: Context, tx: Tx, payer: Person, money: Money, _: str) -> Outcome:
        payee = self.population.people[tx.payee].user_id
        return self._paid(payments.p2p_transfer(ctx, payer.user_id, payee, money, self.given))

    def _qr_static(self, ctx: Context, tx: Tx, payer: Person, money: Money, _: str) -> Outcome:
        merchant = self.population.merchants[tx.merchant].merchant_id
        payload = self.platform.static_qr(ctx, merchant)
        return self._paid(payments_qr.pay_qr(ctx, payer.user_id, payload, self.given, money))

    def _qr_order(self, ctx: Context, tx: Tx, payer: Person, money: Money, payload: str) -> Outcome:
        return self._paid(payments_qr.pay_qr(ctx, payer.user_id, payload, self.given))

    def _payment_code(
        self, ctx: Context, tx: Tx, payer: Person, money: Money, code: str
    ) -> Outcome:
        merchant = self.population.merchants[tx.merchant].merchant_id
        return self._paid(payments_codes.collect(ctx, merchant, code, money))

    def _escrow(self, ctx: Context, tx: Tx, payer: Person, money: Money, _: str) -> Outcome:
        merchant = self.population.merchants[tx.merchant].merchant_id
        trade = escrow.pay_into_escrow(
            ctx, payer.user_id, escrow.NewTrade(merchant, money), self.given
        )
        ship, confirm = tx.at + timedelta(hours=20), tx.at + timedelta(days=3, hours=2)
        ups: list[FollowUp] = [
            (ship, lambda: self._system(lambda c: escrow.mark_shipped(c, trade.id))),
            (
                confirm,
                lambda: self._system(lambda c: escrow.confirm_receipt(c, payer.user_id, trade.id)),
            ),
        ]
        return Outcome(
            "succeeded", trade.payment_id, ref=trade.id, follow_ups=ups, subject=trade.id
        )

    def _red_packet(self, ctx: Context, tx: Tx, payer: Person, money: Money, _: str) -> Outcome:
        friends = [f for f in payer.friends if self.population.people[f].role == "normal"]
        shares = max(1, min(len(friends), 5))
        new = red_packets.NewPacket(money, shares, Split.RANDOM)
        packet = red_packets.create_red_packet(
            ctx, payer.user_id, new, self.given, rng=random.Random(self.rng.random())
        )
        ups: list[FollowUp] = []
        for k, friend in enumerate(friends[:shares]):
            uid = self.population.people[friend].user_id
            ups.append((tx.at + timedelta(minutes=5 + 17 * k), self._claim(uid, packet.row.id)))
        return Outcome(
            "succeeded",
            packet.row.payment_id,
            ref=packet.row.id,
            follow_ups=ups,
            subject=packet.row.id,
        )

    def _claim(self, user_id: str, packet_id: str) -> Callable[[], None]:
        return lambda: self._system(lambda c: red_packets.claim_red_packet(c, user_id, packet_id))

    def _topup(self, ctx: Context, tx: Tx, payer: Person, money: Money, _: str) -> Outcome:
        card = self.platform.cards[(payer.index, tx.card)]
        row = funding.request_top_up(
            ctx, self.platform.bank, payer.user_id, card, money, step_up_challenge_id=self.challenge
        )
        return Outcome("processing", row.id, ref=row.id)

    def _withdrawal(self, ctx: Context, tx: Tx, payer: Person, money: Money, _: str) -> Outcome:
        card = self.platform.cards[(payer.index, tx.card)]
        row = funding.request_withdrawal(
            ctx, self.platform.bank, payer.user_id, card, money, step_up_challenge_id=self.challenge
        )
        return Outcome("processing", row.id, ref=row.id)

    def _refund(self, tx: Tx, payer: Person, actor: Actor, before: dict[str, Any]) -> Outcome:
        merchant = self.population.merchants[tx.merchant].merchant_id
        with self.platform.unit(Actor("merchant", merchant)) as ctx:
            self._snapshot(ctx, tx, payer, before)
            request = refunds.RefundRequest(f"sim-{tx.ref}", Money(tx.amount, CURRENCY))
            done = refunds.refund_payment(ctx, tx.ref, request)
        return Outcome("succeeded", done.row.id)

    # -- answers -----------------------------------------------------------------------
    def _paid(self, payment: Payment) -> Outcome:
        return Outcome(_status(payment), payment.row.id)

    def _step_up(self, tx: Tx, payer: Person, actor: Actor, waiting: Outcome) -> Outcome:
        if not self._can_step_up(tx):
            return waiting  # abandoned: it stays requires_action
        self.platform.clock.now += timedelta(seconds=20)  # reading the text message
        with self.platform.reading() as ctx:
            row = payments.get_payment(ctx, payer.user_id, waiting.payment_id)
        assert row.challenge_id is not None
        with self.platform.unit(actor) as ctx:
            auth.send_sms_code(ctx, row.challenge_id, self.platform.sms)
        code = self.platform.sms.last_code("+86" + phone(payer))
        self.platform.sms.outbox.clear()
        given = Authorization(PIN, answer=StepUpAnswer("sms", code))
        with self.platform.unit(actor) as ctx:
            return self._paid(payments.confirm_payment(ctx, payer.user_id, row.id, given))

    def _system(self, fn: Callable[[Context], object]) -> None:
        """A follow-up (shipping, confirmation, a claim): refusals are part of life."""
        try:
            with self.platform.unit() as ctx:
                fn(ctx)
        except GuardpayError:
            pass

    def settle_funding(self, outcome: Outcome) -> None:
        """Let the bank answer a top-up or withdrawal now, and read the final state."""

        def deliver(cb: Any) -> object:
            with self.platform.unit() as ctx:
                return funding.handle_callback(ctx, cb)

        self.platform.bank.drain(deliver)
        with self.platform.reading() as ctx:
            state = funding.get_funding(ctx, outcome.ref).state
        outcome.status = state if state in ("succeeded", "failed") else "requires_action"

    def _newest_payment(self, user_id: str) -> str:
        with self.platform.reading() as ctx:
            rows, _ = payments.list_payments(ctx, user_id, None, 1)
        return rows[0].id if rows and rows[0].status == "failed" else ""

    # -- the row -----------------------------------------------------------------------
    def _counterpart(self, tx: Tx) -> tuple[str, bool, str, datetime | None]:
        """(payee id, payee is a merchant, merchant id, payee created at)."""
        if tx.payee >= 0:
            payee = self.population.people[tx.payee]
            return payee.sim_id, False, "", payee.created_at
        if tx.merchant >= 0:
            m = self.population.merchants[tx.merchant]
            return m.sim_id, True, m.sim_id, m.created_at
        return "", False, "", None

    def decision(self, payment_id: str) -> tuple[str, int | None]:
        if not payment_id:
            return "", None
        with self.platform.reading() as ctx:
            return self._decision_in(ctx, payment_id)

    @staticmethod
    def _decision_in(ctx: Context, subject_id: str) -> tuple[str, int | None]:
        row = risk_decisions.decision_for(ctx, subject_id) if subject_id else None
        return ("", None) if row is None else (row.action, row.score)

    def _row(
        self,
        tx: Tx,
        at: datetime,
        payer: Person,
        where: Where,
        before: dict[str, Any],
        outcome: Outcome,
    ) -> dict[str, Any]:
        payee, is_merchant, merchant, payee_created = self._counterpart(tx)
        if tx.channel in ("topup", "withdrawal") and outcome.status == "processing":
            self.settle_funding(outcome)
        decision, score = outcome.decided or self.decision(outcome.subject or outcome.payment_id)
        loc = where.location
        return {
            "tx_id": "",
            "ts": iso(at),
            "day": 0,
            "kind": KIND_OF[tx.channel],
            "channel": OUTPUT_CHANNEL.get(tx.channel, tx.channel),
            "user_id": payer.sim_id,
            "payee_id": payee,
            "payee_is_merchant": is_merchant,
            "merchant_id": merchant,
            "amount": int(before["amount"]),
            "currency": CURRENCY,
            "device_id": where.device_id,
            "ip": where.ip,
            "lat": None if loc is None else loc[0],
            "lon": None if loc is None else loc[1],
            "account_created_at": iso(payer.created_at),
            "account_class": CLASS_NUMBER[payer.account_class],
            "balance_before": int(before["balance_before"]),
            "credential_changed_at": iso(before["credential_changed_at"]),
            "payee_created_at": iso(payee_created),
            "payment_id": outcome.payment_id,
            "status": outcome.status,
            "decision": decision,
            "score": score,
            "is_fraud": int(bool(tx.label.fraud)),
            "fraud_typology": tx.label.fraud,
            "is_laundering": int(bool(tx.label.laundering)),
            "laundering_typology": tx.label.laundering,
            "case_id": tx.label.case_id,
            "failure_code": outcome.failure_code,
        }
