"""Bank cards: binding after the four-element check, reuse found by blind index, refusals."""

from __future__ import annotations

import pytest

from guardpay.domain.identity.classes import AccountClass
from guardpay.errors import Conflict
from guardpay.services.identity.facade import bind_card, get_user, list_cards, unbind_card
from guardpay.storage.engine.db import Database
from tests.domain.identity.numbers import card, resident_id
from tests.services.identity.test_identity import CREDIT, DEBIT, PHONE, ZHANG, ZHANG_ID, Env

LI_ID = resident_id("440305", "19751129", "888")


@pytest.fixture
def env(db: Database) -> Env:
    return Env(db)


def test_bind_a_debit_card(env: Env) -> None:
    user = env.verified_user()
    bound = env.run(bind_card, env.kyc, user.id, DEBIT, PHONE)
    assert bound.id.startswith("card_")
    assert bound.token
    assert bound.token.startswith("tok_")
    assert bound.number == f"6222 **** **** {DEBIT[-4:]}"
    assert (bound.bank_code, bound.card_type, bound.scheme, bound.status) == (
        "ICBC",
        "debit",
        "unionpay",
        "active",
    )
    assert env.run(list_cards, user.id) == [bound]
    [(pan_enc, pan_index, last4, bin_)] = env.rows(
        "SELECT pan_enc, pan_index, last4, bin FROM bank_cards"
    )
    assert DEBIT not in pan_enc
    assert len(pan_index) == 64
    assert (last4, bin_) == (DEBIT[-4:], DEBIT[:6])
    [(subject, _, details)] = env.audit("card.bound")
    assert subject == user.id
    assert DEBIT not in details
    assert f"**** {DEBIT[-4:]}" in details
    # the passed four-element check counts as a verification channel
    assert env.run(get_user, user.id).account_class is AccountClass.I  # id_authority + card
    assert env.rows(
        "SELECT COUNT(DISTINCT channel) FROM identity_verifications WHERE outcome = 'passed'"
    ) == [(2,)]


def test_a_credit_card_needs_cvv2_and_expiry_which_are_never_stored(env: Env) -> None:
    user = env.verified_user()
    env.kyc.bank_cards.issue(CREDIT, ZHANG, ZHANG_ID, "+8613800138000", cvv2="739")
    env.refused("cvv2_required", bind_card, env.kyc, user.id, CREDIT, PHONE)
    env.refused("expiry_required", bind_card, env.kyc, user.id, CREDIT, PHONE, cvv2="739")
    env.refused(
        "card_verification_failed",
        bind_card,
        env.kyc,
        user.id,
        CREDIT,
        PHONE,
        cvv2="111",
        expiry="08/29",
    )
    bound = env.run(bind_card, env.kyc, user.id, CREDIT, PHONE, cvv2="739", expiry="08/29")
    assert (bound.card_type, bound.bank_code) == ("credit", "CMB")
    [row] = env.rows("SELECT * FROM bank_cards")
    assert not {"739", "08/29", "0829"} & {str(v) for v in row}
    for _, _, details in env.audit("card.bound"):
        assert "739" not in details
        assert "08/29" not in details


def test_the_same_card_cannot_be_bound_twice(env: Env) -> None:
    zhang = env.verified_user()
    li = env.verified_user("13900139000", LI_ID)
    env.run(bind_card, env.kyc, zhang.id, DEBIT, PHONE)
    spaced = " ".join(DEBIT[i : i + 4] for i in range(0, 19, 4))
    for user_id, pan in ((zhang.id, DEBIT), (zhang.id, spaced), (li.id, DEBIT)):
        err = env.refused("card_already_bound", bind_card, env.kyc, user_id, pan, PHONE)
        assert isinstance(err, Conflict)
        assert err.param == "card_number"
    assert env.run(list_cards, li.id) == []


def test_reuse_is_found_by_the_blind_index_not_by_decrypting(env: Env) -> None:
    zhang = env.verified_user()
    env.run(bind_card, env.kyc, zhang.id, DEBIT, PHONE)
    [(pan_index,)] = env.rows("SELECT pan_index FROM bank_cards")
    with env.ctx() as ctx:
        assert ctx.vault.blind_index("pan", DEBIT) == pan_index
        found = ctx.uow.identity.active_card_by_index(pan_index)
    assert found is not None
    assert found.user_id == zhang.id


def test_after_unbinding_a_card_can_be_bound_again(env: Env) -> None:
    zhang = env.verified_user()
    li = env.verified_user("13900139000", LI_ID)
    bound = env.run(bind_card, env.kyc, zhang.id, DEBIT, PHONE)
    env.refused("resource_missing", unbind_card, li.id, bound.id)  # not Li's card
    env.run(unbind_card, zhang.id, bound.id)
    assert env.run(list_cards, zhang.id) == []
    env.refused("resource_missing", unbind_card, zhang.id, bound.id)  # already unbound
    again = env.run(bind_card, env.kyc, li.id, DEBIT, "13900139000")
    assert again.id != bound.id
    assert [a[1] for a in env.audit("card.unbound")] == ["ok"]


def test_refusals_change_nothing(env: Env) -> None:
    unverified = env.user("13700137000")
    user = env.verified_user()
    broken = DEBIT[:-1] + str((int(DEBIT[-1]) + 1) % 10)
    kyc = env.kyc
    env.refused("invalid_card_number", bind_card, kyc, user.id, broken, PHONE)
    env.refused("invalid_card_number", bind_card, kyc, user.id, "6222 0212", PHONE)
    env.refused("unsupported_card_bin", bind_card, kyc, user.id, card("623456", 19), PHONE)
    env.refused("invalid_phone_number", bind_card, kyc, user.id, DEBIT, "555-0100")
    env.refused("identity_not_verified", bind_card, kyc, unverified.id, DEBIT, PHONE)
    env.refused("resource_missing", bind_card, kyc, "usr_nobody", DEBIT, PHONE)
    kyc.bank_cards.fail_for(DEBIT)
    env.refused("card_verification_failed", bind_card, kyc, user.id, DEBIT, PHONE)
    kyc.bank_cards.recover(DEBIT)
    kyc.bank_cards.available = False
    env.refused("verification_unavailable", bind_card, kyc, user.id, DEBIT, PHONE)
    kyc.bank_cards.available = True
    env.run(bind_card, kyc, user.id, DEBIT, PHONE)  # and now it works


def test_the_reserved_phone_must_be_the_banks(env: Env) -> None:
    user = env.verified_user()
    env.kyc.bank_cards.issue(DEBIT, ZHANG, ZHANG_ID, "+8613800138000")
    env.refused("card_verification_failed", bind_card, env.kyc, user.id, DEBIT, "13900139000")
    env.run(bind_card, env.kyc, user.id, DEBIT, "+86 138 0013 8000")
