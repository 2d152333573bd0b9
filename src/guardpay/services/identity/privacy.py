"""A person's rights over their data, and the operator's audited look at it.

- `export_person`: everything held about the person, decrypted, as a JSON-able dict (the
  person themself, the system, or an analyst may ask); audited.
- `erase_person`: crypto-shredding. The person's data keys are destroyed, so every field
  sealed for them (phone, names, document, card numbers — and every backup copy of those
  ciphertexts) is unreadable at once; the blind indexes are removed so the phone and
  cards can be used again; the rows stay under the user id with a pseudonym, so the
  ledger and the audit log keep their history. Afterwards an export shows `[erased]`.
- `reveal_field`: an operator (analyst or above) sees one field in full, with a reason
  that goes into the audit log.
"""

from __future__ import annotations

from typing import Any

from guardpay.errors import Conflict, InvalidRequest, NotFound
from guardpay.services.auth.sessions import revoke_all_sessions
from guardpay.services.identity.common import (
    iso,
    live_user,
    load_user,
    open_field,
    require_operator,
    require_self_or_operator,
)
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import new_id
from guardpay.storage.identity import CardRow, DocumentRow, UserRow

EXPORT_ROLE = "analyst"
ERASE_ROLE = "supervisor"
REVEAL_ROLE = "analyst"
REASON_MIN = 10
#: revealable fields -> the vault field name they are sealed under
FIELDS = {
    "phone": "phone",
    "display_name": "display_name",
    "document_number": "document_number",
    "legal_name": "legal_name",
    "card_number": "pan",
}


def _user_part(ctx: Context, u: UserRow) -> dict[str, Any]:
    return {
        "id": u.id,
        "phone": open_field(ctx, u.id, "phone", u.phone_enc),
        "display_name": open_field(ctx, u.id, "display_name", u.display_name_enc),
        "status": u.status,
        "account_class": u.account_class,
        "pseudonym": u.pseudonym,
        "created_at": iso(u.created_at),
        "verified_at": iso(u.verified_at),
        "erased_at": iso(u.erased_at),
    }


def _document_part(ctx: Context, d: DocumentRow | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "type": d.doc_type,
        "country": d.country,
        "number": open_field(ctx, d.user_id, "document_number", d.number_enc),
        "name": open_field(ctx, d.user_id, "legal_name", d.name_enc),
        "verified_at": iso(d.verified_at),
    }


def _card_part(ctx: Context, c: CardRow) -> dict[str, Any]:
    return {
        "id": c.id,
        "number": open_field(ctx, c.user_id, "pan", c.pan_enc),
        "bank": c.bank,
        "card_type": c.card_type,
        "scheme": c.scheme,
        "status": c.status,
        "bound_at": iso(c.bound_at),
        "unbound_at": iso(c.unbound_at),
    }


def export_person(ctx: Context, user_id: str) -> dict[str, Any]:
    """Everything held about the person, in the clear (it is theirs), as plain JSON types."""
    require_self_or_operator(ctx, user_id, EXPORT_ROLE)
    repo = ctx.uow.identity
    user = load_user(ctx, user_id)
    statuses = ("active", "unbound", "erased")
    export = {
        "exported_at": iso(ctx.now()),
        "user": _user_part(ctx, user),
        "identity_document": _document_part(ctx, repo.document_of(user_id)),
        "verifications": [
            {"channel": a.channel, "outcome": a.outcome, "at": iso(a.at)}
            for a in repo.attempts(user_id)
        ],
        "bank_cards": [_card_part(ctx, c) for c in repo.cards_of(user_id, statuses=statuses)],
        "audit_log": [
            {"at": iso(e.at), "action": e.action, "outcome": e.outcome, "actor": e.actor}
            for e in ctx.uow.audit.for_subject(user_id)
        ],
    }
    ctx.audit("person.exported", subject=user_id, details={"requested_by": ctx.actor.kind})
    return export


def erase_person(ctx: Context, user_id: str) -> str:
    """Crypto-shred the person; returns the pseudonym that now stands for them."""
    require_self_or_operator(ctx, user_id, ERASE_ROLE)
    user = load_user(ctx, user_id, for_update=True)
    if user.status == "erased":
        raise Conflict(
            "this person's data was already erased", code="already_erased", param="user_id"
        )
    repo, now = ctx.uow.identity, ctx.now()
    pseudonym = new_id("anon")
    destroyed = ctx.vault.shred(user_id)
    repo.mark_user_erased(user_id, pseudonym, now)
    repo.erase_document(user_id)
    instruments = repo.erase_cards(user_id, now)
    shops = repo.leave_all(user_id)  # no merchant's staff any more
    ended = revoke_all_sessions(ctx, user_id, "erased")  # nobody stays signed in as them
    ctx.audit(
        "person.erased",
        subject=user_id,
        details={
            "pseudonym": pseudonym,
            "destroyed": destroyed,
            "instruments": instruments,
            "sessions_ended": len(ended),
            "shops_left": shops,
            "requested_by": ctx.actor.kind,
        },
    )
    return pseudonym


def _reason(reason: str) -> str:
    text = " ".join(reason.split())
    if len(text) < REASON_MIN:
        raise InvalidRequest(
            f"say why (at least {REASON_MIN} characters): it is audited",
            code="reason_required",
            param="reason",
        )
    return text


def _token(ctx: Context, user: UserRow, field: str, card_id: str | None) -> str | None:
    repo = ctx.uow.identity
    if field == "phone":
        return user.phone_enc
    if field == "display_name":
        return user.display_name_enc
    if field == "card_number":
        card = repo.card(card_id) if card_id else None
        if card is None or card.user_id != user.id:
            raise NotFound("no such card on this account", param="card_id")
        return card.pan_enc
    document = repo.document_of(user.id)
    if document is None:
        return None
    return document.number_enc if field == "document_number" else document.name_enc


def reveal_field(
    ctx: Context, user_id: str, field: str, reason: str, *, card_id: str | None = None
) -> str:
    """One field in full, for an operator with a reason; audited as `pii.revealed`."""
    require_operator(ctx, REVEAL_ROLE)
    if field not in FIELDS:
        raise InvalidRequest(
            f"field is one of: {', '.join(FIELDS)}", code="invalid_field", param="field"
        )
    why = _reason(reason)
    user = live_user(ctx, user_id)
    token = _token(ctx, user, field, card_id)
    if token is None:
        raise NotFound("this person has no such field on record", param="field")
    value = ctx.vault.decrypt(user_id, FIELDS[field], token)
    details = {"field": field, "reason": why, "instrument_id": card_id}
    ctx.audit("pii.revealed", subject=user_id, details=details)
    return value
