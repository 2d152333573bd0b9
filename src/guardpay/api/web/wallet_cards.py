"""Bank cards in the wallet: binding one (the issuer's four-element check), unbinding it,
and moving money in from it (top-up) and out to it (withdrawal).

A card number is read from the form and handed to the service, never shown again (the
page shows the bank and the last four) nor written to a log. A top-up or withdrawal form
carries a request id made when the page was drawn, from which the funding id derives (as
from an Idempotency-Key over the API), so a form sent twice moves the money once. When
risk control asks for a step-up, the page sends the SMS code and asks for it, with the
payment password again (it is never kept), and the same form is sent with the challenge.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from guardpay.adapters.kyc import Kyc
from guardpay.api.deps import InOneUnit
from guardpay.api.errors import status_of
from guardpay.api.web.session import CheckedForm, WalletCaller, see_other
from guardpay.api.web.wallet import Field, wallet_page
from guardpay.domain.money import Money
from guardpay.errors import AuthenticationFailed, NotFound, StepUpRequired
from guardpay.services.auth import facade as auth
from guardpay.services.identity import facade as identity
from guardpay.services.payments import funding

router = APIRouter(route_class=InOneUnit, prefix="/wallet", include_in_schema=False)
Kind = Annotated[str, Form(pattern="^(top_up|withdrawal)$")]
RequestId = Annotated[str, Form(min_length=8, max_length=64)]


@router.get("/cards")
def cards_page(request: Request, me: WalletCaller) -> Response:
    cards = identity.list_cards(me.ctx, me.id)
    moved, _ = funding.list_fundings(me.ctx, me.id, None, 20)
    ids = {"top_up": secrets.token_urlsafe(12), "withdrawal": secrets.token_urlsafe(12)}
    return wallet_page(request, me, "wallet_cards.html", cards=cards, fundings=moved, ids=ids)


@router.post("/cards", dependencies=[CheckedForm])
def bind(
    request: Request,
    me: WalletCaller,
    card_number: Annotated[str, Form(max_length=40)],
    reserved_phone: Field,
    cvv2: Annotated[str, Form(max_length=4)] = "",
    expiry: Annotated[str, Form(max_length=7)] = "",
) -> Response:
    """Bind after the issuer's check (refusals, e.g. `card_verification_failed`, are the
    error page: they name the problem, never the number)."""
    kyc = request.app.state.kyc
    assert isinstance(kyc, Kyc)
    number = card_number.replace(" ", "")
    extra = {"cvv2": cvv2.strip() or None, "expiry": expiry.strip() or None}
    identity.bind_card(me.ctx, kyc, me.id, number, reserved_phone.strip(), **extra)
    return see_other("/wallet/cards")


@router.post("/cards/{card_id}/unbind", dependencies=[CheckedForm])
def unbind(me: WalletCaller, card_id: str) -> Response:
    identity.unbind_card(me.ctx, me.id, card_id)
    return see_other("/wallet/cards")


@router.post("/funding", dependencies=[CheckedForm])
def move_money(
    request: Request,
    me: WalletCaller,
    kind: Kind,
    card_id: Field,
    amount: Field,
    payment_password: Annotated[str, Form(pattern="^[0-9]{6}$")],
    request_id: RequestId,
    challenge: Field = "",
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """A top-up or withdrawal; with `challenge` and `code`, the step-up it asked for is
    passed first, in the same unit of work."""
    asked = {"kind": kind, "card_id": card_id, "amount": amount, "request_id": request_id}
    funding_id = funding.funding_id_for(me.id, f"wallet:{request_id}")
    if challenge and _made(me, funding_id):  # the confirmed form sent again: it was done
        return see_other("/wallet/cards#moved-h")
    if challenge:
        try:
            auth.pass_own_step_up(me.ctx, me.id, challenge, "sms", code=code.strip())
        except AuthenticationFailed as wrong:  # its attempt is counted and kept
            values = {"asked": asked, "challenge": challenge, "error": wrong.message}
            return wallet_page(
                request, me, "wallet_funding_step_up.html", status=status_of(wrong), **values
            )
    ask = funding.request_top_up if kind == "top_up" else funding.request_withdrawal
    try:
        ask(
            me.ctx,
            request.app.state.bank,
            me.id,
            card_id,
            Money.parse(amount.strip(), "CNY"),
            funding_id=funding_id,
            step_up_challenge_id=challenge or None,
            payment_password=payment_password,
        )
    except StepUpRequired as step_up:  # risk control asks; its challenge is kept
        sent_to = auth.send_sms_code(me.ctx, step_up.challenge_id or "", request.app.state.sms)
        return wallet_page(
            request,
            me,
            "wallet_funding_step_up.html",
            asked=asked,
            challenge=step_up.challenge_id,
            sent_to=sent_to,
        )
    return see_other("/wallet/cards#moved-h")


def _made(me: WalletCaller, funding_id: str) -> bool:
    try:
        funding.get_funding(me.ctx, funding_id, user_id=me.id)
    except NotFound:
        return False
    return True
