"""Users: registration by phone, real-name verification, and the account class it earns.

Verification runs the channels the caller brings evidence for (KYC adapters in `Kyc`,
handed in by the edge so tests and the demo use the fakes) and records one attempt per
channel — channel and outcome only. A failed or unavailable channel is an outcome, not a
rejection: it is recorded and audited and the result says what happened, so repeated
failures stay visible to risk control. Bad input, on the other hand, is rejected before
any channel is called and changes nothing.

The document and the legal name are stored (encrypted) once the first channel passes;
later verifications must name the same person (`identity_mismatch` otherwise) and add
channels. The class is recomputed from every channel ever passed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from guardpay.adapters.kyc import FourElements, Kyc, Verdict, is_unavailable
from guardpay.domain.identity.cards import Card, CardSecurity, card_security, parse_card
from guardpay.domain.identity.classes import AccountClass, Channel, can_pay, class_for
from guardpay.domain.identity.documents import Document, DocumentType, normalize_name
from guardpay.domain.identity.documents import parse_document as _parse_document
from guardpay.domain.identity.masking import mask_id_number, mask_name, mask_phone
from guardpay.domain.identity.merchants import normalize_label
from guardpay.domain.identity.phone import normalize_phone
from guardpay.errors import Conflict, GuardpayError, InvalidRequest
from guardpay.services.identity.common import live_user, load_user, today
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import new_id
from guardpay.storage.identity import DocumentRow, UserRow
from guardpay.storage.uow import UnitOfWork

DISPLAY_NAME_MAX = 32


@dataclass(frozen=True)
class User:
    """A user as shown to anyone but an auditing operator: personal data masked."""

    id: str
    phone: str
    display_name: str | None
    status: str
    account_class: AccountClass
    can_pay: bool
    created_at: datetime
    verified_at: datetime | None


def user_view(ctx: Context, row: UserRow) -> User:
    phone = display = None
    if row.status != "erased":
        phone = mask_phone(ctx.vault.decrypt(row.id, "phone", row.phone_enc))
        if row.display_name_enc is not None:
            display = mask_name(ctx.vault.decrypt(row.id, "display_name", row.display_name_enc))
    cls = AccountClass(row.account_class)
    return User(
        row.id, phone or "", display, row.status, cls, can_pay(cls), row.created_at, row.verified_at
    )


def register_user(ctx: Context, phone: str, display_name: str | None = None) -> User:
    """A new account for a phone number (`phone_taken` if it has one)."""
    e164 = normalize_phone(phone)
    name = None
    if display_name is not None:
        name = normalize_label(
            display_name,
            param="display_name",
            max_len=DISPLAY_NAME_MAX,
            code="invalid_display_name",
        )
    index = ctx.vault.blind_index("phone", e164)
    if ctx.uow.identity.user_by_phone_index(index) is not None:
        raise Conflict(
            "this phone number already has an account", code="phone_taken", param="phone"
        )
    user_id = new_id("usr")
    row = UserRow(
        id=user_id,
        phone_enc=ctx.vault.encrypt(user_id, "phone", e164),
        phone_index=index,
        display_name_enc=ctx.vault.encrypt(user_id, "display_name", name) if name else None,
        status="active",
        account_class=AccountClass.UNVERIFIED.value,
        person_index=None,
        pseudonym=None,
        created_at=ctx.now(),
        verified_at=None,
        erased_at=None,
    )
    ctx.uow.identity.insert_user(row)
    ctx.audit("user.registered", subject=user_id, details={"mobile": mask_phone(e164)})
    return user_view(ctx, row)


def get_user(ctx: Context, user_id: str) -> User:
    return user_view(ctx, load_user(ctx, user_id))


@dataclass(frozen=True)
class Standing:
    """What a balance payment must respect (the payments use cases read this): the class,
    whether the account may pay at all, and every account verified as the same person,
    because the class limits count a customer's payments across all their accounts."""

    user_id: str
    account_class: AccountClass
    can_pay: bool
    person_accounts: list[str]


