"""Real-name verification, bank cards and the person's rights over their data, over
HTTP on both backends: masked answers, specific error codes, rejections that change
nothing, and the OpenAPI document listing every endpoint with its models."""

from __future__ import annotations

from tests.api.api_fixtures import (
    E164,
    ID_NUMBER,
    NAME,
    PAN,
    Api,
    PhoneApp,
    api_fixture,  # noqa: F401
    error_of,
)
from tests.domain.identity.numbers import card, resident_id, wrong_check

OTHER_PHONE = "13900139000"
OTHER_ID = resident_id("110105", "19851111", "456")


def _card(pan: str = PAN, phone: str = "13812345678") -> dict[str, str]:
    return {"card_number": pan, "reserved_phone": phone}


def test_verification_sets_the_class_and_shows_nothing_in_full(api: Api) -> None:
    api.register()
    token = api.sign_in(PhoneApp())
    body = {
        "name": NAME,
        "document_type": "resident_id",
        "document_number": ID_NUMBER,
        "selfie_ref": "selfie-001",
        "card": _card(),
    }
    r = api.post("/v1/me/verification", body, token)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["account_class"] == "II"
    assert sorted(result["passed"]) == ["bank_card_four_elements", "face_match", "id_authority"]
    assert (result["failed"], result["unavailable"]) == ([], [])
    me = api.get("/v1/me", token).json()
    assert (me["account_class"], me["can_pay"]) == ("II", True)
    for secret in (ID_NUMBER, PAN, NAME, E164[3:]):
        assert secret not in r.text + str(me)


def test_verification_rejections_change_nothing(api: Api) -> None:
    api.register()
    token = api.sign_in(PhoneApp())
    before = api.snapshot()
    cases = [
        ({"document_number": ID_NUMBER[:-2]}, "invalid_id_number"),
        ({"document_number": wrong_check(ID_NUMBER)}, "id_number_check_digit_mismatch"),
        ({"document_number": resident_id("310104", "20991231")}, "id_number_birth_date_invalid"),
        ({"document_number": resident_id("990104")}, "id_number_region_invalid"),
        ({"document_type": "driving_licence"}, "invalid_document_type"),
        ({"name": "  "}, "invalid_name"),
        ({"id_authority": False}, "no_verification_channel"),
        ({"card": _card(PAN[:-1] + str((int(PAN[-1]) + 1) % 10))}, "invalid_card_number"),
    ]
    for change, code in cases:
        body = {"name": NAME, "document_type": "resident_id", "document_number": ID_NUMBER}
        error = error_of(api.post("/v1/me/verification", {**body, **change}, token), 400, code)
        assert ID_NUMBER[:-1] not in str(error)
        assert api.changed(before) == set(), code


def test_failed_and_unavailable_channels_are_outcomes(api: Api) -> None:
    api.register()
    token = api.sign_in(PhoneApp())
    api.kyc.id_authority.available = False
    api.kyc.faces.set_score("blurry", 0.2)
    body = {
        "name": NAME,
        "document_type": "resident_id",
        "document_number": ID_NUMBER,
        "selfie_ref": "blurry",
    }
    result = api.post("/v1/me/verification", body, token).json()
    assert (result["account_class"], result["passed"]) == ("unverified", [])
    assert (result["failed"], result["unavailable"]) == (["face_match"], ["id_authority"])


def test_cards_bind_masked_and_only_once(api: Api) -> None:
    api.register()
    token = api.sign_in(PhoneApp())
    error_of(api.post("/v1/me/cards", _card(), token), 400, "identity_not_verified")
    assert api.verify(token).status_code == 200
    r = api.post("/v1/me/cards", _card(), token)
    assert r.status_code == 201, r.text
    bound = r.json()
    assert bound["number"] == f"6222 **** **** {PAN[-4:]}"
    assert (bound["bank_code"], bound["card_type"]) == ("ICBC", "debit")
    assert PAN not in r.text
    [listed] = api.get("/v1/me/cards", token).json()["data"]
    assert listed == bound
    other = api.verified_user(OTHER_PHONE, OTHER_ID)
    before = api.snapshot()
    error = error_of(
        api.post("/v1/me/cards", _card(phone=OTHER_PHONE), other), 409, "card_already_bound"
    )
    assert error["param"] == "card_number"
    error_of(
        api.post("/v1/me/cards", _card(card("622202", 19, "3")[:-1] + "0"), other),
        400,
        "invalid_card_number",
    )
    error_of(
        api.post("/v1/me/cards", _card("4111111111111111"), other), 400, "unsupported_card_bin"
    )
    assert api.changed(before) == set()
    unbind = f"/v1/me/cards/{bound['id']}/unbind"
    error_of(api.post(unbind, token=other), 404, "resource_missing")
    assert api.post(unbind, token=token).json() == {"ok": True}
    assert api.post("/v1/me/cards", _card(phone=OTHER_PHONE), other).status_code == 201


