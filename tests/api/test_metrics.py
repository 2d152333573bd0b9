"""/metrics: Prometheus text with requests by route template and status, and the outbox
backlog, only for the bearer of GUARDPAY_METRICS_TOKEN; plus the webhook endpoint API
(registered by an analyst, secret shown once)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from guardpay.api.app import create_app
from guardpay.api.metrics import METRICS_TOKEN_ENV
from guardpay.security.keys import Keyring
from guardpay.services.auth import operators
from guardpay.services.identity.facade import register_merchant
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.services.webhooks import events as webhooks
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work
from tests.api.api_fixtures import Api, bearer, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.domain.identity.numbers import uscc

SECRET = "Console-pass-7"
TOKEN = "scrape-token-4b1d9e"


@pytest.fixture(autouse=True)
def _metrics_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The `api` fixture's app reads the scrape token from the environment."""
    monkeypatch.setenv(METRICS_TOKEN_ENV, TOKEN)


def _samples(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = api.client.get("/metrics", headers=bearer(TOKEN))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def _merchant(api: Api, analyst: bool = True) -> tuple[str, str]:
    """A merchant and an operator's session token."""
    with unit_of_work(api.db) as uow:
        ctx = Context(uow, api.keyring, SYSTEM, api.clock)
        operators.create_operator(ctx, "ana", "analyst" if analyst else "viewer", SECRET)
        merchant = register_merchant(
            ctx,
            legal_name="上海美食城电子商务有限公司",
            display_name="FoodMall",
            mcc="5411",
            registration_number=uscc("91310115MA1H7XYR0"),
            settlement_account_id=None,
        )
    r = api.post("/v1/operator/sessions", {"name": "ana", "password": SECRET})
    return merchant.id, str(r.json()["token"])


def test_requests_are_counted_by_route_template_and_status(api: Api) -> None:
    api.get("/healthz")
    api.get("/healthz")
    api.get("/v1/merchants/mer_one")  # 401, an id in the path
    api.get("/nowhere")
    samples = _samples(api)
    count = "guardpay_http_requests_total"
    assert samples[(count, (("method", "GET"), ("route", "/healthz"), ("status", "200")))] == 2
    route = (("method", "GET"), ("route", "/v1/merchants/{merchant_id}"), ("status", "401"))
    assert samples[(count, route)] == 1
    assert samples[(count, (("method", "GET"), ("route", "<unmatched>"), ("status", "404")))] == 1
    assert not any("mer_one" in str(labels) for _, labels in samples)
    buckets = [k for k in samples if k[0] == "guardpay_http_request_duration_seconds_count"]
    assert buckets


def test_the_outbox_backlog_is_a_gauge(api: Api) -> None:
    merchant_id, _ = _merchant(api)
    assert _samples(api)[("guardpay_webhook_outbox_undelivered", ())] == 0
    with unit_of_work(api.db) as uow:
        ctx = Context(uow, api.keyring, SYSTEM, api.clock)
        for n in range(3):
            webhooks.enqueue(ctx, merchant_id, "payment.succeeded", {"n": n})
    assert _samples(api)[("guardpay_webhook_outbox_undelivered", ())] == 3


def test_an_analyst_registers_a_webhook_endpoint(api: Api) -> None:
    merchant_id, token = _merchant(api)
    path = f"/v1/merchants/{merchant_id}/webhook-endpoint"
    error_of(api.get(path, token), 404, "resource_missing")
    url = "https://shop.example/hooks"
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "wh-1"}
    r = api.client.post(path, json={"url": url}, headers=headers)
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    assert secret.startswith("whsec_")
    again = api.client.post(path, json={"url": url}, headers=headers)  # never replayed
    assert again.json()["secret"] != secret
    assert secret not in str(api.snapshot())  # neither in the clear nor in idempotency
    assert api.get(path, token).json() == {"merchant_id": merchant_id, "url": url}
    error_of(api.post(path, {"url": "nope"}, token), 400, "webhook_url_invalid")


def test_a_viewer_cannot_register_one(api: Api) -> None:
    merchant_id, token = _merchant(api, analyst=False)
    path = f"/v1/merchants/{merchant_id}/webhook-endpoint"
    error_of(api.post(path, {"url": "https://x.example"}, token), 403, "insufficient_role")