def account_standing(ctx: Context, user_id: str) -> Standing:
    user = load_user(ctx, user_id)
    cls = AccountClass(user.account_class)
    accounts = person_accounts(ctx.uow, user)
    return Standing(user.id, cls, can_pay(cls) and user.status == "active", accounts)


def person_accounts(uow: UnitOfWork, user: UserRow) -> list[str]:
    """Every account verified as the same person as `user` (just `user`'s, unverified):
    what the class limits count across."""
    if user.person_index is None:
        return [user.id]
    return uow.identity.users_of_person(user.person_index)


@dataclass(frozen=True)
class CardEvidence:
    """A card for the four-element check; CVV2 and expiry only for credit cards."""

    pan: str
    reserved_phone: str
    cvv2: str | None = None
    expiry: str | None = None

    def __repr__(self) -> str:
        return "CardEvidence(***)"


@dataclass(frozen=True)
class Evidence:
    """Which channels to try: the ID authority (resident IDs), the four-element check of
    a card, a face match for an uploaded selfie, the carrier's record of the account's
    phone, and a verification transfer quoting a reference."""

    id_authority: bool = True
    card: CardEvidence | None = None
    selfie_ref: str | None = None
    phone_carrier: bool = False
    transfer_reference: str | None = None


@dataclass(frozen=True)
class VerificationResult:
    account_class: AccountClass
    passed: list[str]
    failed: list[str]
    unavailable: list[str]
    channels: list[str] = field(default_factory=list)  # every channel ever passed


@dataclass(frozen=True)
class _Checked:
    """The request after validation: nothing here has been sent anywhere yet."""

    name: str
    document: Document
    card: tuple[Card, str, CardSecurity | None] | None

    def __repr__(self) -> str:
        return f"_Checked({mask_name(self.name)}, {self.document!r})"


def _validate(
    ctx: Context,
    name: str,
    document_type: str,
    document_number: str,
    country: str | None,
    evidence: Evidence,
) -> _Checked:
    legal_name = normalize_name(name)
    document = _parse_document(document_type, document_number, today(ctx), country)
    card = None
    if evidence.card is not None:
        ev = evidence.card
        parsed = parse_card(ev.pan)
        reserved = normalize_phone(ev.reserved_phone, param="reserved_phone")
        card = (parsed, reserved, card_security(parsed.card_type, ev.cvv2, ev.expiry, today(ctx)))
    return _Checked(legal_name, document, card)


def _same_person(
    ctx: Context, user_id: str, stored: DocumentRow, doc_index: str, name: str
) -> None:
    stored_name = ctx.vault.decrypt(user_id, "legal_name", stored.name_enc)
    if stored.number_index != doc_index or stored_name != name:
        raise Conflict(
            "this account is verified for another person",
            code="identity_mismatch",
            param="document_number",
        )


def _run(check: Callable[[], bool]) -> str:
    try:
        return "passed" if check() else "failed"
    except GuardpayError as exc:
        if not is_unavailable(exc):
            raise
        return "unavailable"


def _plan(
    ctx: Context, kyc: Kyc, user: UserRow, req: _Checked, ev: Evidence
) -> dict[Channel, Callable[[], bool]]:
    """The check of each channel the evidence asks for and the document allows (the ID
    authority knows resident IDs only); nothing is called yet."""
    name, number = req.name, req.document.number
    runs: dict[Channel, Callable[[], bool]] = {}
    if ev.id_authority and req.document.type is DocumentType.RESIDENT_ID:
        runs[Channel.ID_AUTHORITY] = lambda: kyc.id_authority.check(name, number) is Verdict.MATCH
    if req.card is not None:
        card, reserved, security = req.card
        four = FourElements(name, number, card.pan, reserved)
        runs[Channel.BANK_CARD_FOUR_ELEMENTS] = lambda: (
            kyc.bank_cards.verify(four, security) is Verdict.MATCH
        )
    if ev.selfie_ref:
        selfie = ev.selfie_ref
        runs[Channel.FACE_MATCH] = lambda: (
            kyc.faces.score(name, number, selfie) >= kyc.face_threshold
        )
    if ev.phone_carrier:
        phone = ctx.vault.decrypt(user.id, "phone", user.phone_enc)
        runs[Channel.PHONE_CARRIER] = lambda: (
            kyc.carrier.check(name, number, phone) is Verdict.MATCH
        )
    if ev.transfer_reference:
        ref = ev.transfer_reference
        runs[Channel.BANK_ACCOUNT_TRANSFER] = lambda: (
            kyc.transfers.check(name, ref) is Verdict.MATCH
        )
    if not runs:
        raise InvalidRequest(
            "no verification channel applies: bring evidence for at least one",
            code="no_verification_channel",
            param="evidence",
        )
    return runs


