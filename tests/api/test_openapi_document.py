"""What the OpenAPI document declares, beyond what the conformance run can see: every
operation that keeps Idempotency-Keys declares the header (so /docs can send it), the
payment endpoints declare Payment-Signature, the 401 body describes `error.step_up`
(and real 401 bodies match it), no operation documents FastAPI's 422 (a malformed
request is 400), and public operations say they need no session."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from guardpay.api import idempotency
from tests.api.api_fixtures import Api, PhoneApp, bearer, error_of
from tests.api.api_fixtures import api_fixture as api_fixture

#: the operations a session's trusted device may sign (api/deps.py `_payment_signature`)
SIGNED = {
    ("post", "/v1/transfers"),
    ("post", "/v1/payments/qr"),
    ("post", "/v1/payments/{payment_id}/confirm"),
    ("post", "/v1/me/payment-codes"),
    ("post", "/v1/red-packets"),
    ("post", "/v1/escrow"),
}
#: operations anyone may call
PUBLIC = {
    ("post", "/v1/users"),
    ("post", "/v1/sessions"),
    ("post", "/v1/operator/sessions"),
    ("post", "/v1/step-ups/{challenge_id}/sms"),
    ("post", "/v1/step-ups/{challenge_id}/complete"),
    ("get", "/v1/merchants/{merchant_id}/qr.{kind}"),
    ("get", "/v1/orders/{order_id}/qr.{kind}"),
    ("post", "/v1/bank/callbacks"),
}


@pytest.fixture(name="spec")
def spec_fixture(api: Api) -> dict[str, Any]:
    r = api.get("/openapi.json")
    assert r.status_code == 200
    return dict(r.json())


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): op for path, item in spec["paths"].items() for method, op in item.items()
    }


def _header(operation: dict[str, Any], name: str) -> dict[str, Any] | None:
    found = [
        p
        for p in operation.get("parameters", [])
        if p["in"] == "header" and p["name"].lower() == name.lower()
    ]
    assert len(found) <= 1, found
    return found[0] if found else None


def test_every_keyed_post_declares_the_idempotency_key(spec: dict[str, Any]) -> None:
    keyed = {
        (m, p)
        for m, p in _operations(spec)
        if m == "post" and idempotency.applies({"method": "POST", "path": p})
    }
    assert len(keyed) > 40
    assert {("post", "/v1/transfers"), ("post", "/v1/users")} <= keyed
    for (method, path), operation in _operations(spec).items():
        declared = _header(operation, idempotency.HEADER)
        if (method, path) in keyed:
            assert declared is not None, path
            assert declared["required"] is False
            assert declared["schema"]["type"] == "string"
            assert declared["schema"]["maxLength"] == idempotency.KEY_MAX
            assert "Idempotent-Replayed" in declared["description"]
            assert {"400", "409"} <= set(operation["responses"]), path
            for status, response in operation["responses"].items():
                if idempotency.storable_status(int(status)):
                    assert "Idempotent-Replayed" in response["headers"], (path, status)
        elif (method, path) not in SIGNED:  # a payment code takes one as its nonce only
            assert declared is None, (method, path)


def test_the_payment_endpoints_declare_payment_signature(spec: dict[str, Any]) -> None:
    signing = {
        op
        for op, operation in _operations(spec).items()
        if _header(operation, "Payment-Signature") is not None
    }
    assert signing == SIGNED
    for op in SIGNED:
        operation = _operations(spec)[op]
        signature = _header(operation, "Payment-Signature")
        assert signature is not None
        assert signature["required"] is False
        assert signature["schema"]["type"] == "string"  # a header is never null
        assert "t=" in signature["schema"]["pattern"]
        assert _header(operation, idempotency.HEADER) is not None  # its nonce


def test_the_401_body_describes_step_up(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    login_401 = spec["paths"]["/v1/sessions"]["post"]["responses"]["401"]
    ref = login_401["content"]["application/json"]["schema"]["$ref"]
    out = schemas[ref.rsplit("/", 1)[1]]
    detail = schemas[out["properties"]["error"]["$ref"].rsplit("/", 1)[1]]
    assert "step_up" in detail["properties"]
    assert "step_up" not in detail["required"]  # only with step_up_required
    assert detail["then"] == {"required": ["step_up"]}
    step_up = schemas["StepUp"]
    assert set(step_up["properties"]) == {"challenge_id", "methods"}
    assert login_401["headers"]["WWW-Authenticate"]["required"] is True
    for operation in _operations(spec).values():  # every 401 is described the same way
        if "401" in operation["responses"]:
            assert operation["responses"]["401"]["content"] == login_401["content"]


def _validator(spec: dict[str, Any], response: dict[str, Any]) -> Any:
    schema = response["content"]["application/json"]["schema"]
    return jsonschema_rs.Draft202012Validator({**schema, "components": spec["components"]})


def test_real_401_bodies_match_the_document(api: Api, spec: dict[str, Any]) -> None:
    validator = _validator(spec, spec["paths"]["/v1/sessions"]["post"]["responses"]["401"])
    api.register()
    wrong = api.post("/v1/sessions", {"phone": "13812345678", "password": "not-it-at-all"})
    error_of(wrong, 401, "invalid_credentials")
    assert "step_up" not in wrong.json()["error"]
    step_up = api.login(PhoneApp())  # a device never seen: a step-up
    error_of(step_up, 401, "step_up_required")
    for r in (wrong, step_up):
        assert validator.is_valid(r.json()), r.text
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    without = step_up.json()
    del without["error"]["step_up"]
    assert not validator.is_valid(without)  # step_up_required must carry it


def test_no_operation_documents_422_and_every_v1_operation_its_common_errors(
    spec: dict[str, Any],
) -> None:
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for (method, path), operation in _operations(spec).items():
        statuses = set(operation["responses"])
        assert "422" not in statuses, (method, path)
        if not path.startswith("/v1/"):
            continue
        assert {"400", "503"} <= statuses, (method, path)
        if (method, path) in PUBLIC:
            assert "security" not in operation, (method, path)
        else:
            assert operation.get("security") == [{"session": []}], (method, path)
            assert {"401", "403"} <= statuses, (method, path)
        for parameter in operation.get("parameters", []):
            assert "anyOf" not in parameter["schema"], (path, parameter)  # never null


def test_a_replayed_401_still_says_www_authenticate(api: Api) -> None:
    """Found by the conformance run: a replay sent the stored body without the header
    RFC 9110 requires on a 401 (only the body and its type are kept)."""
    token = api.verified_user()
    for headers, code, challenge in (
        ({}, "authentication_required", "Bearer"),
        (bearer(token), "step_up_required", 'Bearer error="insufficient_user_authentication"'),
    ):
        body = {"amount": 1_00, "shares": 1}
        sent = {**headers, "Idempotency-Key": f"k-{code}"}
        first = api.client.post("/v1/red-packets", json=body, headers=sent)
        again = api.client.post("/v1/red-packets", json=body, headers=sent)
        error_of(first, 401, code)
        error_of(again, 401, code)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert first.headers["WWW-Authenticate"] == challenge
        assert again.headers["WWW-Authenticate"] == challenge
