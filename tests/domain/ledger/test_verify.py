"""`check_ledger`: a consistent ledger passes; each broken invariant is named."""

from __future__ import annotations

from guardpay.domain.ledger.model import INT64_MAX, AccountFlags
from guardpay.domain.ledger.results import Result
from guardpay.domain.ledger.verify import Problem, check_ledger, counters
from tests.domain.ledger.helpers import (
    ALICE,
    BANK,
    BOB,
    CAROL,
    RESERVE,
    bank,
    close,
    funded,
    pending,
    reserve,
    stored,
)
from tests.factories import USD, post, transfer, void, wallet

DAVE = 13


def checks(problems: list[Problem]) -> list[tuple[str, int | None, int | None]]:
    return [(p.check, p.account_id, p.ledger) for p in problems]


def test_a_busy_ledger_verifies() -> None:
    ledger = funded({ALICE: 50_000, BOB: 5_000})
    results = ledger.submit(
        transfer(1, ALICE, BOB, 1_000),
        pending(2, ALICE, CAROL, 7_000),
        pending(3, BOB, CAROL, 2_000),
        post(4, 2, 3_000),
        void(5, 3),
        pending(6, ALICE, BOB, 100),
    )
    assert results == [Result.ok] * 6
    assert ledger.submit(transfer(7, CAROL, BOB, 3_000), close(CAROL)) == [Result.ok, Result.ok]
    assert ledger.problems() == []
    assert ledger.replay()[ALICE] == (100, 4_000, 0, 50_000)


def test_an_empty_ledger_verifies() -> None:
    assert check_ledger([], {}) == []


def test_counters_read_in_pending_posted_order() -> None:
    a = stored(
        wallet(ALICE), debits_pending=1, debits_posted=2, credits_pending=3, credits_posted=4
    )
    assert counters(a) == (1, 2, 3, 4)


def test_counters_that_disagree_with_the_replay() -> None:
    accounts = [stored(bank(), debits_posted=100), stored(wallet(ALICE), credits_posted=100)]
    replay = {BANK: (0, 100, 0, 0), ALICE: (0, 0, 0, 90)}
    problems = check_ledger(accounts, replay)
    assert checks(problems) == [("replay", ALICE, 156)]
    assert "(0, 0, 0, 100)" in problems[0].message
    assert "(0, 0, 0, 90)" in problems[0].message


def test_an_account_with_counters_but_no_transfers() -> None:
    accounts = [stored(bank(), debits_posted=100), stored(wallet(ALICE), credits_posted=100)]
    assert checks(check_ledger(accounts, {})) == [("replay", BANK, 156), ("replay", ALICE, 156)]


def test_transfers_that_name_an_account_that_does_not_exist() -> None:
    accounts = [stored(bank(), debits_posted=100)]
    replay = {BANK: (0, 100, 0, 0), ALICE: (0, 0, 0, 100)}
    problems = check_ledger(accounts, replay)
    assert [(p.check, p.account_id) for p in problems] == [("replay", ALICE)] + [
        (p.check, None) for p in problems[1:]
    ]
    assert [p.check for p in problems] == ["replay", "balanced"]


def test_posted_debits_must_equal_posted_credits_per_ledger() -> None:
    accounts = [
        stored(bank(), debits_posted=100),
        stored(wallet(ALICE), credits_posted=99),
        stored(bank(5, ledger=USD), debits_posted=7),
        stored(wallet(DAVE, ledger=USD), credits_posted=7),
    ]
    replay = {BANK: (0, 100, 0, 0), ALICE: (0, 0, 0, 99), 5: (0, 7, 0, 0), DAVE: (0, 0, 0, 7)}
    problems = check_ledger(accounts, replay)
    assert checks(problems) == [("balanced", None, 156)]
    assert problems[0].message == "posted debits 100 != posted credits 99"


def test_pending_debits_must_equal_pending_credits() -> None:
    accounts = [
        stored(wallet(ALICE), debits_pending=5, credits_posted=10),
        stored(bank(), credits_pending=4),
    ]
    replay = {ALICE: (5, 0, 0, 10), BANK: (0, 0, 4, 0)}
    problems = check_ledger(accounts, replay)
    assert [p.message for p in problems if p.check == "balanced"] == [
        "pending debits 5 != pending credits 4",
        "posted debits 0 != posted credits 10",
    ]


def test_negative_or_64_bit_overflowing_counters() -> None:
    negative = stored(bank(), debits_posted=-1)
    huge = stored(wallet(ALICE), credits_pending=INT64_MAX, credits_posted=1)
    replay = {BANK: counters(negative), ALICE: counters(huge)}
    assert [(p.check, p.account_id) for p in check_ledger([negative, huge], replay)] == [
        ("range", BANK),
        ("range", ALICE),
        ("balanced", None),
        ("balanced", None),
    ]


def test_a_wallet_below_zero_breaks_its_limit() -> None:
    overdrawn = stored(wallet(ALICE), debits_posted=101, credits_posted=100)
    held_too_much = stored(wallet(BOB), debits_pending=2, debits_posted=99, credits_posted=100)
    source = stored(bank(), debits_posted=200, credits_pending=2, credits_posted=200)
    accounts = [overdrawn, held_too_much, source]
    replay = {a.id: counters(a) for a in accounts}
    assert checks(check_ledger(accounts, replay)) == [("limit", ALICE, 156), ("limit", BOB, 156)]


def test_a_reserve_paying_out_more_than_came_in_breaks_its_limit() -> None:
    r = stored(reserve(), debits_posted=100, credits_pending=1, credits_posted=100)
    other = stored(bank(), debits_pending=1, debits_posted=100, credits_posted=100)
    replay = {RESERVE: counters(r), BANK: counters(other)}
    assert checks(check_ledger([r, other], replay)) == [("limit", RESERVE, 156)]


def test_a_closed_account_holding_money() -> None:
    closed = AccountFlags.CLOSED
    holds = stored(wallet(ALICE), debits_pending=5, credits_posted=5, flags=closed)
    owed = stored(wallet(BOB), credits_pending=5, flags=closed)
    funded_closed = stored(wallet(CAROL), credits_posted=5, flags=closed)
    empty_closed = stored(wallet(DAVE), debits_posted=5, credits_posted=5, flags=closed)
    source = stored(bank(), debits_posted=10)
    accounts = [holds, owed, funded_closed, empty_closed, source]
    replay = {a.id: counters(a) for a in accounts}
    assert checks(check_ledger(accounts, replay)) == [
        ("closed", ALICE, 156),
        ("closed", BOB, 156),
        ("closed", CAROL, 156),
    ]


def test_a_problem_as_a_dict_leaves_out_what_it_does_not_know() -> None:
    assert Problem("balanced", "m", ledger=156).as_dict() == {
        "check": "balanced",
        "message": "m",
        "ledger": 156,
    }
    assert Problem("range", "m", 10, 156).as_dict() == {
        "check": "range",
        "message": "m",
        "account_id": 10,
        "ledger": 156,
    }
