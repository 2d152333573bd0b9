"""No secret reaches a log line or a response: one journey through the HTTP API, on both
backends, with every log captured (the issue's "what must be shown").

Register → sign in on a first phone (SMS step-up) → verify identity with a valid
resident ID → bind a card → set the payment password → log in from a NEW phone, step up
by SMS → 5 wrong payment passwords → `payment_locked`. Along the way a wrong login
password and a wrong SMS code, so the failure paths log too.

Captured: structlog as configured by `guardpay.observability.configure(logging.DEBUG)`
(its processors, the redaction among them, run; only the output stream is swapped for a
buffer), the standard library's logging at DEBUG on the root logger and on every
logger that set itself quieter (so SQLAlchemy's statements with their parameters, and
httpx's request lines), anything printed to the process's
stdout or stderr, and the audit log table. The second test shows the capture sees an
unredacted marker logged each of those ways, so a secret logged by a service would fail
the first.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import structlog
from sqlalchemy import text

from guardpay import observability
from tests.api.api_fixtures import (
    E164,
    ID_NUMBER,
    NAME,
    PAN,
    PASSWORD,
    PHONE,
    PIN,
    Api,
    PhoneApp,
    api_fixture,  # noqa: F401
    error_of,
)

WRONG_PIN = "902817"
WRONG_PASSWORD = "Wrong-pass-99"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class Captured:
    structured: io.StringIO
    caplog: pytest.LogCaptureFixture
    capfd: pytest.CaptureFixture[str]
    printed: list[str] = field(default_factory=list)

    def text(self) -> str:
        """Everything logged or printed so far, colour codes removed."""
        self.printed.extend(self.capfd.readouterr())  # reading empties it: keep it here
        records = [repr(vars(r)) for r in self.caplog.records]  # args and extras too
        parts = [self.structured.getvalue(), self.caplog.text, *records, *self.printed]
        return _ANSI.sub("", "\n".join(parts))


@pytest.fixture
def captured(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> Iterator[Captured]:
    saved = structlog.get_config()
    buffer = io.StringIO()
    observability.configure(logging.DEBUG)  # the production processors, redaction included
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    caplog.set_level(logging.DEBUG)
    for name in _quieted_loggers():  # SQLAlchemy sets itself to WARNING: open it up too
        caplog.set_level(logging.DEBUG, logger=name)
    try:
        yield Captured(buffer, caplog, capfd)
    finally:
        structlog.configure(**saved)


def _quieted_loggers() -> list[str]:
    loggers = logging.root.manager.loggerDict.items()
    return [n for n, lg in loggers if isinstance(lg, logging.Logger) and lg.level > logging.DEBUG]


def leaks(texts: list[str], secret: str) -> list[str]:
    """The texts containing `secret`. A short all-digit secret (PIN, code) must stand
    alone, so a random id or a timestamp that happens to contain its digits is no hit."""
    if secret.isdigit() and len(secret) <= 8:
        pattern = re.compile(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])")
        return [t for t in texts if pattern.search(t)]
    return [t for t in texts if secret in t]


def _journey(api: Api) -> list[str]:
    """The whole walk; returns the session tokens issued."""
    api.register(PHONE, PASSWORD)
    error_of(api.login(None, password=WRONG_PASSWORD), 401, "invalid_credentials")
    first = api.sign_in(PhoneApp("first phone"))
    assert api.verify(first).json()["account_class"] == "I"
    card = api.post("/v1/me/cards", {"card_number": PAN, "reserved_phone": PHONE}, first)
    assert card.status_code == 201, card.text
    assert api.post("/v1/me/payment-password", {"payment_password": PIN}, first).json()["ok"]
    asked = error_of(api.login(PhoneApp("new phone")), 401, "step_up_required")["step_up"]
    assert "sms" in asked["methods"]
    complete = f"/v1/step-ups/{asked['challenge_id']}/complete"
    code = api.sms_code(asked["challenge_id"])
    wrong = "000000" if code != "000000" else "111111"
    error_of(api.post(complete, {"method": "sms", "code": wrong}), 401, "invalid_code")
    second = api.post(complete, {"method": "sms", "code": code})
    assert second.status_code == 201, second.text
    token = second.json()["token"]
    verify = "/v1/me/payment-password/verify"
    for _ in range(4):
        error_of(
            api.post(verify, {"payment_password": WRONG_PIN}, token),
            401,
            "invalid_payment_password",
        )
    error_of(api.post(verify, {"payment_password": WRONG_PIN}, token), 403, "payment_locked")
    error_of(api.post(verify, {"payment_password": PIN}, token), 403, "payment_locked")
    return [first, token]


def _secrets(api: Api) -> list[str]:
    national = E164[3:]
    phones = [
        national,
        E164,
        E164[1:],
        f"{national[:3]} {national[3:7]} {national[7:]}",
        f"{national[:3]}-{national[3:7]}-{national[7:]}",
    ]
    pans = [PAN, " ".join(PAN[i : i + 4] for i in range(0, len(PAN), 4))]
    codes = [c for m in api.sms.outbox for c in _CODE.findall(m.text)]
    assert len(codes) == 2  # two step-ups by SMS
    return [*phones, *pans, ID_NUMBER, NAME, PASSWORD, WRONG_PASSWORD, PIN, WRONG_PIN, *codes]


def _audit_rows(api: Api) -> list[str]:
    with api.db.read() as conn:
        return [str(r) for r in conn.execute(text("SELECT * FROM audit_log"))]


def test_no_secret_reaches_a_log_line_or_a_response(api: Api, captured: Captured) -> None:
    tokens = _journey(api)
    logs = [captured.text(), *_audit_rows(api)]
    assert "payment_locked" in logs[0]  # the journey really was logged
    assert "http_request" in logs[0]
    for secret in [*_secrets(api), *tokens]:
        assert leaks(logs, secret) == [], f"a secret reached the logs: {secret[:3]}..."
    bodies = [r.text for r in api.responses]
    for secret in _secrets(api):
        assert leaks(bodies, secret) == [], f"a response showed a secret: {secret[:3]}..."
    for token in tokens:  # only the response that issued a token shows it
        showing = [r for r in api.responses if token in r.text]
        assert [r.json()["token"] for r in showing] == [token]
        assert showing[0].headers["cache-control"] == "no-store"


def test_the_capture_sees_what_is_logged(api: Api, captured: Captured) -> None:
    """The net works: a marker (not secret-named, not a long digit run, so the redaction
    leaves it) logged through structlog, the standard library, a print, or in a request
    path is in the captured text, and `leaks` reports it."""
    marker = "marker-q7Zx3"
    structlog.get_logger("guardpay.test").debug("probe", note=marker, password=marker + "pw")
    logging.getLogger("guardpay.test").debug("probe %s", marker + "-stdlib")
    print(marker + "-print")
    api.get(f"/v1/merchants/mer_{marker[-5:].lower()}x")
    logged = captured.text()
    for seen in (marker, marker + "-stdlib", marker + "-print", f"mer_{marker[-5:].lower()}x"):
        assert leaks([logged], seen) == [logged], seen
    assert marker + "pw" not in logged  # the redaction processor ran
    assert "[redacted]" in logged
    assert leaks([f"pin={PIN}"], PIN) == [f"pin={PIN}"]
    assert leaks([f"ses_a{PIN}b", f"2026-11-21T09:30:00.{PIN}Z"], PIN) == []
