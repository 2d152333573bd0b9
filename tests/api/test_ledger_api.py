"""The read-only ledger API over HTTP, on both backends, read with a viewer operator's
session (who may read it: test_ledger_access.py).

Data goes in through the ledger service (the only write path); the API must show it
exactly: ids as JSON strings (they exceed 2^53), amounts as integers, cursor pages with
no gaps or repeats, and one error shape for every failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guardpay import __version__
from guardpay.api.app import create_app
from guardpay.domain.auth.roles import Role
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.ledger.model import Event, TransferFlags
from guardpay.domain.ledger.results import Result
from guardpay.errors import DatabaseNotMigrated
from guardpay.security import passwords
from guardpay.security.keys import Keyring
from guardpay.services.auth import operators
from guardpay.services.ledger.books import execute
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import unit_of_work
from tests.factories import account, post, transfer, wallet

BANK, BOB, CAROL = 1, 11, 12
ALICE = 2**62 + 7  # beyond 2^53: a JSON number would lose it
TOP_UP_ID = 2**62 + 1001
LEDGER_PATHS = {
    "/v1/ledger/accounts",
    "/v1/ledger/accounts/{account_id}",
    "/v1/ledger/accounts/{account_id}/transfers",
    "/v1/ledger/accounts/{account_id}/balances",
    "/v1/ledger/transfers/{transfer_id}",
}
ERROR_KEYS = {"type", "code", "message", "param"}
OP_SECRET = "Console-pass-7"


@pytest.fixture
def app(db: Database) -> Iterator[FastAPI]:
    """The app with a keyring of its own (no development key file) and cheap argon2."""
    with passwords.using(passwords.CHEAP):
        yield create_app(db, keyring=Keyring.generate())


def operator_token(app: FastAPI, db: Database, name: str, role: Role) -> str:
    """A console session of a new operator holding `role`."""
    with unit_of_work(db) as uow:
        operators.create_operator(Context(uow, app.state.keyring, SYSTEM), name, role, OP_SECRET)
    with TestClient(app) as c:
        r = c.post("/v1/operator/sessions", json={"name": name, "password": OP_SECRET})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


@pytest.fixture
def client(app: FastAPI, db: Database) -> Iterator[TestClient]:
    """Signed in as a viewer, the least role that may read the ledger."""
    token = operator_token(app, db, "vera", Role.VIEWER)
    # Server errors become 500 responses, so a crash fails an assertion on the status.
    with TestClient(app, raise_server_exceptions=False) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def apply(db: Database, *events: Event) -> list[Result]:
    with unit_of_work(db) as uow:
        return execute(uow, list(events))


def open_accounts(db: Database) -> None:
    opened = apply(
        db, account(BANK, code=AccountCode.RESERVE), wallet(ALICE), wallet(BOB), wallet(CAROL)
    )
    assert opened == [Result.ok] * 4
    assert apply(db, transfer(TOP_UP_ID, BANK, ALICE, 1_000_000)) == [Result.ok]


def assert_error(body: dict[str, Any], code: str, param: str | None) -> None:
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == ERROR_KEYS
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["param"] == param


# -- service endpoints -------------------------------------------------------------------
def test_healthz_reports_ok_with_the_backend(client: TestClient, db: Database) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": db.backend, "version": __version__}


def test_openapi_lists_every_ledger_path_as_a_get(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert set(paths) >= LEDGER_PATHS
    assert "/healthz" in paths
    for path in LEDGER_PATHS:
        assert set(paths[path]) == {"get"}, path


def test_create_app_refuses_an_unmigrated_database(database_url: str) -> None:
    database = Database(database_url)
    try:
        with pytest.raises(DatabaseNotMigrated, match="guardpay db upgrade") as info:
            create_app(database)
        assert info.value.code == "database_not_migrated"
    finally:
        database.dispose()


# -- single resources --------------------------------------------------------------------
def test_get_account_shows_ids_as_strings_and_amounts_as_ints(
    client: TestClient, db: Database
) -> None:
    open_accounts(db)
    assert apply(db, transfer(2, ALICE, BOB, 12_345)) == [Result.ok]
    assert apply(db, transfer(3, ALICE, BOB, 500, flags=TransferFlags.PENDING)) == [Result.ok]

    r = client.get(f"/v1/ledger/accounts/{ALICE}")
    assert r.status_code == 200
    body = r.json()
    timestamp = body.pop("timestamp")
    assert body == {
        "id": str(ALICE),
        "ledger": 156,
        "currency": "CNY",
        "code": AccountCode.CUSTOMER_WALLET,
        "flags": int(wallet(ALICE).flags),
        "debits_pending": 500,
        "debits_posted": 12_345,
        "credits_pending": 0,
        "credits_posted": 1_000_000,
    }
    assert type(timestamp) is int
    assert timestamp > 0
    # The id travels as a string, exactly; the counters as JSON integers.
    assert f'"id":"{ALICE}"' in r.text
    assert '"debits_posted":12345' in r.text


def test_get_transfer_shows_ids_as_strings_and_amounts_as_ints(
    client: TestClient, db: Database
) -> None:
    open_accounts(db)
    r = client.get(f"/v1/ledger/transfers/{TOP_UP_ID}")
    assert r.status_code == 200
    body = r.json()
    timestamp = body.pop("timestamp")
    assert body == {
        "id": str(TOP_UP_ID),
        "debit_account_id": str(BANK),
        "credit_account_id": str(ALICE),
        "amount": 1_000_000,
        "pending_id": "0",
        "ledger": 156,
        "code": 3,
        "flags": 0,
        "timeout": 0,
        "user_data_64": 0,
        "user_data_32": 0,
    }
    assert type(timestamp) is int
    account_ts = client.get(f"/v1/ledger/accounts/{ALICE}").json()["timestamp"]
    assert timestamp > account_ts
    assert f'"credit_account_id":"{ALICE}"' in r.text
    assert '"amount":1000000' in r.text


def test_a_posted_hold_names_its_accounts_and_the_hold(client: TestClient, db: Database) -> None:
    open_accounts(db)
    hold = transfer(20, ALICE, CAROL, 800, flags=TransferFlags.PENDING)
    assert apply(db, hold) == [Result.ok]
    assert apply(db, post(21, 20, 300)) == [Result.ok]

    body = client.get("/v1/ledger/transfers/21").json()
    assert (body["debit_account_id"], body["credit_account_id"]) == (str(ALICE), str(CAROL))
    assert (body["amount"], body["pending_id"]) == (300, "20")
    assert body["flags"] == TransferFlags.POST_PENDING
    carol = client.get(f"/v1/ledger/accounts/{CAROL}").json()
    assert (carol["credits_pending"], carol["credits_posted"]) == (0, 300)


# -- errors ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/v1/ledger/accounts/999", "account_id"),
        (f"/v1/ledger/accounts/{2**63 - 1}", "account_id"),  # the largest 64-bit id
        ("/v1/ledger/accounts/999/transfers", "account_id"),
        ("/v1/ledger/accounts/999/balances", "account_id"),
        ("/v1/ledger/transfers/999", "transfer_id"),
        ("/v1/ledger/transfers/1", "transfer_id"),  # an account id is not a transfer id
    ],
)
def test_unknown_ids_are_404_resource_missing(
    client: TestClient, db: Database, path: str, param: str
) -> None:
    open_accounts(db)
    r = client.get(path)
    assert r.status_code == 404
    assert_error(r.json(), "resource_missing", param)


def test_an_unknown_route_is_404_in_the_same_shape(client: TestClient) -> None:
    r = client.get("/v1/ledger/nothing-here")
    assert r.status_code == 404
    assert_error(r.json(), "resource_missing", None)


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("/v1/ledger/accounts/{a}/transfers?limit=0", "limit"),
        ("/v1/ledger/accounts/{a}/transfers?limit=1001", "limit"),
        ("/v1/ledger/accounts/{a}/balances?limit=0", "limit"),
        ("/v1/ledger/accounts?limit=0", "limit"),
        ("/v1/ledger/accounts/{a}/transfers?cursor=soon", "cursor"),
        ("/v1/ledger/accounts/alice", "account_id"),
        ("/v1/ledger/transfers/1.5", "transfer_id"),
    ],
)
def test_invalid_parameters_are_400_parameter_invalid(
    client: TestClient, db: Database, query: str, param: str
) -> None:
    open_accounts(db)
    r = client.get(query.format(a=ALICE))
    assert r.status_code == 400
    assert_error(r.json(), "parameter_invalid", param)


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/ledger/accounts/{2**63}",
        f"/v1/ledger/accounts/{2**63}/transfers",
        f"/v1/ledger/transfers/{2**64}",
    ],
)
def test_ids_beyond_64_bits_are_a_client_error(client: TestClient, db: Database, path: str) -> None:
    """No stored id exceeds 2^63-1, so such an id is unknown or invalid: a 4xx in the
    error shape on every backend, never a server error."""
    open_accounts(db)
    r = client.get(path)
    assert r.status_code in (400, 404), f"{r.status_code}: {r.text}"
    code = {400: "parameter_invalid", 404: "resource_missing"}[r.status_code]
    error = r.json()["error"]
    assert set(error) == ERROR_KEYS
    assert error["code"] == code


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/ledger/accounts/{BOB}/transfers?cursor={2**64}",
        f"/v1/ledger/accounts/{ALICE}/balances?cursor={2**64}",
        f"/v1/ledger/accounts?cursor={2**64}",
    ],
)
def test_cursors_beyond_64_bits_are_answered_not_a_server_error(
    client: TestClient, db: Database, path: str
) -> None:
    """A cursor past every timestamp is either refused (400 in the error shape) or
    answered as a page; it never crashes the server."""
    open_accounts(db)
    r = client.get(path)
    assert r.status_code in (200, 400), f"{r.status_code}: {r.text}"
    if r.status_code == 400:
        assert_error(r.json(), "parameter_invalid", "cursor")
    else:
        assert set(r.json()) == {"data", "has_more", "next_cursor"}


# -- lists -------------------------------------------------------------------------------
def _walk(client: TestClient, url: str, limit: int) -> list[dict[str, Any]]:
    """Follow next_cursor to the end; every page but the last is full."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        r = client.get(url, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {"data", "has_more", "next_cursor"}
        items.extend(page["data"])
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return items
        assert len(page["data"]) == limit
        assert isinstance(page["next_cursor"], str)
        assert page["next_cursor"] == str(page["data"][-1]["timestamp"])
        cursor = page["next_cursor"]
    raise AssertionError("pagination did not end")


