"""Browser-like clients of the screens for the TestClient tests: a cookie jar each, the
CSRF token read from each page's forms as a browser would submit it; an operator's
authenticator app, set up at their first console sign-in; a user's SMS codes, read from
the fake SMS sender."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from httpx import Response

from guardpay.services.auth import operator_login, operators
from guardpay.services.platform.context import Context
from tests.api.api_fixtures import PASSWORD, Api
from tests.api.test_payments_api import OP_SECRET, _ctx_run

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SECRET = re.compile(r'id="totp-secret">([A-Z2-7]+)<')
ENROL = 'action="/console/login/enrol"'


@dataclass
class Screen:
    api: Api
    name: str  # the operator's name, or the user's phone
    client: TestClient = field(init=False)
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


@dataclass
class Wallet(Screen):
    def sign_in(self, password: str = PASSWORD) -> Response:
        """Phone and password, then the SMS code every browser sign-in needs."""
        self.get("/wallet/login")
        step = self.post("/wallet/login", {"phone": self.name, "password": password})
        assert step.status_code == 200, step.text
        code = self.api.sms.last_code("+86" + self.name)
        assert code is not None
        done = self.post("/wallet/login/code", {"code": code})
        assert (done.status_code, done.headers.get("location")) == (303, "/wallet"), done.text
        return done


@dataclass
class Console(Screen):
    secret: str | None = None
    enrolment: str | None = None  # the admin's one-time code, until it is used

    def code(self, at: datetime) -> str:
        assert self.secret is not None
        return str(pyotp.TOTP(self.secret).at(at))

    def sign_in(self, password: str = OP_SECRET) -> Response:
        """Password, then the authenticator's code (set up on the first sign-in)."""
        self.get("/console/login")
        step = self.post("/console/login", {"name": self.name, "password": password})
        assert step.status_code == 200, step.text
        if ENROL in step.text:
            assert self.enrolment is not None
            step = self.post("/console/login/enrol", {"enrolment_code": self.enrolment})
            assert step.status_code == 200, step.text
            found = SECRET.search(step.text)
            assert found, step.text
            self.secret, self.enrolment = found.group(1), None
        done = self.post("/console/login/code", {"code": self.code(self.api.clock())})
        assert (done.status_code, done.headers.get("location")) == (303, "/console"), done.text
        self.api.clock.advance(seconds=30)  # a code counts once: the next sign-in needs a new
        return done


def operator(api: Api, name: str, role: str, **_: Any) -> Console:
    """An operator, created by the system with an enrolment code, not yet signed in."""

    def make(ctx: Context) -> str:
        made = operators.create_operator(ctx, name, role, OP_SECRET)
        return operator_login.issue_enrolment(ctx, made.id)

    console = Console(api, name)
    console.enrolment = _ctx_run(api, make)
    return console
