"""The KYC fakes: deterministic, strict or lenient, told to fail, down, and slow."""

from __future__ import annotations

import time

import pytest

from guardpay.adapters.kyc import (
    BankAccountTransferCheck,
    BankCardVerifier,
    FaceMatcher,
    FakeIdAuthority,
    FourElements,
    IdAuthority,
    Kyc,
    PhoneCarrierCheck,
    Verdict,
    is_unavailable,
)
from guardpay.domain.identity.cards import CardSecurity
from guardpay.errors import GuardpayError

ID = "11010519491231002X"  # the example number of GB 11643
PAN = "6222020000000000005"
PHONE = "+8613800138000"
MATCH, MISMATCH = Verdict.MATCH, Verdict.MISMATCH


def four(
    name: str = "张三", id_number: str = ID, pan: str = PAN, phone: str = PHONE
) -> FourElements:
    return FourElements(name, id_number, pan, phone)


def test_the_fakes_satisfy_the_protocols() -> None:
    kyc = Kyc.fakes()
    checks: tuple[
        IdAuthority, BankCardVerifier, FaceMatcher, PhoneCarrierCheck, BankAccountTransferCheck
    ] = (kyc.id_authority, kyc.bank_cards, kyc.faces, kyc.carrier, kyc.transfers)
    assert len(checks) == 5
    assert kyc.face_threshold == 0.8


def test_id_authority_compares_with_its_record() -> None:
    authority = FakeIdAuthority()
    assert authority.check("张三", ID) is MATCH  # lenient: unknown people pass
    authority.register(ID, "张三")
    assert authority.check("张三", ID) is MATCH
    assert authority.check("李四", ID) is MISMATCH
    strict = FakeIdAuthority(lenient=False)
    assert strict.check("张三", ID) is MISMATCH
    authority.fail_for(ID.lower())
    assert authority.check("张三", ID) is MISMATCH
    authority.recover(ID)
    assert authority.check("张三", ID) is MATCH
    assert authority.calls == 5


def test_bank_card_four_elements() -> None:
    cards = Kyc.fakes().bank_cards
    assert cards.verify(four(), None) is MATCH
    cards.issue(PAN, "张三", ID, PHONE)
    assert cards.verify(four(), None) is MATCH
    assert cards.verify(four(name="李四"), None) is MISMATCH
    assert cards.verify(four(phone="+8613900139000"), None) is MISMATCH
    assert cards.verify(four(id_number="440524188001010014"), None) is MISMATCH
    cards.fail_for(PAN)
    assert cards.verify(four(), None) is MISMATCH


def test_a_credit_card_checks_its_cvv2() -> None:
    cards = Kyc.fakes().bank_cards
    credit = "6258020000000006"
    cards.issue(credit, "张三", ID, PHONE, cvv2="321")
    assert cards.verify(four(pan=credit), CardSecurity("321", 12, 2028)) is MATCH
    assert cards.verify(four(pan=credit), CardSecurity("999", 12, 2028)) is MISMATCH
    assert cards.verify(four(pan=credit), None) is MISMATCH


def test_face_scores_are_stable_and_can_be_steered() -> None:
    faces = Kyc.fakes().faces
    first = faces.score("张三", ID, "selfie_001")
    assert first == faces.score("张三", ID, "selfie_001")
    assert 0.9 <= first <= 1.0
    faces.fail_for(ID)
    assert faces.score("张三", ID, "selfie_001") < 0.4
    faces.set_score("selfie_002", 0.79)
    assert faces.score("张三", ID, "selfie_002") == 0.79


def test_phone_carrier_and_transfers() -> None:
    kyc = Kyc.fakes(lenient=False)
    assert kyc.carrier.check("张三", ID, PHONE) is MISMATCH  # strict: no record
    kyc.carrier.register(PHONE, "张三", ID)
    assert kyc.carrier.check("张三", ID, PHONE) is MATCH
    assert kyc.carrier.check("张三", "440524188001010014", PHONE) is MISMATCH
    assert kyc.transfers.check("张三", "GPV-7Q2K") is MISMATCH  # nothing arrived yet
    kyc.transfers.arrive("GPV-7Q2K", "张三")
    assert kyc.transfers.check("张三", "gpv-7q2k") is MATCH
    kyc.transfers.arrive("GPV-9X1M", "李四")  # someone else's account paid
    assert kyc.transfers.check("张三", "GPV-9X1M") is MISMATCH


def test_unavailable_services_raise_a_specific_error() -> None:
    kyc = Kyc.fakes()
    calls = (
        lambda: kyc.id_authority.check("张三", ID),
        lambda: kyc.bank_cards.verify(four(), None),
        lambda: kyc.faces.score("张三", ID, "selfie_001"),
        lambda: kyc.carrier.check("张三", ID, PHONE),
        lambda: kyc.transfers.check("张三", "GPV-7Q2K"),
    )
    for service, call in zip(kyc.services(), calls, strict=True):
        service.available = False
        with pytest.raises(GuardpayError) as down:
            call()
        assert down.value.code == "verification_unavailable"
        assert is_unavailable(down.value)
        assert service.channel in down.value.message
        service.available = True
        call()
    assert not is_unavailable(ValueError("x"))


def test_latency() -> None:
    authority = FakeIdAuthority(latency=0.02)
    started = time.perf_counter()
    authority.check("张三", ID)
    assert time.perf_counter() - started >= 0.02


def test_nothing_personal_in_reprs() -> None:
    kyc = Kyc.fakes()
    kyc.id_authority.register(ID, "张三")
    kyc.bank_cards.issue(PAN, "张三", ID, PHONE, cvv2="321")
    kyc.id_authority.fail_for(ID)
    text = repr(kyc) + repr(four()) + repr(CardSecurity("321", 12, 2028))
    for secret in (ID, PAN, PHONE, "13800138000", "张三", "321"):
        assert secret not in text
