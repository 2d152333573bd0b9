"""Know-your-customer verification channels: the outside services that confirm a person.

Each channel is a small Protocol the services call, with an in-process fake that the
demo and the tests use. Real implementations call the public-security citizen identity
service, the card issuer (through the card scheme), a face-comparison vendor, the mobile
carrier, and the bank channel; every one of them can say "no", and every one of them can
be down, so:

- a check answers `Verdict.MATCH` or `Verdict.MISMATCH` (a face match answers a score);
- a service that cannot answer raises `GuardpayError` with code `verification_unavailable`
  (the caller records the channel as unavailable and may retry later).

What is sent is only what the check needs. The CVV2 and expiry of a credit card go to the
issuer for the one call and are never stored or logged (`CardSecurity` and
`FourElements` mask themselves in repr). The fakes keep their registrations in memory
only and never log.

The fakes behave like the real services: deterministic; lenient by default (an unknown
person, card or transfer passes, which is what the demo needs) or strict; a record
registered with `register`/`issue`/`arrive` must match exactly; `fail_for(key)` makes
every check about that ID number, card, phone or reference fail; `available = False`
makes every call raise; `latency` (seconds) slows each call down.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from guardpay.domain.identity.cards import CardSecurity
from guardpay.domain.identity.masking import mask_card, mask_id_number, mask_phone
from guardpay.errors import GuardpayError, VerificationUnavailable

UNAVAILABLE = "verification_unavailable"


class Verdict(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"


def unavailable(channel: str) -> GuardpayError:
    message = f"the {channel} check is unavailable; try again later"
    return VerificationUnavailable(message)


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, VerificationUnavailable)


@dataclass(frozen=True)
class FourElements:
    """Name, ID number, card number and the phone reserved at the issuing bank."""

    name: str
    id_number: str
    pan: str
    phone: str

    def __repr__(self) -> str:
        return (
            f"FourElements({mask_id_number(self.id_number)}, {mask_card(self.pan)}, "
            f"{mask_phone(self.phone)})"
        )


class IdAuthority(Protocol):
    """The citizen identity service: do this name and ID number belong together?"""

    def check(self, name: str, id_number: str) -> Verdict: ...


class BankCardVerifier(Protocol):
    """The issuing bank's four-element check (plus CVV2 and expiry for credit cards)."""

    def verify(self, elements: FourElements, security: CardSecurity | None) -> Verdict: ...


class FaceMatcher(Protocol):
    """Similarity (0..1) of a live selfie, by the vendor's upload reference, to the photo
    the authority holds for this ID number."""

    def score(self, name: str, id_number: str, selfie_ref: str) -> float: ...


class PhoneCarrierCheck(Protocol):
    """The carrier's real-name record: is this phone registered to this name and ID?"""

    def check(self, name: str, id_number: str, phone: str) -> Verdict: ...


class BankAccountTransferCheck(Protocol):
    """Did a small transfer quoting `reference` arrive from an account held by `name`?"""

    def check(self, name: str, reference: str) -> Verdict: ...


def _key(value: str) -> str:
    return "".join(value.split()).upper()


@dataclass
class FakeService:
    """What every fake shares: availability, latency, a call count and forced failures."""

    channel: str = "kyc"
    lenient: bool = True
    available: bool = True
    latency: float = 0.0
    calls: int = 0
    _failing: set[str] = field(default_factory=set, repr=False)

    def fail_for(self, *keys: str) -> None:
        self._failing.update(_key(k) for k in keys)

    def recover(self, *keys: str) -> None:
        self._failing.difference_update(_key(k) for k in keys)

    def _enter(self, *keys: str) -> bool:
        """Count the call, wait, refuse if down; True if one of `keys` was told to fail."""
        self.calls += 1
        if self.latency:
            time.sleep(self.latency)
        if not self.available:
            raise unavailable(self.channel)
        return any(_key(k) in self._failing for k in keys)

    def _known(self, record: object | None, expected: object) -> Verdict:
        if record is None:
            return Verdict.MATCH if self.lenient else Verdict.MISMATCH
        return Verdict.MATCH if record == expected else Verdict.MISMATCH


@dataclass
class FakeIdAuthority(FakeService):
    channel: str = "id_authority"
    _people: dict[str, str] = field(default_factory=dict, repr=False)

    def register(self, id_number: str, name: str) -> None:
        self._people[_key(id_number)] = name

    def check(self, name: str, id_number: str) -> Verdict:
        if self._enter(id_number):
            return Verdict.MISMATCH
        return self._known(self._people.get(_key(id_number)), name)