def _alice_history(db: Database) -> list[int]:
    """Transfers in both directions for Alice, interleaved with others' and with a hold,
    a post and a linked pair; returns the ids of Alice's transfers oldest first."""
    open_accounts(db)
    funding = [transfer(90, ALICE, BOB, 50_000), transfer(91, ALICE, CAROL, 50_000)]
    assert apply(db, *funding) == [Result.ok, Result.ok]
    mine = [TOP_UP_ID, 90, 91]
    for i in range(21):
        tid = 100 + i
        if i % 3 == 0:
            event = transfer(tid, BOB, CAROL, 1)  # not Alice's
        elif i % 3 == 1:
            event = transfer(tid, ALICE, BOB, 1_000 + i)
            mine.append(tid)
        else:
            event = transfer(tid, CAROL, ALICE, 1)  # Alice on the credit side
            mine.append(tid)
        assert apply(db, event) == [Result.ok]
    assert apply(db, transfer(200, ALICE, CAROL, 700, flags=TransferFlags.PENDING)) == [Result.ok]
    assert apply(db, post(201, 200, 200)) == [Result.ok]
    linked = [
        transfer(202, ALICE, BOB, 10, flags=TransferFlags.LINKED),
        transfer(203, BOB, ALICE, 5),
    ]
    assert apply(db, *linked) == [Result.ok, Result.ok]
    mine += [200, 201, 202, 203]
    return mine


