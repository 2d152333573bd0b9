"""The wallet web app (`/wallet`, phone-sized): pages over the same services as the API.

Signing in is the phone and login password, then the SMS code a new device always needs
(a browser holds no device key, so every sign-in is stepped up). Paying a merchant's code
(pasted, or scanned with the camera where the browser can) is authorised with the
payment password, or with an SMS code instead; the SMS code and the password together
are two factors, which larger dynamic-code payments need. A payment risk control holds
or stops is explained in plain words, with what to do next. Every page shows only the
signed-in user's own data: the services check it (`get_payment` answers 404 for
another's payment), as they do for the API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from guardpay.adapters.kyc import Kyc
from guardpay.api.deps import InOneUnit, RequestContext
from guardpay.api.errors import status_of
from guardpay.api.web.barcodes import qr_svg
from guardpay.api.web.pages import render, switch_language
from guardpay.api.web.session import (
    PENDING_AGE,
    SESSION_AGE,
    WALLET,
    CheckedForm,
    WalletCaller,
    clear_cookie,
    csrf_for,
    page_csrf,
    see_other,
    set_cookie,
    sign_in_form,
)
from guardpay.domain.auth.sessions import USER
from guardpay.domain.auth.settings import SCREEN_SETTINGS
from guardpay.domain.money import Money
from guardpay.domain.payments import escrow as escrow_rules
from guardpay.domain.payments.red_packets import Split
from guardpay.domain.risk.explain import plain_words
from guardpay.errors import AuthenticationFailed, NotFound, RateLimited, StepUpRequired
from guardpay.services.auth import facade as auth
from guardpay.services.identity import facade as identity
from guardpay.services.identity import merchant_api
from guardpay.services.ledger import wallet_views
from guardpay.services.payments import core as payments
from guardpay.services.payments import escrow, red_packets
from guardpay.services.payments import qr as payments_qr
from guardpay.services.payments.pipeline import Authorization, Payment, StepUpAnswer
from guardpay.services.payments.refunds import RefundRequest, refund_payment
from guardpay.services.platform.context import Actor
from guardpay.services.risk import decisions as risk_decisions

router = APIRouter(route_class=InOneUnit, prefix="/wallet", include_in_schema=False)
Field = Annotated[str, Form(max_length=2000)]


def wallet_page(request: Request, me: WalletCaller, template: str, **values: Any) -> Response:
    shops = identity.shops_of(me.ctx, me.id)
    csrf = page_csrf(request, WALLET)
    return render(request, template, csrf=csrf, signed_in=True, shops=shops, me_id=me.id, **values)


# -- signing in ---------------------------------------------------------------------------
@router.get("/login")
def login_page(request: Request) -> Response:
    return sign_in_form(request, WALLET, "wallet_login.html")


@router.post("/login", dependencies=[CheckedForm])
def login(request: Request, ctx: RequestContext, phone: Field, password: Field) -> Response:
    try:
        issued = auth.login(ctx, phone, password, settings=SCREEN_SETTINGS)
    except StepUpRequired as asked:
        challenge = asked.challenge_id or ""
        try:
            sent_to = auth.send_sms_code(ctx, challenge, request.app.state.sms)
        except RateLimited as limited:
            shown = limited.message
            return sign_in_form(request, WALLET, "wallet_login.html", status=429, error=shown)
        page = render(request, "wallet_code.html", csrf=csrf_for(challenge), sent_to=sent_to)
        set_cookie(request, page, WALLET, WALLET.pending, challenge, PENDING_AGE)
        return page
    except (AuthenticationFailed, RateLimited) as refused:
        status, shown = status_of(refused), refused.message
        return sign_in_form(request, WALLET, "wallet_login.html", status=status, error=shown)
    return _signed_in(request, issued.token)


@router.post("/login/code", dependencies=[CheckedForm])
def login_code(
    request: Request, ctx: RequestContext, code: Annotated[str, Form(max_length=12)]
) -> Response:
    challenge = request.cookies.get(WALLET.pending, "")
    try:
        issued = auth.complete_login(
            ctx, challenge, "sms", code=code.strip(), settings=SCREEN_SETTINGS
        )
    except (AuthenticationFailed, RateLimited) as refused:
        status = status_of(refused)
        again = csrf_for(challenge)
        return render(request, "wallet_code.html", status=status, csrf=again, error=refused.message)
    done = _signed_in(request, issued.token)
    clear_cookie(request, done, WALLET, WALLET.pending)
    return done


@router.get("/lang/{code}")
def choose_language(code: str, next: str = "/wallet") -> Response:
    return switch_language(code, next, "/wallet")


def _signed_in(request: Request, token: str) -> Response:
    done = see_other("/wallet")
    set_cookie(request, done, WALLET, WALLET.cookie, token, SESSION_AGE)
    return done


@router.get("/register")
def register_page(request: Request) -> Response:
    return sign_in_form(request, WALLET, "wallet_register.html")


@router.post("/register", dependencies=[CheckedForm])
def register(ctx: RequestContext, phone: Field, password: Field) -> Response:
    """An account for the phone, with its login password; then the usual sign-in, whose
    SMS code proves the phone is theirs. A refusal (a weak password, a phone already
    registered) is the error page, and keeps nothing: the unit of work rolls back."""
    made = identity.register_user(ctx, phone)
    auth.set_login_password(ctx.as_actor(Actor("user", made.id)), made.id, password)
    return see_other("/wallet/login")


@router.post("/logout", dependencies=[CheckedForm])
def logout(request: Request, me: WalletCaller) -> Response:
    auth.revoke_session(me.ctx, me.id, me.session.id, kind=USER)
    done = see_other("/wallet/login")
    clear_cookie(request, done, WALLET, WALLET.cookie)
    return done


# -- pages --------------------------------------------------------------------------------
@router.get("")
def home(request: Request, me: WalletCaller) -> Response:
    held = wallet_views.user_wallets(me.ctx, me.id)
    who = identity.get_user(me.ctx, me.id)
    paid, _ = payments.list_payments(me.ctx, me.id, None, limit=20)
    moves = wallet_views.user_history(me.ctx, me.id, "CNY", None, 20).entries if held else []
    values = {"wallets": held, "payments": paid, "moves": moves, "who": who}
    return wallet_page(request, me, "wallet_home.html", **values)


@router.get("/verify")
def verify_page(request: Request, me: WalletCaller) -> Response:
    return wallet_page(request, me, "wallet_verify.html")


@router.post("/verify", dependencies=[CheckedForm])
def verify(
    request: Request,
    me: WalletCaller,
    name: Field,
    document_number: Field,
    document_type: Annotated[str, Form(pattern="^(resident_id|passport)$")] = "resident_id",
) -> Response:
    """Real-name verification with the ID authority; the channels passed set the class."""
    kyc = request.app.state.kyc
    assert isinstance(kyc, Kyc)
    identity.verify_identity(
        me.ctx,
        kyc,
        me.id,
        name=name.strip(),
        document_type=document_type,
        document_number=document_number.strip(),
        evidence=identity.Evidence(),
    )
    return see_other("/wallet")


@router.get("/payment-password")
def payment_password_page(request: Request, me: WalletCaller) -> Response:
    return wallet_page(request, me, "wallet_payment_password.html")


@router.post("/payment-password", dependencies=[CheckedForm])
def set_payment_password(
    me: WalletCaller, payment_password: Annotated[str, Form(pattern="^[0-9]{6}$")]
) -> Response:
    auth.set_payment_password(me.ctx, me.id, payment_password)
    return see_other("/wallet")


@router.get("/pay")
def pay_page(request: Request, me: WalletCaller) -> Response:
    return wallet_page(request, me, "wallet_pay.html")


@router.post("/pay", dependencies=[CheckedForm])
def pay(
    request: Request,
    me: WalletCaller,
    payload: Field,
    how: Annotated[str, Form(pattern="^(password|sms)$")],
    amount: Field = "",
    payment_password: Field = "",
) -> Response:
    typed = Money.parse(amount.strip(), "CNY") if amount.strip() else None
    paid = payments_qr.pay_qr(me.ctx, me.id, payload.strip(), _given(how, payment_password), typed)
    return _after_paying(request, me, paid)


@router.get("/send")
def send_page(request: Request, me: WalletCaller) -> Response:
    return wallet_page(request, me, "wallet_send.html")


@router.post("/send", dependencies=[CheckedForm])
def send(
    request: Request,
    me: WalletCaller,
    payee: Field,
    amount: Field,
    how: Annotated[str, Form(pattern="^(password|sms)$")],
    payment_password: Field = "",
) -> Response:
    """Pay a friend by phone number or user id, authorised as a shop's code is."""
    money = Money.parse(amount.strip(), "CNY")
    given = _given(how, payment_password)
    paid = payments.p2p_transfer(me.ctx, me.id, payee.strip(), money, given)
    return _after_paying(request, me, paid)


