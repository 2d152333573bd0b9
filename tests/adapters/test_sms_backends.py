"""The SMS backends a deployment chooses with GUARDPAY_SMS_BACKEND: the console (printed,
marked, not sent), a JSON-lines file (0600, whole lines across threads and processes),
and Twilio's Messages API, driven against a real local HTTP server that checks the path,
the basic auth and the form fields the way Twilio does, and answers 4xx, 5xx or late."""

from __future__ import annotations

import base64
import io
import json
import logging
import multiprocessing
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from guardpay.adapters.sms import (
    BACKEND_ENV,
    TWILIO_BASE_URL_ENV,
    TWILIO_FROM_ENV,
    TWILIO_SID_ENV,
    TWILIO_TOKEN_ENV,
    ConsoleSms,
    FileSms,
    SmsConfigError,
    SmsSender,
    TwilioSms,
    sms_from_settings,
)
from guardpay.config import Settings
from guardpay.errors import ServiceUnavailable

PHONE = "+8613812345678"
CODE = "042917"
TEXT = f"[guardpay] Your verification code is {CODE}, valid for 5 minutes."
SID, TOKEN, SENDER = "ACtest0123456789", "twilio-auth-token-s3cret", "+15005550006"


# -- console ---------------------------------------------------------------------------------
def test_the_console_backend_prints_the_message_marked_as_not_sent() -> None:
    out = io.StringIO()
    sender: SmsSender = ConsoleSms(out)
    sender.send(PHONE, TEXT)
    line = out.getvalue()
    assert line.startswith("[development SMS, not sent] to 138****5678: ")
    assert line.rstrip("\n").endswith(TEXT)
    assert PHONE not in line


# -- file ------------------------------------------------------------------------------------
def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_file_backend_appends_one_json_line_per_message_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sms.jsonl"
    sms = FileSms(path)
    sms.send(PHONE, TEXT)
    sms.send("+8613900139000", "second 123456")
    lines = _lines(path)
    assert [(x["to"], x["text"]) for x in lines] == [
        (PHONE, TEXT),
        ("+8613900139000", "second 123456"),
    ]
    assert all(set(x) == {"to", "text", "sent_at"} for x in lines)
    assert lines[0]["sent_at"].endswith("+00:00")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_file_made_readable_by_others_is_narrowed_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "sms.jsonl"
    path.write_text("")
    path.chmod(0o644)
    FileSms(path).send(PHONE, TEXT)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(_lines(path)) == 1


def test_threads_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "sms.jsonl"
    sms = FileSms(path)
    long_text = "x" * 5000  # longer than a pipe buffer: one write, whole line

    def burst(n: int) -> None:
        for i in range(25):
            sms.send(f"+86139{n:04d}{i:04d}", f"{long_text} {n} {i}")

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = _lines(path)
    assert len(lines) == 200
    assert {x["text"] for x in lines} == {
        f"{long_text} {n} {i}" for n in range(8) for i in range(25)
    }


def _write_many(path: str, who: int) -> None:  # in a child process
    sms = FileSms(path)
    for i in range(40):
        sms.send(f"+86137{who:04d}{i:04d}", f"{'y' * 3000} {who} {i}")


def test_processes_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "sms.jsonl"
    spawn = multiprocessing.get_context("spawn")
    children = [spawn.Process(target=_write_many, args=(str(path), n)) for n in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    lines = _lines(path)
    assert len(lines) == 120
    assert {x["text"].split(" ", 1)[1] for x in lines} == {
        f"{n} {i}" for n in range(3) for i in range(40)
    }


def test_a_file_that_cannot_be_written_is_sms_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailable) as failed:
        FileSms(tmp_path / "missing-dir" / "sms.jsonl").send(PHONE, TEXT)
    assert failed.value.code == "sms_unavailable"
    assert CODE not in failed.value.message
    assert PHONE not in failed.value.message


# -- a local Twilio --------------------------------------------------------------------------
@dataclass
class FakeTwilio:
    """Twilio's Messages endpoint for one account: checks what Twilio checks, records each
    accepted message, and answers as told (`answer`: a status and a JSON body; `delay`)."""

    server: ThreadingHTTPServer
    received: list[dict[str, str]] = field(default_factory=list)
    answer: tuple[int, dict[str, Any] | str] | None = None
    delay: float = 0.0

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"


def _handler(fake: list[FakeTwilio]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: dict[str, Any] | str) -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header(
                "Content-Type", "text/html" if isinstance(body, str) else "application/json"
            )
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            twilio = fake[0]
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length).decode()
            if twilio.delay:
                time.sleep(twilio.delay)
            if self.path != f"/2010-04-01/Accounts/{SID}/Messages.json":
                self._reply(404, {"code": 20404, "message": "The requested resource was not found"})
                return
            expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._reply(401, {"code": 20003, "message": "Authenticate"})
                return
            if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                self._reply(400, {"code": 20001, "message": "not a form"})
                return
            form = {k: v[0] for k, v in parse_qs(raw, strict_parsing=True).items()}
            if set(form) != {"To", "From", "Body"}:
                self._reply(400, {"code": 21604, "message": "A 'To' phone number is required."})
                return
            if twilio.answer is not None:
                self._reply(*twilio.answer)
                return
            twilio.received.append(form)
            self._reply(201, {"sid": "SM" + "0" * 32, "status": "queued", "to": form["To"]})

    return Handler


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    holder: list[FakeTwilio] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    server.daemon_threads = True
    holder.append(FakeTwilio(server))
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-twilio", daemon=True
    )
    thread.start()
    yield holder[0]
    server.shutdown()
    server.server_close()
    thread.join(5)