@pytest.mark.parametrize("limit", [1, 4, 7])
def test_account_transfers_walk_every_page_newest_first(
    client: TestClient, db: Database, limit: int
) -> None:
    mine = _alice_history(db)
    items = _walk(client, f"/v1/ledger/accounts/{ALICE}/transfers", limit)
    ids = [int(t["id"]) for t in items]
    assert len(ids) == len(set(ids)), "a transfer appeared twice"
    assert ids == list(reversed(mine))
    stamps = [t["timestamp"] for t in items]
    assert stamps == sorted(stamps, reverse=True)
    for t in items:
        assert str(ALICE) in (t["debit_account_id"], t["credit_account_id"])


def test_account_transfers_page_exactly_as_large_as_the_list_is_the_last(
    client: TestClient, db: Database
) -> None:
    mine = _alice_history(db)
    url = f"/v1/ledger/accounts/{ALICE}/transfers"
    whole = client.get(url, params={"limit": len(mine)}).json()
    assert (len(whole["data"]), whole["has_more"], whole["next_cursor"]) == (len(mine), False, None)
    short = client.get(url, params={"limit": len(mine) - 1}).json()
    assert (len(short["data"]), short["has_more"]) == (len(mine) - 1, True)
    rest = client.get(url, params={"limit": 100, "cursor": short["next_cursor"]}).json()
    assert [t["id"] for t in rest["data"]] == [str(mine[0])]
    assert rest["has_more"] is False