def seed_verified(ctx: Context, user_id: str, account_class: str, at: datetime) -> None:
    """Set the account class as verification would, without the checks or a document.
    Only for filling a database with people who are already verified (the simulator's
    set-up)."""
    ctx.uow.identity.set_verified(user_id, account_class, None, at)


def verify_identity(
    ctx: Context,
    kyc: Kyc,
    user_id: str,
    *,
    name: str,
    document_type: str,
    document_number: str,
    evidence: Evidence,
    country: str | None = None,
) -> VerificationResult:
    """Real-name verification; see the module docstring for what is kept and when."""
    req = _validate(ctx, name, document_type, document_number, country, evidence)
    user = live_user(ctx, user_id, for_update=True)
    repo = ctx.uow.identity
    doc_index = ctx.vault.blind_index("document", f"{req.document.type}:{req.document.number}")
    stored = repo.document_of(user_id)
    if stored is not None:
        _same_person(ctx, user_id, stored, doc_index, req.name)
    outcomes = {c: _run(check) for c, check in _plan(ctx, kyc, user, req, evidence).items()}
    now = ctx.now()
    repo.add_attempts(user_id, [(c.value, o) for c, o in outcomes.items()], now)
    passed = [c.value for c, o in outcomes.items() if o == "passed"]
    if passed and stored is None:
        _store_document(ctx, user_id, req, doc_index, now)
    cls = AccountClass(user.account_class)
    if passed or stored is not None:
        cls = class_for(repo.passed_channels(user_id))
        repo.set_verified(user_id, cls.value, doc_index, now)
    result = VerificationResult(
        cls, passed, *_by_outcome(outcomes), channels=sorted(repo.passed_channels(user_id))
    )
    _audit_verification(ctx, user_id, req.document, result)
    return result


def _by_outcome(outcomes: dict[Channel, str]) -> tuple[list[str], list[str]]:
    failed = [c.value for c, o in outcomes.items() if o == "failed"]
    return failed, [c.value for c, o in outcomes.items() if o == "unavailable"]


def _store_document(
    ctx: Context, user_id: str, req: _Checked, doc_index: str, at: datetime
) -> None:
    doc = req.document
    ctx.uow.identity.insert_document(
        DocumentRow(
            id=new_id("doc"),
            user_id=user_id,
            doc_type=doc.type.value,
            country=doc.country,
            number_enc=ctx.vault.encrypt(user_id, "document_number", doc.number),
            number_index=doc_index,
            name_enc=ctx.vault.encrypt(user_id, "legal_name", req.name),
            verified_at=at,
        )
    )


def _audit_verification(
    ctx: Context, user_id: str, doc: Document, result: VerificationResult
) -> None:
    details = {
        "document_type": doc.type.value,
        "document": mask_id_number(doc.number),
        "passed": result.passed,
        "failed": result.failed,
        "unavailable": result.unavailable,
        "account_class": result.account_class.value,
    }
    if result.passed:
        ctx.audit("identity.verified", subject=user_id, details=details)
    else:
        ctx.audit(
            "identity.verification_failed", subject=user_id, outcome="failed", details=details
        )
