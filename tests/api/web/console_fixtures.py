"""A browser-like client of the console for the TestClient tests: its own cookie jar per
operator, the CSRF token read from each page's forms as a browser would submit it, and
the authenticator app that operator set up at their first sign-in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from httpx import Response

from guardpay.services.auth import operators
from guardpay.services.platform.context import Context
from tests.api.api_fixtures import Api
from tests.api.test_payments_api import OP_SECRET, _ctx_run

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SECRET = re.compile(r'id="totp-secret">([A-Z2-7]+)<')


@dataclass
class Console:
    api: Api
    name: str
    client: TestClient = field(init=False)
    secret: str | None = None
    page: Response | None = None
    token: str | None = None  # the CSRF token of the newest page that had a form

    def __post_init__(self) -> None:
        # a loopback address: the cookies are not `Secure` over plain HTTP there only
        self.client = TestClient(
            self.api.client.app, base_url="http://127.0.0.1", follow_redirects=False
        )

    def get(self, path: str) -> Response:
        return self._seen(self.client.get(path))

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True) -> Response:
        """A form, posted with the CSRF token of the newest page that showed one."""
        form = dict(data or {})
        if csrf:
            assert self.token is not None, "open a page with a form first"
            form["csrf"] = self.token
        return self._seen(self.client.post(path, data=form))

    def _seen(self, page: Response) -> Response:
        self.page = page
        found = CSRF.search(page.text)
        if found:
            self.token = found.group(1)
        return page

    def code(self, at: datetime) -> str:
        assert self.secret is not None
        return str(pyotp.TOTP(self.secret).at(at))

    def sign_in(self, password: str = OP_SECRET) -> Response:
        """Password, then the authenticator's code (set up on the first sign-in)."""
        self.get("/console/login")
        step = self.post("/console/login", {"name": self.name, "password": password})
        assert step.status_code == 200, step.text
        shown = SECRET.search(step.text)
        if shown:
            self.secret = shown.group(1)
        done = self.post("/console/login/code", {"code": self.code(self.api.clock())})
        assert (done.status_code, done.headers.get("location")) == (303, "/console"), done.text
        self.api.clock.advance(seconds=30)  # a code counts once: the next sign-in needs a new
        return done


def operator(api: Api, name: str, role: str, **_: Any) -> Console:
    """An operator, created by the system, not yet signed in to the console."""

    def make(ctx: Context) -> None:
        operators.create_operator(ctx, name, role, OP_SECRET)

    _ctx_run(api, make)
    return Console(api, name)
