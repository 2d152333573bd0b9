"""A fresh deployment, end to end, through the real processes: `guardpay db upgrade`,
`guardpay operators create` (the first admin), then `guardpay serve` as a subprocess
with the file SMS backend, driven over HTTP like a phone app and the console: two users
register, log in from a new phone (the SMS step-up answered with the code read from the
file), verify their real names, one binds a card, tops up through the (in-process fake)
bank, sets a payment password and pays the other; the admin logs in and looks a user up.
Then SIGTERM: the server exits cleanly within seconds. No one-time code or password
reaches the server's log lines. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from guardpay.security.keys import Keyring
from tests.api.api_fixtures import PhoneApp
from tests.domain.identity.numbers import card, resident_id

pytestmark = pytest.mark.slow

ADMIN_SECRET = "Console-pass-7-harbour"
PASSWORD = "Jade7-Heron-cove"
PIN = "730194"
ALICE, BOB = "13812345678", "13900139000"
TOP_UP, PAID = 300_00, 12_34


@dataclass
class Server:
    base: str
    proc: subprocess.Popen[bytes]
    sms_file: Path
    log_files: tuple[Path, Path]

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.log_files)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _guardpay(env: dict[str, str], cwd: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "guardpay", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDPAY_")}
    sms_file = tmp_path / "sms.jsonl"
    env.update(
        {
            "GUARDPAY_DATABASE_URL": database_url,
            "GUARDPAY_MASTER_KEYS": Keyring.generate().to_config(),
            "GUARDPAY_SMS_BACKEND": f"file:{sms_file}",
            "GUARDPAY_LOG_LEVEL": "info",  # a line per request and audited action: all checked
            "GUARDPAY_LOG_FORMAT": "json",
        }
    )
    cli_said = _guardpay(env, tmp_path, "db", "upgrade")
    cli_said += _guardpay(
        env,
        tmp_path,
        "operators",
        "create",
        "admin",
        "--role",
        "admin",
        "--password-stdin",
        stdin=ADMIN_SECRET + "\n",
    )
    assert ADMIN_SECRET not in cli_said
    port = _free_port()
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "guardpay", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
        )
    running = Server(f"http://127.0.0.1:{port}", proc, sms_file, (out, err))
    try:
        _wait_healthy(running)
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"guardpay serve exited with {server.proc.returncode}:\n{server.logs()}")
        try:
            if httpx.get(server.base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"guardpay serve did not become healthy:\n{server.logs()}")


class Phone:
    """One user's phone app talking to the server."""

    def __init__(self, server: Server, client: httpx.Client, phone: str) -> None:
        self.server, self.http, self.phone = server, client, phone
        self.app = PhoneApp()
        self.token = ""

    def post(
        self, path: str, body: dict[str, Any] | None = None, expect: int | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        r = self.http.post(path, json=body, headers=headers)
        if expect is not None:
            assert r.status_code == expect, r.text
        return r

    def get(self, path: str) -> Any:
        r = self.http.get(path, headers={"Authorization": f"Bearer {self.token}"})
        assert r.status_code == 200, r.text
        return r.json()

    def texted_code(self, challenge: str) -> str:
        """Have the code texted, and read it where the file backend put it."""
        self.post(f"/v1/step-ups/{challenge}/sms", expect=200)
        lines = [json.loads(x) for x in self.server.sms_file.read_text().splitlines()]
        mine = [x for x in lines if x["to"] == "+86" + self.phone]
        found = re.search(r"\b(\d{6})\b", mine[-1]["text"])
        assert found is not None
        return found.group(1)

    def sign_up(self, id_number: str) -> str:
        r = self.post("/v1/users", {"phone": self.phone, "password": PASSWORD}, expect=201)
        proof = self.app.proof(datetime.now(UTC))
        login = {"phone": self.phone, "password": PASSWORD, "device": proof}
        r = self.post("/v1/sessions", login, expect=401)  # a new phone: a step-up by SMS
        challenge = r.json()["error"]["step_up"]["challenge_id"]
        answer = {"method": "sms", "code": self.texted_code(challenge)}
        self.token = self.post(f"/v1/step-ups/{challenge}/complete", answer, 201).json()["token"]
        named = {"name": "张三", "document_type": "resident_id", "document_number": id_number}
        self.post("/v1/me/verification", named, expect=200)
        self.post("/v1/me/payment-password", {"payment_password": PIN}, expect=200)
        return str(self.get("/v1/me")["id"])

    def authorised(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """With the payment password; a step-up risk control asks for is passed by SMS and
        the request made again with it, as the app does."""
        r = self.post(path, {**body, "payment_password": PIN})
        if r.status_code == 401 and r.json()["error"]["code"] == "step_up_required":
            challenge = r.json()["error"]["step_up"]["challenge_id"]
            answer = {"method": "sms", "code": self.texted_code(challenge)}
            self.post(f"/v1/me/step-ups/{challenge}/pass", answer, expect=200)
            r = self.post(
                path, {**body, "payment_password": PIN, "step_up_challenge_id": challenge}
            )
        return r

    def top_up(self, card_id: str, amount: int) -> dict[str, Any]:
        """Until the bank says yes (the served fake bank now and then says no)."""
        for _ in range(4):
            r = self.authorised("/v1/me/top-ups", {"card_id": card_id, "amount": amount})
            assert r.status_code == 201, r.text
            funding = r.json()
            deadline = time.monotonic() + 20
            while funding["status"] == "processing" and time.monotonic() < deadline:
                time.sleep(0.1)
                funding = self.get(f"/v1/me/fundings/{funding['id']}")
            if funding["status"] == "succeeded":
                return dict(funding)
            assert funding["status"] == "failed", funding
        pytest.fail("four top-ups failed in a row")

    def wallet(self) -> dict[str, Any]:
        [cny] = self.get("/v1/me/wallets")["data"]
        return dict(cny)


def test_a_fresh_server_serves_a_real_team(server: Server) -> None:
    with httpx.Client(base_url=server.base, timeout=15) as http:
        alice, bob = Phone(server, http, ALICE), Phone(server, http, BOB)
        alice.sign_up(resident_id("310104", "19900307", "123"))
        bob_id = bob.sign_up(resident_id("110105", "19851111", "456"))

        pan = card("622202", 19)
        bound = alice.post("/v1/me/cards", {"card_number": pan, "reserved_phone": ALICE}, 201)
        alice.top_up(bound.json()["id"], TOP_UP)
        assert alice.wallet()["available"] == TOP_UP

        paid = alice.authorised("/v1/transfers", {"payee": BOB, "amount": PAID})
        assert paid.status_code == 201, paid.text
        assert (paid.json()["status"], paid.json()["amount"]) == ("succeeded", PAID)
        assert (alice.wallet()["balance"], alice.wallet()["available"]) == (TOP_UP - PAID,) * 2
        assert (bob.wallet()["balance"], bob.wallet()["available"]) == (PAID, PAID)

        console = http.post(
            "/v1/operator/sessions", json={"name": "admin", "password": ADMIN_SECRET}
        )
        assert console.status_code == 201, console.text
        admin = {"Authorization": f"Bearer {console.json()['token']}"}
        looked_up = http.get(f"/v1/operator/users/{bob_id}", headers=admin)
        assert looked_up.status_code == 200, looked_up.text
        assert BOB not in looked_up.text  # masked for the console

    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so a supervisor sees it
    assert server.proc.wait(timeout=15) in (0, -signal.SIGTERM), server.logs()
    assert time.monotonic() - started < 10

    assert stat.S_IMODE(server.sms_file.stat().st_mode) == 0o600
    sent = [json.loads(x) for x in server.sms_file.read_text().splitlines()]
    codes = {m.group(1) for x in sent for m in [re.search(r"\b(\d{6})\b", x["text"])] if m}
    assert len(codes) >= 2  # one step-up per login, at least
    logs = server.logs()
    lines = [json.loads(x) for x in logs.splitlines() if x.startswith("{")]
    assert any(x.get("event") == "http_request" for x in lines)  # logging was on
    for secret in (*codes, PIN):  # as a word: not inside a timestamp's microseconds
        assert not re.search(rf"\b{secret}\b", logs), "a code reached the server's log"
    for secret in (PASSWORD, ADMIN_SECRET, pan):
        assert secret not in logs
    assert "Traceback" not in logs
    assert "Application shutdown complete" in logs
    assert "sms_console_backend" not in logs  # a backend was configured