def _given(how: str, payment_password: str) -> Authorization:
    """The password, or none: the payment then waits for the SMS step-up (`sms`)."""
    pin = payment_password or None
    return Authorization(payment_password=pin if how == "password" else None)


def _after_paying(request: Request, me: WalletCaller, paid: Payment) -> Response:
    """The payment's page; one waiting for the step-up gets its SMS code sent first."""
    if paid.row.status == "requires_action" and paid.row.challenge_id:
        auth.send_sms_code(me.ctx, paid.row.challenge_id, request.app.state.sms)
    return see_other(f"/wallet/payments/{paid.row.id}")


@router.get("/red-packets")
def red_packet_page(request: Request, me: WalletCaller) -> Response:
    return wallet_page(request, me, "wallet_red_packet_new.html")


@router.post("/red-packets", dependencies=[CheckedForm])
def send_red_packet(
    me: WalletCaller,
    amount: Field,
    shares: Annotated[int, Form(ge=1, le=100)],
    split: Annotated[str, Form(pattern="^(random|fixed)$")],
    payment_password: Field,
    message: Field = "",
) -> Response:
    new = red_packets.NewPacket(
        Money.parse(amount.strip(), "CNY"),
        shares,
        Split(split),
        red_packets.DEFAULT_TTL,
        message.strip() or None,
    )
    made = red_packets.create_red_packet(
        me.ctx, me.id, new, Authorization(payment_password=payment_password)
    )
    return see_other(f"/wallet/red-packets/{made.row.id}")


