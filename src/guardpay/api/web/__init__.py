"""The screens: the operator console (`/console`) and, next, the wallet, served by the
same app as the API, on the same services (no second source of truth). Pages are
rendered on the server (pages.py); assets are served from the package (`static/`), so
nothing is fetched from a CDN and the screens work offline."""

from __future__ import annotations

from importlib import resources
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from guardpay.api.web import console
from guardpay.api.web.pages import render
from guardpay.api.web.session import LoginRequired

SCREENS = ("/console",)


def install(app: FastAPI) -> None:
    static = resources.files("guardpay.api.web") / "static"
    app.mount("/console/static", StaticFiles(directory=str(static)), name="console-static")
    app.include_router(console.router)

    @app.exception_handler(LoginRequired)
    async def _login(_: Request, __: LoginRequired) -> Response:
        return RedirectResponse("/console/login", status_code=303)


def refusal_page(request: Request, status: int, code: str, message: str) -> Response | None:
    """A refusal on a screen, as a page (api/errors.py asks); None for the API."""
    if not request.url.path.startswith(SCREENS):
        return None
    came = urlsplit(request.headers.get("referer", ""))
    back = came.path if came.netloc == request.url.netloc and came.path.startswith("/") else None
    return render(request, "error.html", status=status, code=code, message=message, back=back)
