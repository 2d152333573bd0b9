"""The screens: the operator console (`/console`) and the wallet (`/wallet`), served by the
same app as the API, on the same services (no second source of truth). Pages are
rendered on the server (pages.py); assets are served from the package (`static/`), so
nothing is fetched from a CDN and the screens work offline."""

from __future__ import annotations

from importlib import resources
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from guardpay.api.web import (
    console,
    console_access,
    console_reconcile,
    console_rules,
    wallet,
    wallet_cards,
    wallet_code,
)
from guardpay.api.web.pages import render
from guardpay.api.web.session import SCREENS, LoginRequired


def install(app: FastAPI) -> None:
    static = StaticFiles(directory=str(resources.files("guardpay.api.web") / "static"))
    for screen in SCREENS:
        app.mount(f"{screen.path}/static", static, name=f"{screen.path[1:]}-static")
    app.include_router(console.router)
    app.include_router(console_access.router)
    app.include_router(console_rules.router)
    app.include_router(console_reconcile.router)
    app.include_router(wallet.router)
    app.include_router(wallet_code.router)
    app.include_router(wallet_cards.router)

    @app.exception_handler(LoginRequired)
    async def _login(_: Request, needed: LoginRequired) -> Response:
        return RedirectResponse(needed.screen.login, status_code=303)


def refusal_page(request: Request, status: int, code: str, message: str) -> Response | None:
    """A refusal on a screen, as a page (api/errors.py asks); None for the API."""
    screen = next((s for s in SCREENS if request.url.path.startswith(s.path)), None)
    if screen is None:
        return None
    came = urlsplit(request.headers.get("referer", ""))
    ours = came.netloc == request.url.netloc and came.path.startswith(screen.path)
    back = came.path if ours and not came.path.startswith(("//", "/\\")) else None
    template = "wallet_error.html" if screen.path == "/wallet" else "error.html"
    return render(request, template, status=status, code=code, message=message, back=back)
