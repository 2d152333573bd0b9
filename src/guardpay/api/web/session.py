"""The screens' sessions: a cookie instead of a bearer header, and a CSRF token on every
form. Each screen (the console for operators, the wallet for users) has its own cookies,
scoped to its path, and admits only its own kind of session.

- `gp_console` / `gp_wallet`: the session token (the same sessions as the API's bearer
  tokens, services/auth/sessions.py), `HttpOnly`, `SameSite=Strict`, scoped to the
  screen's path, and `Secure` unless the page was served over plain HTTP to a loopback
  address (a developer's machine), always with `GUARDPAY_SECURE_COOKIES` (a TLS proxy
  in front that does not say so). `..._pending`: a sign-in between its first and second
  step (the operator's authenticator code, the user's SMS code), five minutes.
- Every form posts `csrf`: an HMAC of the session cookie's token, so it is bound to the
  session and no other site can know it. Only the forms before a session take another:
  sign-in's first step and the wallet's registration a random double-submit cookie's,
  sign-in's second step the pending sign-in's HMAC. A POST
  without the right one is refused (403 `csrf_failed`) before it does anything.
  SameSite=Strict is the second wall, not the only one.
- A page asked for without a live session of the screen's kind redirects to its login;
  the console admits only an operator session that passed the authenticator code
  (services/auth/operator_login.py `passed_second_factor`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from guardpay.api.deps import Caller, Deferred
from guardpay.api.web.pages import render
from guardpay.domain.auth.sessions import OPERATOR, USER
from guardpay.domain.auth.settings import SCREEN_SETTINGS
from guardpay.errors import AuthenticationFailed, PermissionDenied
from guardpay.services.auth import facade as auth
from guardpay.services.auth import operator_login
from guardpay.services.platform.context import Actor, Context


@dataclass(frozen=True)
class Screen:
    path: str  # "/console"
    cookie: str  # the session cookie's name
    kind: str  # the session kind it admits

    @property
    def pending(self) -> str:
        return f"{self.cookie}_pending"

    @property
    def pre(self) -> str:
        return f"{self.cookie}_pre"

    @property
    def login(self) -> str:
        return f"{self.path}/login"

    @property
    def before_sign_in(self) -> tuple[str, ...]:
        """The forms posted without a session (their token is the double-submit one)."""
        return (self.login, f"{self.path}/register")


#: how long a sign-in's first step waits for its second (seconds)
PENDING_AGE = 300
#: the session cookie's life: the server's own limit for a browser's session
SESSION_AGE = int(SCREEN_SETTINGS.sessions.absolute_timeout.total_seconds())
CONSOLE = Screen("/console", "gp_console", OPERATOR)
WALLET = Screen("/wallet", "gp_wallet", USER)
SCREENS = (CONSOLE, WALLET)


class LoginRequired(Exception):
    """No live session of the screen's kind: the page redirects to its login page."""

    def __init__(self, screen: Screen) -> None:
        super().__init__(screen.path)
        self.screen = screen


def csrf_for(token: str) -> str:
    return hmac.new(token.encode(), b"guardpay-screen-csrf", hashlib.sha256).hexdigest()


def page_csrf(request: Request, screen: Screen) -> str:
    return csrf_for(request.cookies.get(screen.cookie, ""))


def pre_token(request: Request, screen: Screen) -> str:
    """The double-submit token of the login forms (a new one if the browser has none)."""
    return request.cookies.get(screen.pre) or secrets.token_urlsafe(24)


def set_cookie(
    request: Request, response: Response, screen: Screen, name: str, value: str, age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=screen.path,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def clear_cookie(request: Request, response: Response, screen: Screen, name: str) -> None:
    response.delete_cookie(
        name, path=screen.path, httponly=True, samesite="strict", secure=_secure(request)
    )


def sign_in_form(
    request: Request, screen: Screen, template: str, *, status: int = 200, error: str = ""
) -> Response:
    """A sign-in form's page with the double-submit cookie its token is checked against."""
    token = pre_token(request, screen)
    page = render(request, template, status=status, csrf=token, error=error)
    set_cookie(request, page, screen, screen.pre, token, PENDING_AGE)
    return page


def see_other(to: str) -> RedirectResponse:
    """After a POST: the page to show next (303, so a reload does not repeat the POST)."""
    return RedirectResponse(to, status_code=303)


def screen_of(request: Request) -> Screen:
    return WALLET if request.url.path.startswith(WALLET.path) else CONSOLE


async def _checked_form(request: Request) -> None:
    """The form's `csrf` is the one its route takes (the module docstring)."""
    screen = screen_of(request)
    form = await request.form()
    sent = str(form.get("csrf", "")).encode()
    expected = _expected_csrf(request, screen)
    if not sent or not expected or not hmac.compare_digest(sent, expected.encode()):
        raise PermissionDenied(
            "this form is stale or came from another site: reload the page and try again",
            code="csrf_failed",
        )


def _expected_csrf(request: Request, screen: Screen) -> str:
    cookies, path = request.cookies, request.url.path
    if path in screen.before_sign_in:
        return cookies.get(screen.pre) or ""
    bearer = cookies.get(screen.pending if path.startswith(f"{screen.login}/") else screen.cookie)
    return csrf_for(bearer) if bearer else ""


def _caller_of(screen: Screen) -> object:
    async def signed_in(request: Request) -> Deferred:
        token = request.cookies.get(screen.cookie)
        if not token:
            raise LoginRequired(screen)
        return Deferred(request, lambda ctx: _caller(ctx, token, screen))

    return signed_in


def _caller(ctx: Context, token: str, screen: Screen) -> Caller:
    try:
        session = auth.authenticate(ctx, token, settings=SCREEN_SETTINGS)
    except AuthenticationFailed:
        raise LoginRequired(screen) from None
    if session.subject_kind != screen.kind:
        raise LoginRequired(screen)
    if screen is CONSOLE and not operator_login.passed_second_factor(ctx, session):
        raise LoginRequired(screen)
    seen = ctx.actor
    actor = Actor(screen.kind, session.subject_id, seen.ip, session.device_id, seen.location)
    return Caller(ctx.as_actor(actor), session)


def _secure(request: Request) -> bool:
    settings = request.app.state.settings
    if request.url.scheme == "https" or settings.secure_cookies:
        return True
    host = request.url.hostname or ""
    try:
        return not ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"


#: The signed-in operator of a console page, bound in the page's unit of work.
ConsoleCaller = Annotated[Caller, Depends(_caller_of(CONSOLE))]
#: The signed-in user of a wallet page.
WalletCaller = Annotated[Caller, Depends(_caller_of(WALLET))]
#: A form whose CSRF token was checked.
CheckedForm = Depends(_checked_form)
