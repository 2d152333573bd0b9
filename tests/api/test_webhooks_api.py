"""The webhook endpoint API refuses internal destinations, on both backends: a merchant's
own signed call cannot point the platform's delivery worker at the cloud metadata
service, loopback or a private range (400 `webhook_url_not_public`, nothing kept)."""

from __future__ import annotations

import pytest

from guardpay.services.webhooks.targets import ALLOW_PRIVATE_ENV
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.api_fixtures import error_of
from tests.api.merchant_signer import enrol
from tests.api.test_payments_api import World
from tests.api.test_payments_api import world as world


@pytest.fixture(autouse=True)
def no_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://127.0.0.1:8000/v1/bank/callbacks",
        "http://10.0.0.5/admin",
        "http://[::1]:8000/",
        "http://localhost:8000/",
    ],
)
def test_a_merchant_cannot_point_webhooks_at_internal_addresses(world: World, url: str) -> None:
    api, _, _, shop = world
    signer = enrol(api, shop.id, shop.token)
    path = f"/v1/merchants/{shop.id}/webhook-endpoint"
    error = error_of(signer.post(path, {"url": url}), 400, "webhook_url_not_public")
    assert error["param"] == "url"
    error_of(api.get(path, shop.token), 404, "resource_missing")
    assert api.audit("webhook.endpoint_registered") == []


def test_a_public_address_is_accepted(world: World) -> None:
    api, _, _, shop = world
    signer = enrol(api, shop.id, shop.token)
    path = f"/v1/merchants/{shop.id}/webhook-endpoint"
    r = signer.post(path, {"url": "https://93.184.216.34/hooks"})
    assert r.status_code == 201, r.text
    assert api.get(path, shop.token).json()["url"] == "https://93.184.216.34/hooks"
