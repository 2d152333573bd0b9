"""Bad text and unknown currencies are 400s with specific codes, and change nothing
(issue 15, defects 2 and 3: both were 500s, a NUL on PostgreSQL only)."""

from __future__ import annotations

import pytest

from guardpay.api.text_guard import refused_in_json, refused_in_query, where_in_json
from tests.api.api_fixtures import PIN, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_payments_api import World
from tests.api.test_payments_api import world as world


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (rb'{"a": "x\u0000y"}', True),
        (rb'{"a": "\u001F"}', True),
        (rb'{"a": "\u007f"}', True),
        (rb'{"a": "\\u0000"}', False),  # an escaped backslash, then the text "u0000"
        (rb'{"a": "\\\u0000"}', True),  # a backslash, then a NUL
        (rb'{"a": "line\nbreak\ttab\r"}', False),
        (rb'{"a": "\u0009\u000A\u000d"}', False),
        (rb'{"a": "\u00e9\u4e2d"}', False),
        (b'{"a": "plain"}', False),
    ],
)
def test_json_bodies(body: bytes, refused: bool) -> None:
    assert refused_in_json(body) is refused


def test_the_parameter_is_named() -> None:
    assert where_in_json(rb'{"a": {"b": ["ok", "x\u0001"]}}') == "a.b.1"
    assert where_in_json(rb'{"x\u0000": 1}') == "<key>"
    assert where_in_json(rb'"\u0000"') is None  # a bare string: no parameter to name
    assert where_in_json(b"not json") is None


@pytest.mark.parametrize(
    ("query", "refused"),
    [(b"cursor=%00", True), (b"a=%1b", True), (b"q=caf%C3%A9+x", False), (b"a=%0A", False)],
)
def test_query_strings(query: bytes, refused: bool) -> None:
    assert refused_in_query(query) is refused


def test_a_nul_anywhere_is_a_400_that_changes_nothing(world: World) -> None:
    api, alice, _, merchant = world
    before = api.snapshot()
    body = {
        "merchant_id": merchant.id,
        "amount": 100,
        "payment_password": PIN,
        "description": "x\u0000y",
    }
    error = error_of(api.post("/v1/escrow", body, alice.token), 400, "invalid_characters")
    assert error["param"] == "description"
    error_of(api.get("/v1/me/payments?cursor=%00", alice.token), 400, "invalid_characters")
    answer = {"method": "device", "signature": "x", "signer_device_id": "\u0000"}
    r = api.post("/v1/step-ups/chl_x/complete", answer)
    assert error_of(r, 400, "invalid_characters")["param"] == "signer_device_id"
    assert api.changed(before) == set()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/transfers", {"payee": "0", "amount": 1}),
        ("/v1/payments/qr", {"payload": "x", "amount": 1}),
        ("/v1/escrow", {"merchant_id": "mer_x", "amount": 1}),
        ("/v1/red-packets", {"amount": 2, "shares": 1}),
        ("/v1/me/top-ups", {"card_id": "crd_x", "amount": 1}),
        ("/v1/me/withdrawals", {"card_id": "crd_x", "amount": 1}),
    ],
)
def test_an_unknown_currency_is_a_400(world: World, path: str, body: dict[str, object]) -> None:
    api, alice, _, _ = world
    before = api.snapshot()
    sent = {**body, "currency": "AAA", "payment_password": PIN}
    error = error_of(api.post(path, sent, alice.token), 400, "currency_unknown")
    assert error["param"] == "currency"
    assert "AAA" in error["message"]
    assert api.changed(before) <= {"audit_log", "audit_head", "auth_credentials"}
