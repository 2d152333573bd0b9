"""Malformed events: each gets its validation code, nothing is written, nothing remembered.

Every case runs through `apply_batch` against a ledger where BANK, ALICE (50,000 fen) and
BOB are open, so a failure can only come from the event itself.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardpay.domain.ledger.engine import apply_batch
from guardpay.domain.ledger.model import (
    CHANGEABLE_FLAGS,
    CREATION_FLAGS,
    INT32_MAX,
    INT64_MAX,
    Account,
    AccountFlags,
    AccountFlagsChange,
    Event,
    Transfer,
    TransferFlags,
)
from guardpay.domain.ledger.results import TRANSIENT, Result
from guardpay.domain.ledger.validate import (
    validate_account,
    validate_flags_change,
    validate_transfer,
)
from tests.domain.ledger.helpers import (
    ALICE,
    BANK,
    BOB,
    NOWHERE,
    Ledger,
    assert_nothing_written,
    funded,
    only,
    pending,
    with_fields,
)
from tests.factories import CNY, account, post, transfer, void, wallet

PENDING = TransferFlags.PENDING
POST = TransferFlags.POST_PENDING
VOID = TransferFlags.VOID_PENDING
BAL_DR = TransferFlags.BALANCING_DEBIT
BAL_CR = TransferFlags.BALANCING_CREDIT

HOLD = 500  # ALICE holds 1,000 fen for BOB under transfer id 500


@pytest.fixture
def ledger() -> Ledger:
    ledger = funded()
    assert ledger.submit(pending(HOLD, ALICE, BOB, 1_000)) == [Result.ok]
    return ledger


def refused(ledger: Ledger, event: Event) -> Result:
    """Send one event that must fail; check nothing was written; return its code."""
    view = ledger.view()
    out = apply_batch(view, [[event]])
    result = only(out)
    assert not result.succeeded
    assert result not in TRANSIENT
    assert_nothing_written(out)
    assert view == ledger.view(), "apply_batch must not mutate its view"
    return result


PAY = transfer(1, ALICE, BOB, 2_500)

TRANSFER_CASES: list[tuple[str, Transfer, Result]] = [
    ("id zero", PAY._replace(id=0), Result.id_must_not_be_zero),
    ("id int max", PAY._replace(id=INT64_MAX), Result.id_must_not_be_int_max),
    ("negative id", PAY._replace(id=-1), Result.id_out_of_range),
    ("id past 64 bits", PAY._replace(id=2**63), Result.id_out_of_range),
    ("unknown flag", PAY._replace(flags=1 << 6), Result.reserved_flag),
    ("negative flags", PAY._replace(flags=-2), Result.reserved_flag),
    ("pending and post", PAY._replace(flags=PENDING | POST), Result.flags_are_mutually_exclusive),
    ("post and void", post(2, HOLD, flags=VOID), Result.flags_are_mutually_exclusive),
    (
        "pending and void",
        pending(2, ALICE, BOB, 10, flags=VOID),
        Result.flags_are_mutually_exclusive,
    ),
    ("balancing post", post(2, HOLD, flags=BAL_DR), Result.flags_are_mutually_exclusive),
    ("balancing void", void(2, HOLD, flags=BAL_CR), Result.flags_are_mutually_exclusive),
    ("negative amount", PAY._replace(amount=-1), Result.amount_out_of_range),
    ("amount past 64 bits", PAY._replace(amount=INT64_MAX + 1), Result.amount_out_of_range),
    ("post amount past 64 bits", post(2, HOLD, INT64_MAX + 1), Result.amount_out_of_range),
    ("ledger past 32 bits", PAY._replace(ledger=INT32_MAX + 1), Result.field_out_of_range),
    ("code past 32 bits", PAY._replace(code=INT32_MAX + 1), Result.field_out_of_range),
    ("negative user_data_64", PAY._replace(user_data_64=-1), Result.field_out_of_range),
    ("user_data_64 past 64 bits", PAY._replace(user_data_64=2**63), Result.field_out_of_range),
    ("user_data_32 past 32 bits", PAY._replace(user_data_32=2**31), Result.field_out_of_range),
    ("negative user_data_32", PAY._replace(user_data_32=-7), Result.field_out_of_range),
    ("debit account past 64 bits", PAY._replace(debit_account_id=2**63), Result.field_out_of_range),
    ("negative credit account", PAY._replace(credit_account_id=-11), Result.field_out_of_range),
    ("negative pending id", post(2, -HOLD), Result.field_out_of_range),
    (
        "timeout past 32 bits",
        pending(2, ALICE, BOB, 10, timeout=INT32_MAX + 1),
        Result.field_out_of_range,
    ),
    ("timestamp set", PAY._replace(timestamp=123), Result.timestamp_must_be_zero),
    ("post without hold", post(2, 0), Result.pending_id_must_not_be_zero),
    ("void without hold", void(2, 0), Result.pending_id_must_not_be_zero),
    ("post of itself", post(HOLD + 1, HOLD + 1), Result.pending_id_must_be_different),
    (
        "post with timeout",
        post(2, HOLD)._replace(timeout=5),
        Result.timeout_reserved_for_pending_transfer,
    ),
    (
        "no debit account",
        PAY._replace(debit_account_id=0),
        Result.debit_account_id_must_not_be_zero,
    ),
    (
        "no credit account",
        PAY._replace(credit_account_id=0),
        Result.credit_account_id_must_not_be_zero,
    ),
    ("to oneself", transfer(1, ALICE, ALICE, 2_500), Result.accounts_must_be_different),
    ("plain with pending id", PAY._replace(pending_id=HOLD), Result.pending_id_must_be_zero),
    ("plain with timeout", PAY._replace(timeout=60), Result.timeout_reserved_for_pending_transfer),
    (
        "balancing with timeout",
        transfer(1, ALICE, BOB, 10, flags=BAL_DR, timeout=1),
        Result.timeout_reserved_for_pending_transfer,
    ),
    ("zero amount", PAY._replace(amount=0), Result.amount_must_not_be_zero),
    ("zero amount hold", pending(2, ALICE, BOB, 0), Result.amount_must_not_be_zero),
    (
        "zero amount balancing",
        transfer(1, ALICE, BOB, 0, flags=BAL_DR),
        Result.amount_must_not_be_zero,
    ),
    ("no ledger", PAY._replace(ledger=0), Result.ledger_must_not_be_zero),
    ("no code", PAY._replace(code=0), Result.code_must_not_be_zero),
]


@pytest.mark.parametrize(
    ("event", "expected"),
    [pytest.param(e, r, id=name) for name, e, r in TRANSFER_CASES],
)
def test_malformed_transfer_is_refused_and_writes_nothing(
    ledger: Ledger, event: Transfer, expected: Result
) -> None:
    assert refused(ledger, event) == expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(PAY._replace(id=0, amount=0, ledger=0), Result.id_must_not_be_zero, id="id"),
        pytest.param(
            PAY._replace(flags=1 << 7, amount=-1), Result.reserved_flag, id="flags before amount"
        ),
        pytest.param(
            PAY._replace(amount=-1, ledger=-1), Result.amount_out_of_range, id="amount first"
        ),
        pytest.param(
            PAY._replace(ledger=-1, timestamp=1), Result.field_out_of_range, id="range first"
        ),
        pytest.param(
            PAY._replace(timestamp=1, debit_account_id=0),
            Result.timestamp_must_be_zero,
            id="timestamp before accounts",
        ),
        pytest.param(
            transfer(1, 0, 0, 0, ledger=0, code=0),
            Result.debit_account_id_must_not_be_zero,
            id="debit before credit",
        ),
        pytest.param(
            transfer(1, ALICE, BOB, 0, ledger=0, code=0),
            Result.amount_must_not_be_zero,
            id="amount before ledger",
        ),
        pytest.param(
            transfer(1, ALICE, BOB, 10, ledger=0, code=0),
            Result.ledger_must_not_be_zero,
            id="ledger before code",
        ),
    ],
)
def test_checks_run_in_a_fixed_order(ledger: Ledger, event: Transfer, expected: Result) -> None:
    assert refused(ledger, event) == expected


ACCOUNT_CASES: list[tuple[str, Account, Result]] = [
    ("id zero", wallet(0), Result.id_must_not_be_zero),
    ("id int max", wallet(INT64_MAX), Result.id_must_not_be_int_max),
    ("negative id", wallet(-5), Result.id_out_of_range),
    ("created frozen", account(20, flags=AccountFlags.DEBITS_FROZEN), Result.reserved_flag),
    ("created closed", account(20, flags=AccountFlags.CLOSED), Result.reserved_flag),
    ("unknown flag", account(20, flags=1 << 9), Result.reserved_flag),
    ("negative flags", account(20, flags=-2), Result.reserved_flag),
    (
        "both limits",
        account(
            20,
            flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
            | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS,
        ),
        Result.flags_are_mutually_exclusive,
    ),
    ("ledger past 32 bits", account(20, ledger=INT32_MAX + 1), Result.field_out_of_range),
    ("negative code", account(20, code=-1), Result.field_out_of_range),
    ("user_data_64 past 64 bits", account(20, user_data_64=2**63), Result.field_out_of_range),
    ("negative user_data_32", account(20, user_data_32=-1), Result.field_out_of_range),
    ("no ledger", account(20, ledger=0), Result.ledger_must_not_be_zero),
    ("no code", account(20, code=0), Result.code_must_not_be_zero),
    (
        "opened with money",
        with_fields(wallet(20), credits_posted=1_000_000),
        Result.balances_must_be_zero,
    ),
    (
        "opened with a hold",
        with_fields(wallet(20), debits_pending=1),
        Result.balances_must_be_zero,
    ),
    ("timestamp set", with_fields(wallet(20), timestamp=9), Result.timestamp_must_be_zero),
]


@pytest.mark.parametrize(
    ("event", "expected"),
    [pytest.param(e, r, id=name) for name, e, r in ACCOUNT_CASES],
)
def test_malformed_account_is_refused_and_writes_nothing(
    ledger: Ledger, event: Account, expected: Result
) -> None:
    assert refused(ledger, event) == expected


FLAG_CASES: list[tuple[str, AccountFlagsChange, Result]] = [
    (
        "account zero",
        AccountFlagsChange(0, set_flags=AccountFlags.DEBITS_FROZEN),
        Result.account_not_found,
    ),
    (
        "account int max",
        AccountFlagsChange(INT64_MAX, set_flags=AccountFlags.DEBITS_FROZEN),
        Result.account_not_found,
    ),
    (
        "negative account",
        AccountFlagsChange(-ALICE, set_flags=AccountFlags.DEBITS_FROZEN),
        Result.account_not_found,
    ),
    (
        "account never opened",
        AccountFlagsChange(NOWHERE, set_flags=AccountFlags.DEBITS_FROZEN),
        Result.account_not_found,
    ),
    (
        "set history",
        AccountFlagsChange(ALICE, set_flags=AccountFlags.HISTORY),
        Result.flag_not_changeable,
    ),
    (
        "drop the limit",
        AccountFlagsChange(ALICE, clear_flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
        Result.flag_not_changeable,
    ),
    (
        "set linked",
        AccountFlagsChange(ALICE, set_flags=AccountFlags.LINKED),
        Result.flag_not_changeable,
    ),
    (
        "reopen",
        AccountFlagsChange(ALICE, clear_flags=AccountFlags.CLOSED),
        Result.flag_not_changeable,
    ),
    ("negative flags", AccountFlagsChange(ALICE, set_flags=-1), Result.flag_not_changeable),
    ("unknown flag", AccountFlagsChange(ALICE, set_flags=1 << 12), Result.flag_not_changeable),
    (
        "set and clear",
        AccountFlagsChange(
            ALICE, set_flags=AccountFlags.DEBITS_FROZEN, clear_flags=AccountFlags.DEBITS_FROZEN
        ),
        Result.flags_are_mutually_exclusive,
    ),
]


@pytest.mark.parametrize(
    ("event", "expected"),
    [pytest.param(e, r, id=name) for name, e, r in FLAG_CASES],
)
def test_malformed_flag_change_is_refused_and_writes_nothing(
    ledger: Ledger, event: AccountFlagsChange, expected: Result
) -> None:
    assert refused(ledger, event) == expected


def test_a_malformed_transfer_is_not_remembered_and_may_be_sent_again_fixed(
    ledger: Ledger,
) -> None:
    assert ledger.submit(PAY._replace(ledger=0)) == [Result.ledger_must_not_be_zero]
    assert ledger.failed == {}
    assert ledger.submit(PAY) == [Result.ok]
    assert ledger.balance(ALICE) == 50_000 - 2_500
    assert ledger.balance(BOB) == 2_500


def test_validation_comes_before_idempotency(ledger: Ledger) -> None:
    """A stored id sent again malformed gets the validation code, not exists_*."""
    assert ledger.submit(PAY) == [Result.ok]
    assert refused(ledger, PAY._replace(code=0)) == Result.code_must_not_be_zero
    assert refused(ledger, PAY._replace(timestamp=5)) == Result.timestamp_must_be_zero


def test_the_validators_accept_well_formed_events() -> None:
    assert validate_transfer(transfer(1, BANK, ALICE, INT64_MAX)) is None
    assert validate_transfer(pending(2, ALICE, BOB, 1, timeout=INT32_MAX)) is None
    assert validate_transfer(post(3, 2)) is None
    assert validate_transfer(void(4, 2)) is None
    assert validate_transfer(transfer(5, ALICE, BOB, 1, flags=BAL_DR | BAL_CR | PENDING)) is None
    assert validate_account(wallet(INT64_MAX - 1)) is None
    assert validate_account(account(7, ledger=INT32_MAX, code=INT32_MAX)) is None
    assert validate_flags_change(AccountFlagsChange(ALICE, set_flags=AccountFlags.CLOSED)) is None


@st.composite
def any_transfer(draw: st.DrawFn) -> Transfer:
    """Transfers with fields anywhere around the valid ranges, mostly naming real accounts."""
    ids = st.one_of(
        st.sampled_from([BANK, ALICE, BOB, NOWHERE, 0]),
        st.integers(-(2**64), 2**64),
    )
    small = st.one_of(st.integers(0, 3), st.integers(-(2**33), 2**33))
    flags = st.one_of(
        st.sampled_from([0, PENDING, POST, VOID, BAL_DR, BAL_CR, BAL_DR | BAL_CR]),
        st.integers(-4, 1 << 7),
    )
    return Transfer(
        id=draw(st.one_of(st.integers(1, 20), st.integers(-(2**64), 2**64))),
        debit_account_id=draw(ids),
        credit_account_id=draw(ids),
        amount=draw(st.one_of(st.integers(0, 60_000), st.integers(-(2**65), 2**65))),
        pending_id=draw(st.one_of(st.sampled_from([0, HOLD]), st.integers(-(2**64), 2**64))),
        user_data_64=draw(st.one_of(st.just(0), st.integers(-(2**64), 2**64))),
        user_data_32=draw(small),
        timeout=draw(small),
        ledger=draw(st.one_of(st.just(CNY), small)),
        code=draw(st.one_of(st.just(3), small)),
        flags=draw(flags),
        timestamp=draw(st.one_of(st.just(0), st.integers(-5, 5))),
    )


@settings(max_examples=300, deadline=None)
@given(event=any_transfer())
def test_bad_input_never_raises_and_a_refusal_never_changes_anything(event: Transfer) -> None:
    ledger = funded()
    assert ledger.submit(pending(HOLD, ALICE, BOB, 1_000)) == [Result.ok]
    out = apply_batch(ledger.view(), [[event]])
    result = only(out)
    if result.succeeded:
        assert [t.id for t in out.transfers] == [event.id]
        return
    remembered = [(event.id, result)] if result in TRANSIENT else []
    assert_nothing_written(out, failed=remembered)


KNOWN_ACCOUNT_FLAGS = int(CREATION_FLAGS | CHANGEABLE_FLAGS)
WIDE = st.one_of(st.integers(0, 3), st.integers(-(2**65), 2**65))
NARROW = st.one_of(st.sampled_from([0, 1, CNY]), st.integers(-(2**33), 2**33))
FLAG_BITS = st.one_of(
    st.sampled_from([0, *[int(f) for f in AccountFlags]]),
    st.integers(-4, 1 << 8).map(lambda f: f & ~1),  # never linked: a chain would stay open
    st.integers(0, 40).map(lambda n: 1 << n if n else 0),
)


@st.composite
def any_account(draw: st.DrawFn) -> Account:
    return Account(
        id=draw(st.one_of(st.sampled_from([20, ALICE, 0]), st.integers(-(2**64), 2**64))),
        ledger=draw(NARROW),
        code=draw(NARROW),
        flags=draw(FLAG_BITS),
        user_data_64=draw(WIDE),
        user_data_32=draw(NARROW),
        debits_pending=draw(st.sampled_from([0, 0, 0, 1, -1])),
        debits_posted=draw(st.sampled_from([0, 0, 0, 1])),
        credits_pending=draw(st.sampled_from([0, 0, 0, 1])),
        credits_posted=draw(st.sampled_from([0, 0, 0, 1])),
        timestamp=draw(st.sampled_from([0, 0, 0, 5])),
    )


@settings(max_examples=300, deadline=None)
@given(event=any_account())
def test_an_account_is_opened_only_with_known_flags_and_a_refusal_writes_nothing(
    event: Account,
) -> None:
    ledger = funded()
    out = apply_batch(ledger.view(), [[event]])
    result = only(out)
    if result == Result.ok:
        [opened] = out.accounts_created
        assert opened.flags & ~KNOWN_ACCOUNT_FLAGS == 0, f"stored reserved flags {opened.flags:#x}"
        assert opened.flags & int(CHANGEABLE_FLAGS) == 0
        return
    assert_nothing_written(out)


@settings(max_examples=300, deadline=None)
@given(
    account_id=st.one_of(st.sampled_from([ALICE, BOB, NOWHERE, 0]), st.integers(-(2**64), 2**64)),
    set_flags=FLAG_BITS,
    clear_flags=FLAG_BITS,
)
def test_a_flag_change_sets_only_changeable_flags_and_a_refusal_writes_nothing(
    account_id: int, set_flags: int, clear_flags: int
) -> None:
    ledger = funded()
    before = ledger.accounts.get(account_id)
    out = apply_batch(ledger.view(), [[AccountFlagsChange(account_id, set_flags, clear_flags)]])
    result = only(out)
    if result == Result.ok:
        assert before is not None
        [after] = out.accounts_updated
        changed = after.flags ^ before.flags
        assert changed & ~int(CHANGEABLE_FLAGS) == 0, f"changed flags {changed:#x}"
        assert out.flag_changes == [(account_id, set_flags, clear_flags, out.last_timestamp)]
        return
    assert_nothing_written(out)
