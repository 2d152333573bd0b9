"""Merchants' own API access: their RSA2 public keys, and checking a signed request.

Who may act for a merchant: a request signed with one of its live keys, or an operator
with the analyst role (the console acting on a merchant's behalf). A parent merchant's
key also acts for its sub-merchants (a platform runs its shops), never the reverse.
Authenticating claims the nonce; the edge commits that in its own transaction before the
endpoint runs (storage/merchant_api.py says why).
"""

from __future__ import annotations

from dataclasses import dataclass

from guardpay.domain.merchants import signing
from guardpay.errors import AuthenticationFailed, NotFound, PermissionDenied
from guardpay.security import merchant_keys
from guardpay.services.identity import facade as identity
from guardpay.services.platform import access
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import new_id
from guardpay.storage.merchant_api import ApiKeyRow

ACT_FOR_MERCHANT_ROLE = "analyst"


@dataclass(frozen=True)
class SignedRequest:
    header: str
    method: str
    path_and_query: str
    body: bytes


def add_key(ctx: Context, merchant_id: str, public_key_pem: str) -> ApiKeyRow:
    """Register a merchant's public key (an operator onboards it); the key id to sign with."""
    access.require_role(ctx, ACT_FOR_MERCHANT_ROLE)
    identity.get_merchant(ctx, merchant_id)
    fingerprint = merchant_keys.fingerprint(public_key_pem)
    row = ApiKeyRow(
        new_id("mak"), merchant_id, public_key_pem.strip(), fingerprint, ctx.now(), None
    )
    ctx.uow.merchant_api.insert_key(row)
    ctx.audit(
        "merchant.api_key_added",
        subject=merchant_id,
        details={"key_id": row.id, "fingerprint": fingerprint},
    )
    return row


def list_keys(ctx: Context, merchant_id: str) -> list[ApiKeyRow]:
    identity.get_merchant(ctx, merchant_id)
    return ctx.uow.merchant_api.keys_of(merchant_id)


def revoke_key(ctx: Context, merchant_id: str, key_id: str) -> ApiKeyRow:
    access.require_role(ctx, ACT_FOR_MERCHANT_ROLE)
    row = ctx.uow.merchant_api.key(key_id)
    if row is None or row.merchant_id != merchant_id:
        raise NotFound("no such API key for this merchant", param="key_id")
    if row.revoked_at is None:
        ctx.uow.merchant_api.revoke(key_id, ctx.now())
        ctx.audit("merchant.api_key_revoked", subject=merchant_id, details={"key_id": key_id})
    found = ctx.uow.merchant_api.key(key_id)
    assert found is not None
    return found


def authenticate(ctx: Context, request: SignedRequest) -> ApiKeyRow:
    """The live key that signed `request`, its nonce now spent; 401 with a specific code
    (`signature_expired`, `api_key_unknown`, `signature_invalid`, `nonce_reused`) else."""
    header = signing.parse_header(request.header)
    signing.check_fresh(header.timestamp, ctx.now())
    key = ctx.uow.merchant_api.key(header.key_id)
    if key is None or key.revoked_at is not None:
        raise AuthenticationFailed("unknown or revoked API key", code="api_key_unknown")
    message = signing.canonical(
        request.method, request.path_and_query, header.timestamp, header.nonce, request.body
    )
    merchant_keys.verify(key.public_key, header.signature, message)
    if not ctx.uow.merchant_api.claim_nonce(key.id, header.nonce, ctx.now()):
        raise AuthenticationFailed("this nonce was already used", code="nonce_reused")
    return key


def require_merchant(ctx: Context, merchant_id: str) -> None:
    """The acting party may act for `merchant_id`: its own (or its parent's) signed key,
    a user on its own staff (a parent's staff are not its staff: staff are added shop by
    shop), or an analyst operator. 403 `merchant_mismatch` for another merchant's key or
    another merchant's staff."""
    if ctx.actor.kind == "operator":
        access.require_role(ctx, ACT_FOR_MERCHANT_ROLE)
        return
    merchant = identity.get_merchant(ctx, merchant_id)
    ours = {merchant.id, merchant.parent_id}
    if ctx.actor.kind == "merchant" and ctx.actor.id in ours:
        return
    if ctx.actor.kind == "user" and merchant.id in ctx.uow.identity.staff_merchants(ctx.actor.id):
        return
    raise PermissionDenied("this key cannot act for that merchant", code="merchant_mismatch")


def require_payment_merchant(ctx: Context, payment_id: str) -> None:
    """`require_merchant` for the merchant a payment went to; a payment that went to no
    merchant, or to one this key cannot act for, is 404 (no probing of other ids)."""
    row = ctx.uow.payments.payment(payment_id)
    if row is None or row.payee_kind != "merchant":
        raise NotFound("no such merchant payment", param="payment_id")
    try:
        require_merchant(ctx, row.payee_id)
    except PermissionDenied:
        if ctx.actor.kind == "operator":
            raise
        raise NotFound("no such merchant payment", param="payment_id") from None
