"""`Idempotency-Key` on every POST under /v1, in Stripe's semantics.

The first request with a key claims (caller, key) and runs; its response (status and
body) is stored. The same key again from the same caller with the same method, path and
body gets the stored response back with `Idempotent-Replayed: true`, without running the
endpoint; with another path or body it is refused (400 `idempotency_key_reused`); while
the first is still running, 409 `idempotency_request_in_progress`. The caller is the
bearer session's subject (so a key survives logging in again), a merchant-signed call's
key id, else the client address.

What is stored, and why:
- every answer below 500 but 429, including the 4xx of `auth.COMMIT_ON` (a wrong payment
  password): the failure's bookkeeping committed, and replaying it answers the same guess
  the same way without counting it twice; a different guess is a different body, so needs
  a new key;
- not 5xx or 429: those changed nothing (the unit of work rolled back), so the claim is
  released and the same key may be retried;
- never the request body (only its SHA-256) and never a response that carries credentials:
  paths that mint them (`EXCLUDED`: logins, step-up completion, TOTP enrolment, an
  operator's reveal of personal data, webhook secrets, payment codes) ignore the key;
  they are protected from replay by their own single-use challenges and fresh device
  proofs.

The claim, the endpoint's unit of work and the stored response are three transactions: if
the process dies after the endpoint committed and before the response is stored, the key
stays "in progress" (409) until it is purged, so a retry can never run the endpoint twice.
Keys are optional unless `IdempotencySettings.required` (`GUARDPAY_IDEMPOTENCY_REQUIRED=1`).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import RequestResponseEndpoint

from guardpay.api.deps import client_ip
from guardpay.api.errors import error_body
from guardpay.domain.merchants import signing
from guardpay.security.tokens import token_hash
from guardpay.storage.db import Database
from guardpay.storage.idempotency import IN_PROGRESS, IdempotencyRepository, StoredKey
from guardpay.storage.uow import read_only, unit_of_work

HEADER = "Idempotency-Key"
#: the caller of a merchant-signed request: its key id (as claimed by the header)
SIGNED = "merchant-key:"
REPLAYED = "Idempotent-Replayed"
KEY_MAX = 255
REQUIRED_ENV = "GUARDPAY_IDEMPOTENCY_REQUIRED"

#: POSTs whose responses carry credentials or revealed personal data: never stored.
EXCLUDED = tuple(
    re.compile(p)
    for p in (
        r"^/v1/sessions$",
        r"^/v1/operator/sessions$",
        r"^/v1/step-ups/[^/]+/complete$",
        r"^/v1/me/totp$",
        r"^/v1/operator/users/[^/]+/reveal$",
        r"^/v1/merchants/[^/]+/webhook-endpoint$",
        r"^/v1/me/payment-codes$",  # a payment code is a credential, if a short-lived one
    )
)


@dataclass(frozen=True)
class IdempotencySettings:
    required: bool = False  # refuse a POST under /v1 without a key
    retention: timedelta = timedelta(hours=24)  # keys are kept at least this long

    @classmethod
    def from_environment(cls) -> IdempotencySettings:
        return cls(required=os.environ.get(REQUIRED_ENV, "").lower() in ("1", "true", "yes"))


def _error(status: int, code: str, message: str, type_: str = "invalid_request_error") -> Response:
    return JSONResponse(error_body(type_, code, message, HEADER), status)


def applies(request: Request) -> bool:
    path = request.url.path
    return (
        request.method == "POST"
        and path.startswith("/v1/")
        and not any(p.match(path) for p in EXCLUDED)
    )


def caller_of(db: Database, request: Request) -> str:
    """The session's subject; an unknown token stands for itself (hashed: the endpoint
    will refuse it anyway); no token, the client address."""
    auth = request.headers.get("authorization", "")
    if auth.startswith(signing.SCHEME + " "):
        key_id = re.search(r"key_id=(mak_[a-z0-9]{1,40})", auth)
        return f"{SIGNED}{key_id.group(1) if key_id else '-'}"
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        digest = token_hash(auth[7:].strip())
        with read_only(db) as uow:
            session = uow.auth.session_by_token_hash(digest)
        if session is not None:
            return f"{session.subject_kind}:{session.subject_id}"
        return f"token:{digest[:32]}"
    return f"ip:{client_ip(request) or '-'}"


def _replay(found: StoredKey, request_path: str, request_hash: str) -> Response:
    if found.request_path != request_path or found.request_hash != request_hash:
        return _error(400, "idempotency_key_reused",
                      "this Idempotency-Key was used with a different request")  # fmt: skip
    if found.state == IN_PROGRESS or found.response_status is None:
        return _error(409, "idempotency_request_in_progress",
                      "a request with this Idempotency-Key is still in progress")  # fmt: skip
    headers = {REPLAYED: "true"}
    return Response(found.response_body or "", found.response_status, headers=headers,
                    media_type=found.response_type)  # fmt: skip


@dataclass(frozen=True)
class _Claim:
    db: Database
    caller: str
    key: str

    def take(self, request_path: str, request_hash: str, now: datetime) -> Response | None:
        """None if this request may run; else the answer (a replay or an error)."""
        with unit_of_work(self.db) as uow:
            repo = IdempotencyRepository(uow.conn)
            if repo.claim(self.caller, self.key, request_path, request_hash, now):
                return None
            found = repo.find(self.caller, self.key)
        if found is None:  # purged in between: treat as a race lost
            return _error(409, "idempotency_request_in_progress", "retry this request")
        return _replay(found, request_path, request_hash)

    def store(self, status: int, media_type: str | None, body: bytes, now: datetime) -> None:
        with unit_of_work(self.db) as uow:
            repo = IdempotencyRepository(uow.conn)
            text = _text(body)
            if status >= 500 or status == 429 or text is None or self._unsigned(status):
                repo.release(self.caller, self.key)
            else:
                repo.complete(self.caller, self.key, status, media_type, text, now)

    def _unsigned(self, status: int) -> bool:
        """A merchant key id is only claimed by the header until the signature checks: a
        401 there must not be stored, or anyone could poison the merchant's keys."""
        return status == 401 and self.caller.startswith(SIGNED)

    def release(self) -> None:
        with unit_of_work(self.db) as uow:
            IdempotencyRepository(uow.conn).release(self.caller, self.key)