def _sender(twilio: FakeTwilio, token: str = TOKEN, timeout: float = 5.0) -> TwilioSms:
    return TwilioSms(SID, token, SENDER, base_url=twilio.base_url, timeout=timeout)


def _refusal(sms: TwilioSms) -> ServiceUnavailable:
    with pytest.raises(ServiceUnavailable) as failed:
        sms.send(PHONE, TEXT)
    error = failed.value
    assert error.code == "sms_unavailable"
    for secret in (PHONE, PHONE[3:], CODE, TOKEN, SID):
        assert secret not in error.message
        assert secret not in str(error)
    return error


def test_twilio_receives_to_from_and_body_with_basic_auth(
    twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    sms = _sender(twilio)
    with caplog.at_level(logging.DEBUG):
        sms.send(PHONE, TEXT)
    sms.close()
    assert twilio.received == [{"To": PHONE, "From": SENDER, "Body": TEXT}]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (CODE, PHONE, TOKEN):
        assert secret not in logged
    assert TOKEN not in repr(sms)


def test_twilio_wrong_credentials_are_sms_unavailable(twilio: FakeTwilio) -> None:
    error = _refusal(_sender(twilio, token="wrong-token"))
    assert "HTTP 401" in error.message
    assert "20003" in error.message
    assert twilio.received == []


@pytest.mark.parametrize("status", [400, 429, 500, 503])
def test_twilio_refusals_and_outages_are_sms_unavailable_without_the_number(
    twilio: FakeTwilio, status: int
) -> None:
    # Twilio's own message quotes the number; it must not reach ours.
    twilio.answer = (status, {"code": 21211, "message": f"The 'To' number {PHONE} is not valid"})
    error = _refusal(_sender(twilio))
    assert f"HTTP {status}" in error.message


def test_a_wrong_base_url_is_a_clean_refusal(twilio: FakeTwilio) -> None:
    sms = TwilioSms(SID, TOKEN, SENDER, base_url=twilio.base_url + "/elsewhere")
    assert "HTTP 404" in _refusal(sms).message


def test_an_answer_that_is_not_json_is_still_a_clean_refusal(twilio: FakeTwilio) -> None:
    twilio.answer = (502, f"<html>Bad gateway for {PHONE}</html>")
    assert _refusal(_sender(twilio)).message.endswith("(HTTP 502)")


def test_a_slow_twilio_times_out(twilio: FakeTwilio) -> None:
    twilio.delay = 1.0
    started = time.monotonic()
    error = _refusal(_sender(twilio, timeout=0.2))
    assert time.monotonic() - started < 0.9
    assert "in time" in error.message


def test_an_unreachable_twilio_is_sms_unavailable() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sms = TwilioSms(SID, TOKEN, SENDER, base_url=f"http://127.0.0.1:{port}", timeout=2)
    assert "reached" in _refusal(sms).message


# -- choosing a backend ----------------------------------------------------------------------
TWILIO_ENV = {
    BACKEND_ENV: "twilio",
    TWILIO_SID_ENV: SID,
    TWILIO_TOKEN_ENV: TOKEN,
    TWILIO_FROM_ENV: SENDER,
}


def sms_from_environment(environ: dict[str, str]) -> SmsSender:
    """The backend these variables configure, read as the edges read them (config.py)."""
    return sms_from_settings(Settings.from_environment(environ))


def test_unset_or_console_is_the_console_backend() -> None:
    assert isinstance(sms_from_environment({}), ConsoleSms)
    assert isinstance(sms_from_environment({BACKEND_ENV: ""}), ConsoleSms)
    assert isinstance(sms_from_environment({BACKEND_ENV: "console"}), ConsoleSms)


def test_file_names_its_path(tmp_path: Path) -> None:
    sms = sms_from_environment({BACKEND_ENV: f"file:{tmp_path / 'sms.jsonl'}"})
    assert isinstance(sms, FileSms)
    assert sms.path == tmp_path / "sms.jsonl"
    for bad in ("file:", "file:  ", f"file:{tmp_path}"):
        with pytest.raises(SmsConfigError, match=BACKEND_ENV):
            sms_from_environment({BACKEND_ENV: bad})


def test_twilio_takes_its_settings_and_an_optional_base_url(twilio: FakeTwilio) -> None:
    sms = sms_from_environment(TWILIO_ENV)
    assert isinstance(sms, TwilioSms)
    assert sms.url == f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
    local = sms_from_environment({**TWILIO_ENV, TWILIO_BASE_URL_ENV: twilio.base_url + "/"})
    local.send(PHONE, TEXT)
    assert twilio.received == [{"To": PHONE, "From": SENDER, "Body": TEXT}]


@pytest.mark.parametrize("missing", [TWILIO_SID_ENV, TWILIO_TOKEN_ENV, TWILIO_FROM_ENV])
def test_twilio_without_a_setting_is_refused_by_name(missing: str) -> None:
    env = {k: v for k, v in TWILIO_ENV.items() if k != missing}
    with pytest.raises(SmsConfigError, match=missing) as refused:
        sms_from_environment(env)
    assert TOKEN not in str(refused.value)


def test_a_bad_base_url_or_an_unknown_backend_is_refused() -> None:
    with pytest.raises(SmsConfigError, match=TWILIO_BASE_URL_ENV):
        sms_from_environment({**TWILIO_ENV, TWILIO_BASE_URL_ENV: "ftp://example"})
    with pytest.raises(SmsConfigError, match="console, file:PATH or twilio"):
        sms_from_environment({BACKEND_ENV: "smtp"})


def test_the_file_backend_path_may_be_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sms_from_environment({BACKEND_ENV: "file:out.jsonl"}).send(PHONE, TEXT)
    assert _lines(tmp_path / "out.jsonl")[0]["to"] == PHONE
    assert os.path.exists("out.jsonl")
