"""Red packets over HTTP on both backends: send, claim once, refusals with their codes,
expiry returning the rest; the holding account ends at zero and the ledger verifies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guardpay.domain.ledger.chart import AccountCode
from guardpay.services.ledger import books as ledger
from guardpay.services.payments import red_packets as rp
from guardpay.storage.uow import read_only
from tests.api.api_fixtures import PIN, Api, error_of
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_payments_api import ALICE, BOB, Payer, _ctx_run, balance, payer
from tests.domain.identity.numbers import resident_id

CAROL = "13700001111"
World = tuple[Api, Payer, Payer, Payer]


@pytest.fixture
def world(api: Api) -> Iterator[World]:
    alice = payer(api, ALICE, resident_id("310104", "19900307", "123"), fund=500_00)
    bob = payer(api, BOB, resident_id("110105", "19851111", "456"))
    carol = payer(api, CAROL, resident_id("440103", "19920615", "789"))
    yield api, alice, bob, carol
    with read_only(api.db) as uow:
        report = ledger.verify(uow)
    assert report.ok, report.problems


def _send(api: Api, sender: Payer, **body: object) -> dict[str, object]:
    r = api.post(
        "/v1/red-packets",
        {"amount": 10_00, "shares": 2, "split": "fixed", "payment_password": PIN, **body},
        sender.token,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_send_claim_and_look(world: World) -> None:
    api, alice, bob, carol = world
    packet = _send(api, alice, message="Happy new year")
    pid = packet["id"]
    assert (packet["status"], packet["remaining_amount"], packet["claims"]) == ("open", 10_00, [])
    r = api.post(f"/v1/red-packets/{pid}/claim", None, bob.token)
    assert (r.status_code, r.json()["amount"]) == (200, 5_00), r.text
    error_of(
        api.post(f"/v1/red-packets/{pid}/claim", None, bob.token), 409, "red_packet_already_claimed"
    )
    assert api.post(f"/v1/red-packets/{pid}/claim", None, carol.token).status_code == 200
    error_of(api.post(f"/v1/red-packets/{pid}/claim", None, alice.token), 409, "red_packet_empty")
    seen = api.get(f"/v1/red-packets/{pid}", alice.token).json()
    assert (seen["status"], seen["remaining_shares"], len(seen["claims"])) == ("empty", 0, 2)
    assert (balance(api, "user", alice.id), balance(api, "user", bob.id)) == (490_00, 5_00)
    assert balance(api, rp.KIND, str(pid), AccountCode.RED_PACKET_HOLDING) == 0


def test_refusals_and_expiry(world: World) -> None:
    api, alice, bob, carol = world
    error_of(
        api.post(
            "/v1/red-packets", {"amount": 1, "shares": 2, "payment_password": PIN}, alice.token
        ),
        400,
        "invalid_red_packet",
    )
    error_of(
        api.post(
            "/v1/red-packets", {"amount": 1.5, "shares": 1, "payment_password": PIN}, alice.token
        ),
        400,
        "parameter_invalid",
    )
    error_of(
        api.post("/v1/red-packets", {"amount": 100, "shares": 1}, alice.token),
        401,
        "step_up_required",
    )
    error_of(
        api.post(
            "/v1/red-packets", {"amount": 100, "shares": 1, "payment_password": PIN}, bob.token
        ),
        400,
        "insufficient_funds",
    )
    error_of(api.get("/v1/red-packets/rp_nope", bob.token), 404, "red_packet_not_found")
    pid = str(_send(api, alice, shares=3, expires_in=60)["id"])
    assert api.post(f"/v1/red-packets/{pid}/claim", None, bob.token).status_code == 200
    assert api.get(f"/v1/red-packets/{pid}", carol.token).json()["claims"] == []
    api.clock.advance(seconds=60)
    error_of(api.post(f"/v1/red-packets/{pid}/claim", None, carol.token), 409, "red_packet_expired")
    assert _ctx_run(api, rp.expire_red_packets) == [pid]
    seen = api.get(f"/v1/red-packets/{pid}", alice.token).json()
    assert (seen["status"], seen["refunded"], seen["remaining_amount"]) == ("expired", 6_66, 0)
    assert balance(api, "user", alice.id) == 500_00 - 3_34
    assert balance(api, rp.KIND, pid, AccountCode.RED_PACKET_HOLDING) == 0


def test_a_packet_sent_without_factors_is_sent_after_its_step_up(world: World) -> None:
    """The step-up the refusal names is kept with it, so the client can pass it and send
    the packet again (lost before: the challenge rolled back with the refusal)."""
    api, alice, _bob, _carol = world
    body = {"amount": 10_00, "shares": 2, "split": "fixed"}
    refused = error_of(api.post("/v1/red-packets", body, alice.token), 401, "step_up_required")
    challenge = refused["step_up"]["challenge_id"]
    code = api.sms_code(challenge, "+86" + ALICE)
    answer = {"method": "sms", "code": code}
    done = api.post(f"/v1/me/step-ups/{challenge}/pass", answer, alice.token)
    assert done.status_code in (200, 201), done.text
    sent = api.post("/v1/red-packets", {**body, "step_up_challenge_id": challenge}, alice.token)
    assert sent.status_code == 201, sent.text
    assert balance(api, "user", alice.id) == 490_00