def test_risk_decisions_and_the_degraded_alert_are_exported(api: Api) -> None:
    engine = api.client.app.state.risk
    before = _samples(api)
    assert before[("guardpay_risk_model_degraded", ())] == 0
    assert before[("guardpay_risk_decisions_total", (("action", "deny"),))] == 0
    engine.counts["deny"] += 2
    engine.state_failed = True  # what a feature store that stopped answering sets
    after = _samples(api)
    assert after[("guardpay_risk_decisions_total", (("action", "deny"),))] == 2
    assert after[("guardpay_risk_model_degraded", ())] == 1


def test_an_idempotent_replay_is_counted_under_its_route(api: Api) -> None:
    """A replay is answered before routing; it still counts under the route's template
    (an id in the path included), never as `<unmatched>`."""
    body = {"phone": "13900002222", "password": "Jade7-Heron-cove"}
    for _ in range(2):
        r = api.client.post("/v1/users", json=body, headers={"Idempotency-Key": "m-1"})
        assert r.status_code == 201
    headers = {"Idempotency-Key": "m-2"}
    for _ in range(2):
        assert api.client.post("/v1/escrow/esc_x/ship", headers=headers).status_code == 401
    samples = _samples(api)
    count = "guardpay_http_requests_total"
    assert samples[(count, (("method", "POST"), ("route", "/v1/users"), ("status", "201")))] == 2
    ship = (("method", "POST"), ("route", "/v1/escrow/{escrow_id}/ship"), ("status", "401"))
    assert samples[(count, ship)] == 2
    assert not any(dict(labels).get("route") == "<unmatched>" for _, labels in samples)


@pytest.fixture
def bare(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """A database, and no token in the environment."""
    monkeypatch.delenv(METRICS_TOKEN_ENV)
    return db


def _client(db: Database, token: str | None = None) -> TestClient:
    return TestClient(create_app(db, keyring=Keyring.generate(), metrics_token=token))


def test_without_a_configured_token_metrics_are_refused_and_say_how(bare: Database) -> None:
    client = _client(bare)
    for headers in ({}, bearer(TOKEN), bearer("")):
        error = error_of(client.get("/metrics", headers=headers), 403, "metrics_unconfigured")
        assert METRICS_TOKEN_ENV in error["message"]


def test_a_missing_or_wrong_token_is_401(bare: Database) -> None:
    client = _client(bare, TOKEN)
    wrong = [
        {},
        bearer("guess"),
        bearer(TOKEN + "x"),
        bearer(TOKEN[:-1]),
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ]
    for headers in wrong:
        r = client.get("/metrics", headers=headers)
        error_of(r, 401, "metrics_token_invalid")
        assert r.headers["www-authenticate"] == "Bearer"
        assert "guardpay_http_requests" not in r.text


def test_the_right_token_gets_the_metrics(bare: Database) -> None:
    client = _client(bare, TOKEN)
    for scheme in ("Bearer", "bearer"):
        r = client.get("/metrics", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/plain")
        names = {f.name for f in text_string_to_metric_families(r.text)}
        assert {"guardpay_http_requests", "guardpay_webhook_outbox_undelivered"} <= names


def test_the_token_defaults_to_the_environment(
    bare: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(METRICS_TOKEN_ENV, TOKEN)
    client = _client(bare)
    assert client.get("/metrics", headers=bearer(TOKEN)).status_code == 200
    error_of(client.get("/metrics"), 401, "metrics_token_invalid")


def test_payment_batches_are_counted(api: Api) -> None:
    """Each payment request runs in a micro-batch (api/batching.py): the batches, the
    requests they took and the largest are exported, from zero before any payment."""
    before = _samples(api)
    assert before[("guardpay_payment_batches_total", ())] == 0
    assert before[("guardpay_payment_batch_largest", ())] == 0
    for _ in range(2):  # refused (no such session), but each went through a batch
        r = api.post("/v1/transfers", {"payee": "usr_x", "amount": 1}, "not-a-session")
        assert r.status_code == 401
    after = _samples(api)
    assert after[("guardpay_payment_batches_total", ())] == 2
    assert after[("guardpay_payment_batched_requests_total", ())] == 2
    assert after[("guardpay_payment_batch_largest", ())] == 1