@dataclass
class FakeBankCardVerifier(FakeService):
    channel: str = "bank_card_four_elements"
    _cards: dict[str, tuple[str, str, str, str | None]] = field(default_factory=dict, repr=False)

    def issue(
        self, pan: str, name: str, id_number: str, phone: str, cvv2: str | None = None
    ) -> None:
        self._cards[_key(pan)] = (name, _key(id_number), phone, cvv2)

    def verify(self, elements: FourElements, security: CardSecurity | None) -> Verdict:
        e = elements
        if self._enter(e.pan, e.id_number, e.phone):
            return Verdict.MISMATCH
        record = self._cards.get(_key(e.pan))
        if record is not None and record[3] is not None:
            given = security.cvv2 if security else None
            return self._known(record, (e.name, _key(e.id_number), e.phone, given))
        expected = (e.name, _key(e.id_number), e.phone)
        return self._known(record[:3] if record else None, expected)


@dataclass
class FakeFaceMatcher(FakeService):
    """Scores are stable per (ID, selfie): 0.90-0.99 for a match, 0.05-0.35 when told to
    fail, or whatever `set_score` said."""

    channel: str = "face_match"
    _scores: dict[str, float] = field(default_factory=dict, repr=False)

    def set_score(self, selfie_ref: str, score: float) -> None:
        self._scores[_key(selfie_ref)] = score

    def score(self, name: str, id_number: str, selfie_ref: str) -> float:
        failing = self._enter(id_number, selfie_ref)
        fixed = self._scores.get(_key(selfie_ref))
        if fixed is not None:
            return fixed
        spread = hashlib.sha256(f"{_key(id_number)}|{selfie_ref}".encode()).digest()[0] / 2550
        if failing or not self.lenient:
            return round(0.05 + 3 * spread, 3)
        return round(0.90 + spread, 3)


@dataclass
class FakePhoneCarrier(FakeService):
    channel: str = "phone_carrier"
    _subscribers: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    def register(self, phone: str, name: str, id_number: str) -> None:
        self._subscribers[_key(phone)] = (name, _key(id_number))

    def check(self, name: str, id_number: str, phone: str) -> Verdict:
        if self._enter(phone, id_number):
            return Verdict.MISMATCH
        return self._known(self._subscribers.get(_key(phone)), (name, _key(id_number)))


@dataclass
class FakeBankTransfers(FakeService):
    """Transfers that arrived, by reference, with the payer account holder's name."""

    channel: str = "bank_account_transfer"
    _arrived: dict[str, str] = field(default_factory=dict, repr=False)

    def arrive(self, reference: str, payer_name: str) -> None:
        self._arrived[_key(reference)] = payer_name

    def check(self, name: str, reference: str) -> Verdict:
        if self._enter(reference):
            return Verdict.MISMATCH
        return self._known(self._arrived.get(_key(reference)), name)


@dataclass(frozen=True)
class Kyc:
    """The verification channels a use case may call, handed in by the edge."""

    id_authority: IdAuthority
    bank_cards: BankCardVerifier
    faces: FaceMatcher
    carrier: PhoneCarrierCheck
    transfers: BankAccountTransferCheck
    face_threshold: float = 0.8

    @classmethod
    def fakes(cls, *, lenient: bool = True, latency: float = 0.0) -> FakeKyc:
        return FakeKyc(
            FakeIdAuthority(lenient=lenient, latency=latency),
            FakeBankCardVerifier(lenient=lenient, latency=latency),
            FakeFaceMatcher(lenient=lenient, latency=latency),
            FakePhoneCarrier(lenient=lenient, latency=latency),
            FakeBankTransfers(lenient=lenient, latency=latency),
        )


@dataclass(frozen=True)
class FakeKyc(Kyc):
    """`Kyc` with the fakes' types, so tests can steer them without casts."""

    id_authority: FakeIdAuthority
    bank_cards: FakeBankCardVerifier
    faces: FakeFaceMatcher
    carrier: FakePhoneCarrier
    transfers: FakeBankTransfers

    def services(self) -> list[FakeService]:
        return [self.id_authority, self.bank_cards, self.faces, self.carrier, self.transfers]
