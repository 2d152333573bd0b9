"""The screens' sessions: a cookie instead of a bearer header, and a CSRF token on every
form.

- `gp_console`: the operator's session token (the same sessions as the API's bearer
  tokens, services/auth/sessions.py), `HttpOnly`, `SameSite=Strict`, scoped to
  `/console`, and `Secure` unless the page was served over plain HTTP to a loopback
  address (a developer's machine). `gp_console_mfa`: the pending sign-in between the
  password and the code (services/auth/operator_login.py), five minutes.
- Every form posts `csrf`: an HMAC of the cookie's token, so it is bound to the session
  and no other site can know it; before sign-in a random double-submit cookie stands in
  for the token. A POST without the right one is refused (403 `csrf_failed`) before it
  does anything. SameSite=Strict is the second wall, not the only one.
- A page asked for without a live operator session redirects to the login page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from ipaddress import ip_address
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from guardpay.api.deps import Caller, Deferred
from guardpay.domain.auth.sessions import OPERATOR
from guardpay.errors import AuthenticationFailed, PermissionDenied
from guardpay.services.auth import facade as auth
from guardpay.services.platform.context import Actor, Context

SESSION_COOKIE = "gp_console"
PENDING_COOKIE = "gp_console_mfa"
PRE_COOKIE = "gp_console_pre"
CONSOLE = "/console"


class LoginRequired(Exception):
    """No live operator session: the page redirects to the login page."""


def csrf_for(token: str) -> str:
    return hmac.new(token.encode(), b"guardpay-console-csrf", hashlib.sha256).hexdigest()


def pre_token(request: Request) -> str:
    """The double-submit token of the login forms (a new one if the browser has none)."""
    return request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)


def set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=CONSOLE,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=CONSOLE, httponly=True, samesite="strict", secure=_secure(request)
    )


async def _checked_form(request: Request) -> None:
    """The form's `csrf` matches the session cookie's (or, while signing in, the pending
    sign-in's or the double-submit cookie's: a stale session cookie may still be there)."""
    form = await request.form()
    sent = str(form.get("csrf", ""))
    cookies = request.cookies
    bearers = [cookies.get(SESSION_COOKIE), cookies.get(PENDING_COOKIE)]
    expected = [csrf_for(b) for b in bearers if b] + [cookies.get(PRE_COOKIE) or ""]
    if not sent or not any(e and hmac.compare_digest(sent, e) for e in expected):
        raise PermissionDenied(
            "this form is stale or came from another site: reload the page and try again",
            code="csrf_failed",
        )


async def _console_operator(request: Request) -> Deferred:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired
    return Deferred(request, lambda ctx: _operator(ctx, token))


def _operator(ctx: Context, token: str) -> Caller:
    try:
        session = auth.authenticate(ctx, token)
    except AuthenticationFailed:
        raise LoginRequired from None
    if session.subject_kind != OPERATOR:
        raise LoginRequired
    seen = ctx.actor
    actor = Actor(OPERATOR, session.subject_id, seen.ip, None, seen.location)
    return Caller(ctx.as_actor(actor), session)


def _secure(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    host = request.url.hostname or ""
    try:
        return not ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"


#: The signed-in operator of a console page, bound in the page's unit of work.
ConsoleCaller = Annotated[Caller, Depends(_console_operator)]
#: A console form whose CSRF token was checked.
CheckedForm = Depends(_checked_form)