def test_an_account_without_transfers_has_an_empty_first_page(
    client: TestClient, db: Database
) -> None:
    open_accounts(db)
    r = client.get(f"/v1/ledger/accounts/{CAROL}/transfers")
    assert r.status_code == 200
    assert r.json() == {"data": [], "has_more": False, "next_cursor": None}


def test_accounts_list_walks_in_creation_order(client: TestClient, db: Database) -> None:
    open_accounts(db)
    items = _walk(client, "/v1/ledger/accounts", 3)
    assert [a["id"] for a in items] == [str(BANK), str(ALICE), str(BOB), str(CAROL)]


def test_balance_history_lists_each_change_oldest_first(client: TestClient, db: Database) -> None:
    open_accounts(db)
    assert apply(db, transfer(2, ALICE, BOB, 100_000)) == [Result.ok]
    assert apply(db, transfer(3, ALICE, CAROL, 40_000, flags=TransferFlags.PENDING)) == [Result.ok]
    assert apply(db, transfer(4, ALICE, BOB, 10**9)) == [Result.exceeds_credits]  # no change
    assert apply(db, post(5, 3, 25_000)) == [Result.ok]
    assert apply(db, transfer(6, CAROL, ALICE, 5_000)) == [Result.ok]
    expected = [
        # (debits_pending, debits_posted, credits_pending, credits_posted)
        (0, 0, 0, 1_000_000),
        (0, 100_000, 0, 1_000_000),
        (40_000, 100_000, 0, 1_000_000),
        (0, 125_000, 0, 1_000_000),
        (0, 125_000, 0, 1_005_000),
    ]
    url = f"/v1/ledger/accounts/{ALICE}/balances"
    for limit in (100, 2):
        rows = _walk(client, url, limit)
        got = [
            (b["debits_pending"], b["debits_posted"], b["credits_pending"], b["credits_posted"])
            for b in rows
        ]
        assert got == expected, f"limit={limit}"
        stamps = [b["timestamp"] for b in rows]
        assert stamps == sorted(stamps)
        assert len(set(stamps)) == len(stamps)
    # The last entry is the account as it stands now.
    now = client.get(f"/v1/ledger/accounts/{ALICE}").json()
    last = rows[-1]
    assert {k: now[k] for k in last if k != "timestamp"} == {
        k: v for k, v in last.items() if k != "timestamp"
    }
    # Each entry's timestamp is that of the transfer that caused it.
    stamp_of = {
        tid: client.get(f"/v1/ledger/transfers/{tid}").json()["timestamp"]
        for tid in (TOP_UP_ID, 2, 3, 5, 6)
    }
    assert stamps == list(stamp_of.values())


def test_balance_history_is_empty_for_an_account_without_the_history_flag(
    client: TestClient, db: Database
) -> None:
    open_accounts(db)  # the reserve here is opened with no flags
    r = client.get(f"/v1/ledger/accounts/{BANK}/balances")
    assert r.status_code == 200
    assert r.json() == {"data": [], "has_more": False, "next_cursor": None}
