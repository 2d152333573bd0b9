"""`guardpay demo --no-serve --json`: every available flow reaches its final state
through the real services, and the ledger, the reserve and the audit chain all verify,
run after run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guardpay import observability
from guardpay.adapters.sms import ConsoleSms
from guardpay.cli.demo import is_demo_database
from guardpay.cli.demo_risk import ANALYST_NAME, ANALYST_SECRET
from guardpay.cli.demo_world import LOGIN_PASSWORD, PEOPLE
from tests.cli.test_cli import invoke, json_out

FLOWS = {
    "p2p",
    "qr_static",
    "qr_dynamic",
    "payment_code",
    "escrow",
    "refund",
    "red_packet",
    "topup",
    "withdrawal",
    "risk",
}  # the nine, and risk control
EXPECTED = {
    "topup": "succeeded",
    "p2p": "succeeded",
    "qr_static": "succeeded",
    "qr_dynamic": "succeeded",
    "payment_code": "succeeded",
    "withdrawal": "succeeded",
    "risk": "succeeded",  # the held transfer, released by the analyst
    "refund": "partially_refunded",  # a partial refund, shown as such
    "red_packet": "empty",  # every share claimed
    "escrow": "released",  # paid, shipped, confirmed
}


def test_demo_json_reports_every_flow_and_the_three_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUARDPAY_MASTER_KEYS", raising=False)
    for _ in range(2):  # a second run rebuilds the world from a fresh database
        result = invoke("demo", "--no-serve", "--json")
        assert result.exit_code == 0, result.output
        report = json_out(result)
        assert set(report) == {"flows", "ledger_verified", "reserve_reconciled", "audit_verified"}
        assert set(report["flows"]) == FLOWS
        assert report["flows"] == EXPECTED
        assert report["ledger_verified"] is True
        assert report["reserve_reconciled"] is True
        assert report["audit_verified"] is True
    assert (tmp_path / "guardpay-data" / "demo.db").is_file()


# -- the served demo: its port, its logins, its SMS backend, its database --------------------
def test_demo_serves_on_the_port_given_with_both_logins_and_the_console_sms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GUARDPAY_MASTER_KEYS", raising=False)
    monkeypatch.delenv("GUARDPAY_DATABASE_URL", raising=False)
    served: list[tuple[FastAPI, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.append((app, options)))
    result = invoke("demo", "--port", "8123")
    assert result.exit_code == 0, result.output
    [(app, options)] = served
    assert (options["host"], options["port"]) == ("127.0.0.1", 8123)
    said = " ".join(result.stdout.split())
    assert "http://127.0.0.1:8123" in said
    assert f"phone {PEOPLE[0].phone}, password {LOGIN_PASSWORD}" in said
    assert f"name {ANALYST_NAME}, password {ANALYST_SECRET}" in said
    assert "console backend" in said
    assert isinstance(app.state.sms, ConsoleSms)

    observability.configure_named()  # not to the CLI runner's closed stderr
    client = TestClient(app)
    analyst = client.post(
        "/v1/operator/sessions", json={"name": ANALYST_NAME, "password": ANALYST_SECRET}
    )
    assert analyst.status_code == 201, analyst.text
    login = client.post("/v1/sessions", json={"phone": PEOPLE[0].phone, "password": LOGIN_PASSWORD})
    assert login.status_code == 401, login.text  # a new device: a step-up by SMS
    challenge = login.json()["error"]["step_up"]["challenge_id"]
    capsys.readouterr()
    assert client.post(f"/v1/step-ups/{challenge}/sms").status_code == 200
    printed = capsys.readouterr().out  # the code, printed, marked as not sent
    assert printed.startswith(ConsoleSms.MARK)
    assert "verification code is" in printed
    scrape = re.search(r"Authorization: Bearer (\S+)' http://127.0.0.1:8123/metrics", said)
    assert scrape is not None, said  # the demo's own scrape token, printed with its curl
    assert client.get("/metrics").status_code == 401
    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {scrape.group(1)}"})
    assert scraped.status_code == 200


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_demo_refuses_a_port_that_is_not_one(port: str) -> None:
    result = invoke("demo", "--no-serve", "--port", port)
    assert result.exit_code == 2
    assert "--port" in result.output


@pytest.mark.parametrize("how", ["option", "environment"])
def test_demo_refuses_another_database_and_leaves_it_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.chdir(tmp_path)
    other = "postgresql://guardpay:hunter2-secret@db.example/prod"
    if how == "option":
        result = invoke("--database-url", other, "demo", "--no-serve")
    else:
        monkeypatch.setenv("GUARDPAY_DATABASE_URL", other)
        result = invoke("demo", "--no-serve")
    assert result.exit_code == 2
    said = " ".join(result.stderr.split())
    assert "guardpay-data/demo.db" in said
    assert "GUARDPAY_DATABASE_URL" in said
    assert "hunter2" not in said  # a URL's password is never repeated
    assert not (tmp_path / "guardpay-data" / "demo.db").exists()


def test_demo_accepts_its_own_database_however_spelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    own = tmp_path / "guardpay-data" / "demo.db"
    for url in (
        "sqlite:///guardpay-data/demo.db",
        f"sqlite:///{own}",
        f"sqlite+pysqlite:///{own}",
        "sqlite:///./guardpay-data/../guardpay-data/demo.db",
    ):
        assert is_demo_database(url), url
    for url in (
        "sqlite:///guardpay-data/guardpay.db",
        "sqlite:///:memory:",
        "sqlite://",
        f"sqlite:///{own}?mode=ro",
        "postgresql://localhost/demo.db",
    ):
        assert not is_demo_database(url), url
