"""Who a regulatory report names: each customer's identity, taken when the report is
made and sealed apart from its content.

A regulator needs each reported customer's identity (PBOC Order 2016 No. 3 asks for the
name and identity document of the customer of each reported transaction): for a person,
the legal name, document type, issuing country and number verified at real-name
registration, and the phone; for a merchant, the registered name and registration number.

Why taken at the report, not read at download: the report says who the customer was when
it was made, and its files keep rendering the same bytes (the hashes recorded at filing).

Why sealed under the platform's reports key (`platform:reports`), not the person's: the
law that makes the institution report also makes it keep what it reported (the PRC AML
Law asks for customer identity and transaction records to be kept for at least five years
after the relationship ends; PIPL art. 47 lets a retention the law requires outlast an
erasure request). Erasing a person destroys their own keys and so every copy of their
data in the live tables, but not what was filed about them. The report's content itself
holds only ids, so it is shown to any operator; the files, which carry the identities,
only to an analyst or above, and each download is audited.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from guardpay.services.identity.common import open_field
from guardpay.services.platform.context import Context
from guardpay.services.reports.files import IDENTITY, Files, render

SUBJECT = "platform:reports"
FIELD = "identity"

Identity = dict[str, str | None]


def keep(ctx: Context, report_id: str, customers: Iterable[str]) -> None:
    """Seal and keep the identity of each customer (a user or merchant) the report names;
    anything else it names (a card outside the platform) has none."""
    sealed: dict[str, str] = {}
    for customer in sorted(set(customers)):
        found = identity_of(ctx, customer)
        if found is not None:
            text = json.dumps(found, sort_keys=True, ensure_ascii=False)
            sealed[customer] = ctx.vault.encrypt(SUBJECT, FIELD, text)
    ctx.uow.reports.add_identities(report_id, SUBJECT, sealed)


def opened(ctx: Context, report_id: str) -> dict[str, Identity]:
    """customer -> identity, of one report (none for one filed before identities were)."""
    kept = ctx.uow.reports.identities(report_id)
    return {c: json.loads(ctx.vault.decrypt(SUBJECT, FIELD, t)) for c, t in kept.items()}


def files(ctx: Context, report_id: str, stored: str) -> Files:
    """The report's files, its identities opened and rendered in."""
    return render(stored, opened(ctx, report_id))


def identity_of(ctx: Context, customer: str) -> Identity | None:
    """A customer's identity as the live tables hold it now (`[erased]` where erased)."""
    if customer.startswith("usr_"):
        return _person(ctx, customer)
    if customer.startswith("mer_"):
        return _merchant(ctx, customer)
    return None


def _person(ctx: Context, user_id: str) -> Identity | None:
    user = ctx.uow.identity.user(user_id)
    if user is None:
        return None
    doc = ctx.uow.identity.document_of(user_id)
    phone = open_field(ctx, user_id, "phone", user.phone_enc)
    if doc is None:  # not real-name verified: the platform knows only the phone
        return {"kind": "individual", "phone": phone} | dict.fromkeys(IDENTITY[:4])
    return {
        "kind": "individual",
        "name": open_field(ctx, user_id, "legal_name", doc.name_enc),
        "document_type": doc.doc_type,
        "document_country": doc.country,
        "document_number": open_field(ctx, user_id, "document_number", doc.number_enc),
        "phone": phone,
    }


def _merchant(ctx: Context, merchant_id: str) -> Identity | None:
    merchant = ctx.uow.identity.merchant(merchant_id)
    if merchant is None:
        return None
    number = open_field(ctx, merchant_id, "registration_number", merchant.registration_enc)
    return {
        "kind": "non_individual",
        "name": merchant.legal_name,
        "document_type": None if number is None else "business_registration",
        "document_country": None,
        "document_number": number,
        "phone": None,
    }
