"""Registration, login with step-up, sessions, devices, TOTP and the payment password
over HTTP, on both backends.

Besides the happy paths, each refusal is checked for its status, its code and what it
left in the database: nothing at all, or (for the failures that keep their bookkeeping,
`UnitOfWork.keep`) only the counters, challenge and audit entry, which must survive the error
response or lockout could be bypassed by failing the request.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guardpay.api import errors
from guardpay.errors import RateLimited
from tests.api.api_fixtures import (
    BOOKKEEPING,
    PASSWORD,
    PHONE,
    PIN,
    Api,
    PhoneApp,
    api_fixture,  # noqa: F401
    bearer,
    error_of,
)


def test_register_shows_the_user_masked(api: Api) -> None:
    r = api.post(
        "/v1/users", {"phone": "+86 138 1234 5678", "password": PASSWORD, "display_name": "小张"}
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert (user["phone"], user["display_name"]) == ("138****5678", "小*")
    assert (user["account_class"], user["can_pay"], user["status"]) == (
        "unverified",
        False,
        "active",
    )
    assert r.headers["cache-control"] == "no-store"
    assert PHONE not in r.text
    assert PASSWORD not in str(api.snapshot())


def test_registration_rejections_change_nothing(api: Api) -> None:
    api.register()
    before = api.snapshot()
    cases = [
        ({"phone": "13900139000", "password": "password1"}, 400, "weak_password", "password"),
        ({"phone": "13900139000", "password": "Pw#13900139000"}, 400, "weak_password", "password"),
        ({"phone": "12800138000", "password": PASSWORD}, 400, "invalid_phone_number", "phone"),
        ({"phone": "138-1234-5678", "password": PASSWORD}, 409, "phone_taken", "phone"),
        ({"phone": "13900139000"}, 400, "parameter_invalid", "password"),
        ({"phone": "13900139000", "password": "Aa1-" * 100}, 400, "parameter_invalid", "password"),
    ]
    for body, status, code, param in cases:
        error = error_of(api.post("/v1/users", body), status, code)
        if param is not None:
            assert error["param"] == param
        assert api.changed(before) == set(), code


def test_a_new_device_steps_up_by_sms_and_is_trusted_after(api: Api) -> None:
    api.register()
    phone = PhoneApp()
    r = api.login(phone)
    error = error_of(r, 401, "step_up_required")
    assert error["type"] == "authentication_error"
    assert error["step_up"]["methods"] == ["sms"]
    assert r.headers["www-authenticate"] == 'Bearer error="insufficient_user_authentication"'
    challenge = error["step_up"]["challenge_id"]
    sent = api.post(f"/v1/step-ups/{challenge}/sms")
    assert sent.json() == {"sent_to": "138****5678"}
    code = api.sms.last_code("+8613812345678")
    done = api.post(f"/v1/step-ups/{challenge}/complete", {"method": "sms", "code": code})
    assert done.status_code == 201, done.text
    issued = done.json()
    assert (issued["token_type"], issued["session"]["kind"]) == ("bearer", "user")
    assert issued["session"]["device_id"].startswith("dev_")
    me = api.get("/v1/me", issued["token"])
    assert (me.status_code, me.json()["phone"]) == (200, "138****5678")
    again = api.login(phone)  # the same phone, a fresh proof: no step-up
    assert again.status_code == 201, again.text
    assert again.json()["token"] != issued["token"]
    error_of(
        api.post(f"/v1/step-ups/{challenge}/complete", {"method": "sms", "code": code}),
        401,
        "challenge_used",
    )


def test_wrong_step_up_answers_are_kept_until_the_challenge_dies(api: Api) -> None:
    api.register()
    challenge = error_of(api.login(PhoneApp()), 401, "step_up_required")["step_up"]
    code = api.sms_code(challenge["challenge_id"])
    answer = f"/v1/step-ups/{challenge['challenge_id']}/complete"
    wrong = "000000" if code != "000000" else "111111"
    for attempt in range(1, 6):
        before = api.snapshot()
        expected = "challenge_failed" if attempt == 5 else "invalid_code"
        error_of(api.post(answer, {"method": "sms", "code": wrong}), 401, expected)
        assert api.changed(before) <= BOOKKEEPING
    error_of(api.post(answer, {"method": "sms", "code": code}), 401, "challenge_failed")
    assert len(api.audit("auth.step_up_failed")) == 6
    assert api.audit("auth.login") == []
    error_of(
        api.post("/v1/step-ups/chl_0123/complete", {"method": "sms", "code": code}),
        401,
        "challenge_invalid",
    )


def test_failed_logins_are_counted_then_refused(api: Api) -> None:
    api.register()
    for _ in range(5):
        before = api.snapshot()
        error = error_of(api.login(None, password="Wrong-pass-99"), 401, "invalid_credentials")
        assert api.changed(before) == {"auth_failures", "audit_log", "audit_head"}
    assert error["type"] == "authentication_error"
    unknown = error_of(api.login(None, phone="13900139000"), 401, "invalid_credentials")
    assert unknown["message"] == error["message"]  # who is registered stays unknown
    limited = api.login(PhoneApp())
    error_of(limited, 429, "too_many_attempts")  # even the right password
    assert limited.headers["retry-after"] == "900"  # the 15-minute window
    assert len(api.audit("auth.login_failed")) == 7


def test_a_trusted_device_signs_a_new_devices_challenge(api: Api) -> None:
    api.register()
    old = PhoneApp("old phone")
    token = api.sign_in(old)
    device_id = api.get("/v1/sessions", token).json()["data"][0]["device_id"]
    step_up = error_of(api.login(PhoneApp("new phone")), 401, "step_up_required")["step_up"]
    assert step_up["methods"] == ["device_signature", "sms"]
    [pending] = api.get("/v1/me/step-ups", token).json()["data"]
    assert (pending["id"], pending["purpose"]) == (step_up["challenge_id"], "login")
    answer = f"/v1/step-ups/{pending['id']}/complete"
    forged = PhoneApp().sign_challenge(pending["id"], pending["nonce"])
    body = {"method": "device_signature", "signature": forged, "signer_device_id": device_id}
    error_of(api.post(answer, body), 401, "invalid_signature")
    body["signature"] = old.sign_challenge(pending["id"], pending["nonce"])
    assert api.post(answer, body).status_code == 201
    devices = api.get("/v1/me/devices", token).json()["data"]
    assert sorted((d["name"], d["trusted"]) for d in devices) == [
        ("new phone", True),
        ("old phone", True),
    ]


def test_sessions_are_listed_and_revoked(api: Api) -> None:
    api.register()
    phone = PhoneApp()
    first, second = api.sign_in(phone), api.sign_in(phone)
    listed = api.get("/v1/sessions", second).json()["data"]
    assert [s["current"] for s in listed].count(True) == 1
    assert len(listed) == 2
    other = next(s["id"] for s in listed if not s["current"])
    assert api.post(f"/v1/sessions/{other}/revoke", token=second).json() == {"ok": True}
    error_of(api.get("/v1/me", first), 401, "session_revoked")
    error_of(api.post("/v1/sessions/ses_00/revoke", token=second), 404, "resource_missing")
    third = api.sign_in(phone)
    assert api.post("/v1/sessions/revoke-others", token=third).json()["revoked"] != []
    error_of(api.get("/v1/me", second), 401, "session_revoked")
    assert api.get("/v1/me", third).status_code == 200


def test_requests_without_a_valid_session_are_refused(api: Api) -> None:
    error = error_of(api.get("/v1/me"), 401, "authentication_required")
    assert "Bearer" in error["message"]
    r = api.client.get("/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.headers["www-authenticate"] == "Bearer"
    error_of(r, 401, "authentication_required")
    error_of(api.client.get("/v1/me", headers=bearer("forged-token")), 401, "session_invalid")


def test_payment_password_lockout_survives_the_error_responses(api: Api) -> None:
    api.register()
    token = api.sign_in(PhoneApp())
    before = api.snapshot()
    for weak in ("123456", "111111", "19900307"):
        body = {"payment_password": weak}
        error_of(api.post("/v1/me/payment-password", body, token), 400, "weak_password")
    assert api.changed(before) == set()
    assert api.post("/v1/me/payment-password", {"payment_password": PIN}, token).status_code == 200
    error_of(
        api.post("/v1/me/payment-password", {"payment_password": "902817"}, token),
        409,
        "payment_password_already_set",
    )
    check = "/v1/me/payment-password/verify"
    assert api.post(check, {"payment_password": PIN}, token).json() == {"ok": True}
    for attempt in range(1, 5):
        error = error_of(
            api.post(check, {"payment_password": "902817"}, token), 401, "invalid_payment_password"
        )
        assert f"{5 - attempt} attempts left" in error["message"]
    before = api.snapshot()
    error_of(api.post(check, {"payment_password": "902817"}, token), 403, "payment_locked")
    assert api.changed(before) <= BOOKKEEPING
    error_of(api.post(check, {"payment_password": PIN}, token), 403, "payment_locked")
    assert api.get("/v1/me", token).json()["payment_locked_until"].startswith("2026-11-21T12:")
    assert [r[2] for r in api.audit("auth.payment_locked")] == ["locked"]


def test_totp_enrolment_and_its_use_at_login(api: Api) -> None:
    api.register()
    token = api.sign_in(PhoneApp())
    r = api.post("/v1/me/totp", token=token)
    assert r.status_code == 200, r.text
    secret = parse_qs(urlparse(r.json()["provisioning_uri"]).query)["secret"][0]
    totp = pyotp.TOTP(secret)
    error_of(api.post("/v1/me/totp/confirm", {"code": "abc"}, token), 401, "invalid_code")
    ok = api.post("/v1/me/totp/confirm", {"code": totp.at(api.clock())}, token)
    assert ok.json() == {"ok": True}
    error_of(api.post("/v1/me/totp", token=token), 409, "totp_already_enrolled")
    api.clock.advance(seconds=30)  # a code is good once: the next step's code
    step_up = error_of(api.login(PhoneApp("tablet")), 401, "step_up_required")["step_up"]
    assert step_up["methods"][0] == "totp"
    done = api.post(
        f"/v1/step-ups/{step_up['challenge_id']}/complete",
        {"method": "totp", "code": totp.at(api.clock())},
    )
    assert done.status_code == 201, done.text


def test_devices_are_registered_listed_and_revoked(api: Api) -> None:
    api.register()
    phone = PhoneApp()
    token = api.sign_in(phone)
    spare = PhoneApp("spare")
    r = api.post("/v1/me/devices", {"public_key": spare.public_key, "name": "spare"}, token)
    assert (r.status_code, r.json()["trusted"]) == (201, False)
    error_of(
        api.post("/v1/me/devices", {"public_key": "not-a-key"}, token), 400, "invalid_device_key"
    )
    mine = next(d for d in api.get("/v1/me/devices", token).json()["data"] if d["trusted"])
    assert api.post(f"/v1/me/devices/{mine['id']}/revoke", token=token).json() == {"ok": True}
    error_of(api.get("/v1/me", token), 401, "session_revoked")  # its sessions ended


def test_a_rate_limit_that_knows_its_wait_says_retry_after() -> None:
    """A 429 carries Retry-After exactly when the error knows how long to wait."""
    app = FastAPI()
    errors.install(app)

    @app.get("/limited")
    def limited(timed: bool = False) -> None:
        raise RateLimited("slow down", code="too_many_attempts", retry_after=90 if timed else None)

    with TestClient(app) as client:
        timed = client.get("/limited?timed=true")
        assert (timed.status_code, timed.headers["retry-after"]) == (429, "90")
        error_of(timed, 429, "too_many_attempts")
        assert "retry-after" not in client.get("/limited").headers