def test_an_unreachable_issuer_is_a_503_that_changes_nothing(api: Api) -> None:
    token = api.verified_user()
    api.kyc.bank_cards.available = False
    before = api.snapshot()
    error = error_of(api.post("/v1/me/cards", _card(), token), 503, "verification_unavailable")
    assert error["type"] == "api_error"
    assert api.changed(before) == set()
    api.kyc.bank_cards.available = True
    api.kyc.bank_cards.fail_for(PAN)
    error_of(api.post("/v1/me/cards", _card(), token), 400, "card_verification_failed")
    assert api.changed(before) == set()


def test_an_unexpected_failure_is_a_bare_500_and_rolls_back(api: Api) -> None:
    api.register()
    token = api.sign_in(PhoneApp())
    api.kyc.faces.score = lambda *_: 1 / 0  # type: ignore[method-assign]
    before = api.snapshot()
    body = {
        "name": NAME,
        "document_type": "resident_id",
        "document_number": ID_NUMBER,
        "selfie_ref": "selfie-001",
    }
    error = error_of(api.post("/v1/me/verification", body, token), 500, "internal_error")
    assert error["message"] == "internal error"
    assert api.changed(before) == set()  # the id_authority check's attempt is gone too


def test_export_shows_the_person_their_data_and_erase_shreds_it(api: Api) -> None:
    token = api.verified_user()
    assert api.post("/v1/me/cards", _card(), token).status_code == 201
    export = api.get("/v1/me/export", token).json()
    assert export["user"]["phone"] == E164
    assert export["identity_document"]["number"] == ID_NUMBER
    assert [c["number"] for c in export["bank_cards"]] == [PAN]
    erased = api.post("/v1/me/erase", token=token)
    assert erased.json()["pseudonym"].startswith("anon_")
    error_of(api.get("/v1/me", token), 401, "session_revoked")
    user_id = api.audit("person.erased")[0][1]
    assert "anon_" in api.audit("person.erased")[0][3]
    assert user_id.startswith("usr_")
    api.register()  # the phone number is free again
    assert PAN not in str(api.snapshot())


def test_openapi_lists_the_identity_and_auth_endpoints_with_models(api: Api) -> None:
    spec = api.get("/openapi.json").json()
    paths = spec["paths"]
    expected = {
        ("post", "/v1/users"),
        ("post", "/v1/sessions"),
        ("get", "/v1/sessions"),
        ("post", "/v1/step-ups/{challenge_id}/sms"),
        ("post", "/v1/step-ups/{challenge_id}/complete"),
        ("post", "/v1/sessions/{session_id}/revoke"),
        ("get", "/v1/me"),
        ("post", "/v1/me/verification"),
        ("post", "/v1/me/payment-password"),
        ("post", "/v1/me/payment-password/verify"),
        ("post", "/v1/me/cards"),
        ("get", "/v1/me/cards"),
        ("post", "/v1/me/cards/{card_id}/unbind"),
        ("post", "/v1/me/devices"),
        ("post", "/v1/me/totp"),
        ("post", "/v1/me/totp/confirm"),
        ("get", "/v1/me/export"),
        ("post", "/v1/me/erase"),
        ("post", "/v1/operator/sessions"),
        ("post", "/v1/operator/users/{user_id}/reveal"),
        ("post", "/v1/operator/approvals"),
        ("post", "/v1/operator/approvals/{approval_id}/approve"),
        ("post", "/v1/operator/approvals/{approval_id}/reject"),
        ("post", "/v1/merchants"),
        ("post", "/v1/merchants/{merchant_id}/sub-merchants"),
        ("get", "/v1/merchants/{merchant_id}"),
    }
    listed = {(method, path) for path, ops in paths.items() for method in ops}
    assert expected <= listed
    schemas = spec["components"]["schemas"]
    models = [
        "RegisterIn",
        "UserOut",
        "LoginIn",
        "IssuedOut",
        "StepUpErrorOut",
        "ErrorOut",
        "VerificationIn",
        "CardOut",
        "RevealIn",
        "ApprovalOut",
        "MerchantOut",
    ]
    assert [m for m in models if m not in schemas] == []
    assert schemas["LoginIn"]["properties"]["password"]["format"] == "password"
    login_401 = paths["/v1/sessions"]["post"]["responses"]["401"]
    assert login_401["content"]["application/json"]["schema"]["$ref"].endswith("StepUpErrorOut")
    assert "session" in spec["components"]["securitySchemes"]