def _text(body: bytes) -> str | None:
    try:
        return body.decode()
    except UnicodeDecodeError:
        return None


async def _run(claim: _Claim, request: Request, call_next: RequestResponseEndpoint) -> Response:
    now = request.app.state.clock
    try:
        response = await call_next(request)
    except BaseException:
        await run_in_threadpool(claim.release)
        raise
    chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
    body = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
    media_type = response.headers.get("content-type")
    await run_in_threadpool(claim.store, response.status_code, media_type, body, now())
    return Response(body, response.status_code, headers=dict(response.headers))


def install(app: FastAPI, settings: IdempotencySettings) -> None:
    @app.middleware("http")
    async def _idempotency(request: Request, call_next: RequestResponseEndpoint) -> Response:
        if not applies(request):
            return await call_next(request)
        key = request.headers.get(HEADER)
        if key is None:
            if settings.required:
                return _error(400, "idempotency_key_required", "send an Idempotency-Key header")
            return await call_next(request)
        if not key.strip() or len(key) > KEY_MAX:
            return _error(400, "parameter_invalid", "the Idempotency-Key must be 1-255 chars")
        db: Database = request.app.state.db
        body_hash = hashlib.sha256(await request.body()).hexdigest()
        caller = await run_in_threadpool(caller_of, db, request)
        claim = _Claim(db, caller, key)
        now = request.app.state.clock()
        answer = await run_in_threadpool(claim.take, f"POST {request.url.path}", body_hash, now)
        return answer if answer is not None else await _run(claim, request, call_next)


def purge(db: Database, now: datetime, settings: IdempotencySettings) -> int:
    """Forget keys older than the retention (at least 24 h); how many. Run it from a
    periodic job: a key is honoured for as long as its row exists."""
    with unit_of_work(db) as uow:
        return IdempotencyRepository(uow.conn).purge(now - settings.retention)
