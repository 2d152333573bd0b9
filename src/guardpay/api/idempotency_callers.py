"""Whose Idempotency-Keys a request uses: only a caller proven to be who it says.

A stored answer is sent back without running the endpoint, so without its
authentication: the caller a key is filed under must be verified before a key is
looked up or stored, or anyone naming a victim gets the victim's answers (a payer's id
in a merchant's collection) or burns the victim's keys with answers of their own.

- No `Authorization` header: the client address (registration and other anonymous
  calls, whose answers carry nothing of anyone else's).
- A bearer token: the subject of a live session (`session_problem`, the rule the
  endpoint's own check applies), so a key outlives one login. A revoked, expired or
  unknown token is nobody: `caller_of` answers None and the request runs unkeyed (the
  endpoint refuses it, 401) and nothing is stored.
- A merchant signature (`signed_by_merchant`): not decided here. The key id in the
  header is only claimed until the RSA2 signature checks, and checking it spends the
  nonce, which the endpoint's dependency does (api/deps.py `_merchant_key`): it claims
  the key in that same transaction, under `merchant_caller`, once the key id is proven
  (api/idempotency.py `InEndpoint`). A request that never gets that far (a forged
  signature, an unknown route) claims, replays and stores nothing.
- Any other `Authorization` scheme: nobody, as an unknown token.
"""

from __future__ import annotations

from datetime import datetime

from guardpay.api import asgi
from guardpay.domain.auth.sessions import Session, session_problem
from guardpay.domain.auth.settings import DEFAULT_SETTINGS
from guardpay.domain.merchants import signing
from guardpay.security.tokens import token_hash
from guardpay.storage.uow import UnitOfWork

#: the caller of a merchant-signed request, by the key id its signature proved
SIGNED = "merchant-key:"


def session_caller(session: Session) -> str:
    """Whose keys a session's requests use: its subject's, so they outlive the session."""
    return f"{session.subject_kind}:{session.subject_id}"


def merchant_caller(key_id: str) -> str:
    """Whose keys a merchant-signed request uses, once its signature has checked."""
    return f"{SIGNED}{key_id}"


def signed_by_merchant(scope: asgi.Scope) -> bool:
    """The request carries a merchant signature (checked or not): the same test as
    api/deps.py `_signed_request`, so every such request reaches `_merchant_key` or
    no key of it is claimed at all."""
    return (asgi.header(scope, b"authorization") or "").startswith(signing.SCHEME + " ")


def caller_of(uow: UnitOfWork, scope: asgi.Scope, now: datetime) -> str | None:
    """The verified caller of a request that is not merchant-signed, or None if its
    credentials prove no one (module docstring): then it must run unkeyed."""
    auth = asgi.header(scope, b"authorization")
    if auth is None:
        client = scope.get("client")
        return f"ip:{client[0] if client else '-'}"
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    if not token:
        return None
    session = uow.auth.session_by_token_hash(token_hash(token))
    if session is None or session_problem(session, now, DEFAULT_SETTINGS.sessions):
        return None
    return session_caller(session)
