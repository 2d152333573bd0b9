"""The fake bank: deterministic from its seed, idempotent per instruction, and as badly
behaved as asked (late, duplicate, contradicting, failing); its statement is the truth."""

from __future__ import annotations

import threading
from datetime import date

from guardpay.adapters.bank import BankCallback, BankInstruction, Chaos, FakeBank

DAY = date(2026, 11, 21)


def instruction(n: int, direction: str = "in") -> BankInstruction:
    return BankInstruction(f"fnd_{n}", direction, 100 * n, "CNY", f"tok_{n}", "1234", DAY)


def run(seed: int, chaos: Chaos) -> tuple[FakeBank, list[BankCallback]]:
    """A day of the bank; `instance` pinned, so the references replay too."""
    bank, got = FakeBank(seed=seed, chaos=chaos, instance="day"), list[BankCallback]()
    for n in range(1, 30):
        bank.submit(instruction(n))
    bank.drain(got.append)
    return bank, got


def test_the_same_seed_gives_the_same_day() -> None:
    assert run(4, Chaos())[1] == run(4, Chaos())[1]
    assert run(4, Chaos())[1] != run(5, Chaos())[1]


def test_an_instruction_is_accepted_once() -> None:
    bank = FakeBank(seed=1)
    ref = bank.submit(instruction(1))
    assert bank.submit(instruction(1)) == ref
    assert len(bank.statement()) == 1


def test_chaos_duplicates_contradicts_and_fails_but_the_statement_is_final() -> None:
    bank, got = run(9, Chaos(failure=0.3, duplicate=0.5, late=0.3, contradiction=0.3))
    refs = [c.bank_reference for c in got]
    assert len(refs) > len(set(refs)) == 29  # duplicates and contradictions
    statuses = {r.bank_reference: r.status for r in bank.statement()}
    assert set(statuses.values()) == {"succeeded", "failed"}
    contradicted = [
        r
        for r in set(refs)
        if {c.status for c in got if c.bank_reference == r} == {"succeeded", "failed"}
    ]
    assert contradicted  # the platform must keep the first final answer it processes


def test_declined_cards_fail_and_a_failing_delivery_is_retried() -> None:
    bank = FakeBank(
        seed=2,
        chaos=Chaos(failure=0.0, duplicate=0.0, late=0.0, contradiction=0.0),
        declined_tokens={"tok_1"},
    )
    ref = bank.submit(instruction(1))
    calls: list[BankCallback] = []

    def flaky(c: BankCallback) -> None:
        calls.append(c)
        if len(calls) == 1:
            raise RuntimeError("platform down")

    bank.drain(flaky)
    assert [c.status for c in calls] == ["failed", "failed"]
    assert bank.final_status(ref) == "failed"


def test_a_refused_delivery_is_retried_until_accepted_then_given_up_at_the_limit() -> None:
    """The platform answers non-2xx while it cannot place a callback yet: the bank keeps
    sending it (the platform catches up), but not for ever."""
    calm = Chaos(failure=0.0, duplicate=0.0, late=0.0, contradiction=0.0)
    bank, calls = FakeBank(seed=2, chaos=calm, max_attempts=5), list[BankCallback]()

    def refuse_three(c: BankCallback) -> None:
        calls.append(c)
        if len(calls) <= 3:
            raise RuntimeError("503 bank_reference_unknown")

    bank.submit(instruction(1))
    bank.drain(refuse_three)
    assert (len(calls), bank.given_up) == (4, [])

    def refuse_all(c: BankCallback) -> None:
        calls.append(c)
        raise RuntimeError("503 bank_reference_unknown")

    bank.submit(instruction(2))
    bank.drain(refuse_all)
    assert len(calls) == 4 + 5
    assert [c.instruction_id for c in bank.given_up] == ["fnd_2"]
    assert bank.idle


def test_the_thread_delivers_in_the_background() -> None:
    bank, got, stop = FakeBank(seed=3), list[BankCallback](), threading.Event()
    bank.submit(instruction(1, "out"))
    thread = bank.run_in_thread(got.append, stop, interval=0.001)
    for _ in range(2000):
        if bank.idle:
            break
        threading.Event().wait(0.001)
    stop.set()
    thread.join(timeout=5)
    assert got
    assert got[0].bank_reference == bank.statement()[0].bank_reference


def test_a_restarted_bank_never_reuses_a_reference() -> None:
    """A process restart (or a second process) is a new FakeBank with the same seed:
    its references must not collide with the ones the database already holds."""
    before, after = FakeBank(seed=0), FakeBank(seed=0)
    first = {before.submit(instruction(n)) for n in range(1, 20)}
    second = {after.submit(instruction(n + 100)) for n in range(1, 20)}
    assert len(first) == len(second) == 19
    assert not first & second


def test_a_pinned_instance_replays_its_references() -> None:
    again = [FakeBank(seed=4, instance="replay").submit(instruction(1)) for _ in range(2)]
    assert again[0] == again[1]
    assert again[0].startswith("bnk_replay_")
