"""The payer's own payment code in the wallet: the till scans it (QR or barcode) and
takes the payment, as a shop's terminal does with the app's code.

Shown after the payment password, which is the code's one factor (services/payments/
codes.py stores it with the code, because the till pays later without the payer). The
page asks `code_on_screen` every few seconds (wallet.js; without the script, the
"Refresh" button asks the same): it swaps in a fresh code before the shown one expires,
for five minutes, and shows the payment once a till has taken it. The code travels only
in POST bodies and pages marked no-store, never in an address.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from guardpay.api.deps import InOneUnit
from guardpay.api.web.barcodes import barcode_svg, qr_svg
from guardpay.api.web.session import CheckedForm, WalletCaller
from guardpay.api.web.wallet import wallet_page
from guardpay.services.payments import codes
from guardpay.services.payments import core as payments
from guardpay.services.payments.pipeline import Authorization

router = APIRouter(route_class=InOneUnit, prefix="/wallet", include_in_schema=False)


@router.get("/code")
def code_page(request: Request, me: WalletCaller) -> Response:
    return wallet_page(request, me, "wallet_paycode.html", on=None)


@router.post("/code", dependencies=[CheckedForm])
def show_code(
    request: Request,
    me: WalletCaller,
    payment_password: Annotated[str, Form(pattern="^[0-9]{6}$")],
) -> Response:
    given = Authorization(payment_password=payment_password)
    issued = codes.generate_payment_code(
        me.ctx, me.id, codes.device_of(me.session.device_id), given
    )
    return _shown(request, me, codes.OnScreen(codes.Shown.LIVE, issued))


@router.post("/code/now", dependencies=[CheckedForm])
def code_now(
    request: Request, me: WalletCaller, code: Annotated[str, Form(max_length=18)]
) -> Response:
    """What the screen showing `code` shows now: it, a fresh one, or the payment."""
    return _shown(
        request,
        me,
        codes.code_on_screen(me.ctx, me.id, codes.device_of(me.session.device_id), code.strip()),
    )


def _shown(request: Request, me: WalletCaller, on: codes.OnScreen) -> Response:
    paid = None if on.payment_id is None else payments.get_payment(me.ctx, me.id, on.payment_id)
    pictures = {}
    if on.code is not None:
        digits = on.code.code
        pictures = {"qr": qr_svg(digits, "QR"), "bars": barcode_svg(digits, "barcode")}
    return wallet_page(request, me, "wallet_paycode.html", on=on, paid=paid, **pictures)