@router.get("/red-packets/{packet_id}")
def red_packet(request: Request, me: WalletCaller, packet_id: str) -> Response:
    packet = red_packets.get_red_packet(me.ctx, packet_id)
    claims = packet.claims_seen_by(me.id)
    mine = next((c for c in claims if c.claimer_id == me.id), None)
    values = {"packet": packet, "claims": claims, "mine": mine}
    return wallet_page(request, me, "wallet_red_packet.html", **values)


@router.post("/red-packets/{packet_id}/claim", dependencies=[CheckedForm])
def claim_red_packet(me: WalletCaller, packet_id: str) -> Response:
    red_packets.claim_red_packet(me.ctx, me.id, packet_id)
    return see_other(f"/wallet/red-packets/{packet_id}")


@router.get("/escrow/{trade_id}")
def trade(request: Request, me: WalletCaller, trade_id: str) -> Response:
    """My guaranteed purchase (a buyer sees only their own: `get_trade` answers 404)."""
    row = escrow.get_trade(me.ctx, trade_id, me.id)
    can = {a.value for a in escrow_rules.allowed(escrow_rules.EscrowStatus(row.status))}
    return wallet_page(request, me, "wallet_trade.html", trade=row, can=can)


@router.post("/escrow/{trade_id}/confirm", dependencies=[CheckedForm])
def confirm_trade(me: WalletCaller, trade_id: str) -> Response:
    escrow.confirm_receipt(me.ctx, me.id, trade_id)
    return see_other(f"/wallet/escrow/{trade_id}")


@router.post("/escrow/{trade_id}/dispute", dependencies=[CheckedForm])
def dispute_trade(me: WalletCaller, trade_id: str, reason: Field) -> Response:
    """Ask for the money back: the trade is frozen until the platform decides."""
    escrow.open_dispute(me.ctx, me.id, trade_id, reason.strip())
    return see_other(f"/wallet/escrow/{trade_id}")


@router.get("/payments/{payment_id}")
def payment_page(request: Request, me: WalletCaller, payment_id: str) -> Response:
    row = payments.get_payment(me.ctx, me.id, payment_id)
    decision = risk_decisions.decision_for(me.ctx, row.id) if row.payer_id == me.id else None
    words = plain_words(decision.action, decision.reasons) if decision else []
    action = decision.action if decision else None
    values = {"payment": row, "words": words, "action": action, "paid_by_me": row.payer_id == me.id}
    return wallet_page(request, me, "wallet_payment.html", **values)


@router.post("/payments/{payment_id}/confirm", dependencies=[CheckedForm])
def confirm(
    me: WalletCaller,
    payment_id: str,
    code: Annotated[str, Form(max_length=12)],
    payment_password: Field = "",
) -> Response:
    answer = StepUpAnswer("sms", code.strip())
    given = Authorization(payment_password=payment_password or None, answer=answer)
    payments.confirm_payment(me.ctx, me.id, payment_id, given)
    return see_other(f"/wallet/payments/{payment_id}")


@router.post("/payments/{payment_id}/sms", dependencies=[CheckedForm])
def send_again(request: Request, me: WalletCaller, payment_id: str) -> Response:
    row = payments.get_payment(me.ctx, me.id, payment_id)
    if row.challenge_id and row.payer_id == me.id and row.status == "requires_action":
        auth.send_sms_code(me.ctx, row.challenge_id, request.app.state.sms)
    return see_other(f"/wallet/payments/{payment_id}")


# -- the shop: staff show a code for an amount, watch payments arrive, refund ---------------
@router.get("/shop/{merchant_id}")
def shop(request: Request, me: WalletCaller, merchant_id: str, order: str = "") -> Response:
    got, _ = payments.received(me.ctx, merchant_id, None, 20)  # staff only (or 403)
    shown = qr = None
    if order:
        shown = payments_qr.get_order(me.ctx, order)
        if shown.row.merchant_id != merchant_id:
            raise NotFound("no such order", param="order")
        qr = qr_svg(shown.payload, "QR")
    merchant = identity.get_merchant(me.ctx, merchant_id)
    values = {"merchant": merchant, "received": got, "order": shown, "qr": qr}
    return wallet_page(request, me, "wallet_shop.html", **values)


@router.get("/shop/{merchant_id}/received")
def received(request: Request, me: WalletCaller, merchant_id: str) -> Response:
    """The list of payments received alone, for the shop page to refresh in place."""
    got, _ = payments.received(me.ctx, merchant_id, None, 20)
    merchant = identity.get_merchant(me.ctx, merchant_id)
    return wallet_page(request, me, "wallet_received.html", merchant=merchant, received=got)


@router.post("/shop/{merchant_id}/orders", dependencies=[CheckedForm])
def new_order(me: WalletCaller, merchant_id: str, amount: Field) -> Response:
    merchant_api.require_merchant(me.ctx, merchant_id)
    made = payments_qr.create_order_qr(me.ctx, merchant_id, Money.parse(amount.strip(), "CNY"))
    return see_other(f"/wallet/shop/{merchant_id}?order={made.row.id}")


@router.post("/shop/{merchant_id}/payments/{payment_id}/refund", dependencies=[CheckedForm])
def refund(
    me: WalletCaller,
    merchant_id: str,
    payment_id: str,
    amount: Field,
    refund_id: Annotated[str, Form(min_length=1, max_length=64)],
) -> Response:
    """`refund_id` names the refund by what was refunded before it (the form's), so the
    same form sent twice (a double tap, a resubmitted page) refunds once; after it, the
    page offers what is left under a new name."""
    merchant_api.require_payment_merchant(me.ctx, payment_id)  # 404 unless ours to refund
    asked = RefundRequest(refund_id, Money.parse(amount.strip(), "CNY"), "refunded in the shop")
    refund_payment(me.ctx, payment_id, asked)
    return see_other(f"/wallet/shop/{merchant_id}")
