"""`Idempotency-Key` on every POST under /v1, in Stripe's semantics.

The first request with a key claims (caller, key) and runs; its response (status and
body) is stored. The same key again from the same caller with the same method, path and
body gets the stored response back with `Idempotent-Replayed: true`, without running the
endpoint; with another path or body it is refused (400 `idempotency_key_reused`); while
the first is still running, 409 `idempotency_request_in_progress`.

Only a verified caller has keys (api/idempotency_callers.py): a replay skips the
endpoint and its authentication. The caller is a live session's subject (so a key
survives logging in again), a merchant-signed call's key id once its signature checks,
else (no credentials) the client address. Credentials proving no one (a dead token, a
forged signature) run unkeyed: the endpoint refuses them; nothing is replayed or stored.

What is stored, and why:
- every answer below 500 but 429, including a 4xx that kept its bookkeeping
  (`UnitOfWork.keep`: a wrong payment password): the failure's bookkeeping committed,
  and replaying it answers the same guess the same way without counting it twice; a
  different guess is a different body, so needs a new key;
- not 5xx or 429, nor any answer with `Retry-After` (a retryable refusal, errors.py,
  such as a conflict with a concurrent request): those changed nothing (the unit of
  work rolled back) and ask for the very retry a kept answer would refuse, so the claim
  is released and the same key may be retried;
- never the request body (only its SHA-256) and never a response that carries credentials:
  paths that mint them (`EXCLUDED`: logins, step-up completion, TOTP enrolment, an
  operator's reveal of personal data, webhook secrets, payment codes, operators'
  enrolment codes) ignore the key;
  they are protected from replay by their own single-use challenges and fresh device
  proofs.

Two ways to keep a key, one outcome:
- In general the claim, the endpoint's unit of work and the stored response are three
  transactions: if the process dies after the endpoint committed and before the response
  is stored, the key stays "in progress" (409) until it is purged, so a retry can never
  run the endpoint twice.
- Endpoints that open their unit of work themselves (the payment endpoints, api/deps.py
  `UserRequest`) keep the key in it (`InEndpoint`): the claim is the first write of the
  payment's own transaction, and a successful answer is stored in it before the commit,
  so the key, the payment and its answer commit together or not at all, and a payment
  takes one write transaction instead of three (on SQLite, one turn of the write lock).
  A request that loses the claim to a concurrent one with the same key rolls back and
  gets the winner's stored answer. A refusal (4xx) rolls back to a savepoint taken after
  the claim, commits the claim and is stored after, as above, so the key stays this
  request's throughout; a request refused before the endpoint began (malformed body, no
  session) stores nothing and may be retried with the same key, as Stripe does.
  A merchant-signed call's key is claimed by the endpoint too, as its signature checks
  (api/deps.py `_merchant_key`): the claim commits with the nonce, the answer after.

A device-signed request on an `EXCLUDED` path (a payment code) still needs its key: it is
the signature's nonce. `spend_nonce` claims it in the endpoint's unit of work and it is
never completed: nothing is replayed, and the same key from the same caller again is
refused (api/deps.py `_payer`), here or on any other path.

The keys are kept in the database (storage/idempotency.py), always through the
repository of the unit of work at hand (`uow.idempotency`), like every repository. This
middleware is HTTP plumbing, not a use case, so it reaches them directly rather than
through a service: which request is the same as which is a question about HTTP (caller,
method, path, body), and the claim must share the endpoint's own unit of work. The
routers never see the keys; the purge job is services/jobs/scheduler.py.

Keys are optional unless `IdempotencySettings.required` (`GUARDPAY_IDEMPOTENCY_REQUIRED=1`).
The OpenAPI document declares the header on every operation that keeps keys, with the
400 and 409 this middleware may answer there (`install`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from guardpay.api import asgi, errors
from guardpay.api.errors import error_body, status_of
from guardpay.api.idempotency_callers import caller_of, signed_by_merchant
from guardpay.config import Settings
from guardpay.errors import Conflict, GuardpayError
from guardpay.storage.engine.db import Database
from guardpay.storage.idempotency import IN_PROGRESS, IdempotencyRepository, StoredKey
from guardpay.storage.uow import UnitOfWork, read_only, unit_of_work

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY_MAX = 255
KEY_PATTERN = r"\S"  # not only spaces
REQUIRED_ENV = "GUARDPAY_IDEMPOTENCY_REQUIRED"
#: where an endpoint that keeps its own key finds it, in the ASGI scope
SCOPE_KEY = "guardpay.idempotency"

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
        r"^/v1/operator/operators/[^/]+/enrolment$",  # an enrolment code: kept hashed only
        r"^/v1/operator/operators/[^/]+/authenticator/reset$",
    )
)


@dataclass(frozen=True)
class IdempotencySettings:
    required: bool = False  # refuse a POST under /v1 without a key
    retention: timedelta = timedelta(hours=24)  # keys are kept at least this long

    @classmethod
    def from_settings(cls, settings: Settings) -> IdempotencySettings:
        return cls(required=settings.idempotency_required)


def _error(status: int, code: str, message: str, type_: str = "invalid_request_error") -> Answer:
    body = json.dumps(
        error_body(type_, code, message, HEADER), ensure_ascii=False, separators=(",", ":")
    ).encode()
    return Answer(status, [(b"content-type", b"application/json")], body)


@dataclass(frozen=True)
class Answer:
    """A whole response: what a replay or a refusal sends, and what an endpoint sent."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    async def send(self, send: asgi.Send) -> None:
        await asgi.send_whole(send, self.status, self.headers, self.body)


def applies(scope: asgi.Scope) -> bool:
    path: str = scope["path"]
    return (
        scope["method"] == "POST"
        and path.startswith("/v1/")
        and not any(p.match(path) for p in EXCLUDED)
    )


def _replay(found: StoredKey, request_path: str, request_hash: str) -> Answer:
    if found.request_path != request_path or found.request_hash != request_hash:
        return _error(
            400, "idempotency_key_reused", "this Idempotency-Key was used with a different request"
        )
    if found.state == IN_PROGRESS or found.response_status is None:
        return _error(
            409,
            "idempotency_request_in_progress",
            "a request with this Idempotency-Key is still in progress",
        )
    headers = [(REPLAYED.lower().encode(), b"true")]
    if found.response_type:
        headers.append((b"content-type", found.response_type.encode("latin-1")))
    body = (found.response_body or "").encode()
    if found.response_status == 401:  # only the body is kept: its header follows from it
        challenge = errors.www_authenticate(_error_code(body))
        headers.append((b"www-authenticate", challenge.encode("latin-1")))
    return Answer(found.response_status, headers, body)


def _error_code(body: bytes) -> str:
    """The `error.code` of an error body ("" if it has none)."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return ""
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else ""


@dataclass(frozen=True)
class _Claim:
    db: Database
    caller: str
    key: str

    def store(self, answer: Answer, now: datetime) -> None:
        with unit_of_work(self.db) as uow:
            repo = uow.idempotency
            text = _kept_text(answer)
            if text is None:
                repo.release(self.caller, self.key)
            else:
                _complete(repo, self.caller, self.key, answer, text, now)

    def release(self) -> None:
        with unit_of_work(self.db) as uow:
            uow.idempotency.release(self.caller, self.key)


def _open(
    db: Database, scope: asgi.Scope, key: str, request_path: str, request_hash: str, now: datetime
) -> tuple[_Claim | None, Answer | None]:
    """Who is asking, and their claim on the key, in one transaction (and one worker
    thread hop): no answer if this request may run, else a replay or an error; no claim
    either if its credentials prove no one (it runs unkeyed)."""
    with unit_of_work(db) as uow:
        caller = caller_of(uow, scope, now)
        if caller is None:
            return None, None
        claim = _Claim(db, caller, key)
        repo = uow.idempotency
        if repo.claim(claim.caller, key, request_path, request_hash, now):
            return claim, None
        found = repo.find(claim.caller, key)
    return claim, _answer_for(found, request_path, request_hash)


def _answer_for(found: StoredKey | None, request_path: str, request_hash: str) -> Answer:
    """What a request that lost the claim gets: the stored answer, or why not."""
    if found is None:  # purged in between: treat as a race lost
        return _error(409, "idempotency_request_in_progress", "retry this request")
    return _replay(found, request_path, request_hash)


def _kept_text(answer: Answer) -> str | None:
    """The answer's body as kept for replays, or None for one that asks for a retry
    (module docstring) or a body that is not text. Only a verified caller ever holds a
    claim to keep it."""
    retry = any(k.lower() == b"retry-after" for k, _ in answer.headers)
    return _text(answer.body) if storable_status(answer.status) and not retry else None


def storable_status(status: int) -> bool:
    """Whether an answer with this status is kept: not 5xx or 429, which changed nothing
    (the unit of work rolled back), so the claim is released and the key may be retried."""
    return status < 500 and status != 429


def storable_error(exc: GuardpayError) -> bool:
    """Whether an error's answer is kept: not one that asks for a retry (errors.py)."""
    return storable_status(status_of(exc)) and not exc.retryable


def _complete(
    repo: IdempotencyRepository, caller: str, key: str, answer: Answer, text: str, now: datetime
) -> None:
    media = next(
        (v.decode("latin-1") for k, v in answer.headers if k.lower() == b"content-type"), None
    )
    repo.complete(caller, key, answer.status, media, text, now)


@dataclass
class InEndpoint:
    """A key the endpoint claims itself (module docstring): in its own unit of work
    (`claim`, `keep`), or, for a merchant-signed call, in the transaction that checks the
    signature (`take`, `took`). Not frozen: the endpoint tells the middleware how far it
    got."""

    key: str
    request_path: str
    request_hash: str
    at: datetime
    caller: str | None = None  # set when the endpoint claims (a verified caller)
    lost: bool = False  # another request with this key claimed it first
    committed: bool = False  # the transaction with this request's claim committed
    kept_status: int | None = None  # the answer stored in that unit of work

    def claim(self, uow: UnitOfWork, caller: str) -> None:
        """The first write of the endpoint's transaction. A key taken already rolls it
        back (`Conflict`); the middleware then answers with the stored response."""
        if not self.take(uow, caller):
            raise _came_first()

    def take(self, uow: UnitOfWork, caller: str) -> bool:
        """Claim the key for `caller` in `uow`: whether this request won it."""
        self.caller = caller
        repo = uow.idempotency
        self.lost = not repo.claim(caller, self.key, self.request_path, self.request_hash, self.at)
        return not self.lost

    def took(self) -> None:
        """`take`'s transaction committed, whether or not it won (a merchant's, which
        spends the nonce either way: api/deps.py `_merchant_key`); a lost claim is
        refused now (`Conflict`), and the middleware answers with the stored response."""
        self.commit_seen()
        if self.lost:
            raise _came_first()

    def commit_seen(self) -> None:
        """The transaction that claimed committed: with it this request's claim, if won."""
        self.committed = self.caller is not None and not self.lost

    def keep(self, uow: UnitOfWork, answer: Answer, now: datetime) -> None:
        """Store the endpoint's answer in its own transaction, before the commit."""
        text = None if self.caller is None else _kept_text(answer)
        if text is not None:
            assert self.caller is not None
            _complete(uow.idempotency, self.caller, self.key, answer, text, now)
            self.kept_status = answer.status

    def stored(self, db: Database) -> Answer:
        """The answer of the request that won the claim (this one lost it)."""
        assert self.caller is not None
        with read_only(db) as uow:
            found = uow.idempotency.find(self.caller, self.key)
        return _answer_for(found, self.request_path, self.request_hash)

    def unsettled(self, answer: Answer) -> bool:
        """The endpoint committed its claim but did not keep this answer (a refusal: see
        api/deps.py `UserRequest.caller`, which commits the claim of a 4xx refusal so no
        other request can take the key before the answer is stored here; or any answer
        to a merchant-signed call, whose claim committed before the endpoint ran)."""
        return self.committed and self.kept_status != answer.status

    def settle(self, db: Database, answer: Answer, now: datetime) -> None:
        """Store an answer the endpoint did not keep, under its committed claim, as
        `_Claim` does; a 5xx or 429 releases the key instead."""
        assert self.caller is not None
        _Claim(db, self.caller, self.key).store(answer, now)


def _came_first() -> Conflict:
    return Conflict(
        "a request with this Idempotency-Key came first",
        code="idempotency_request_in_progress",
        param=HEADER,
    )


def in_endpoint(scope: asgi.Scope) -> InEndpoint | None:
    """The key this request's endpoint keeps itself, if the middleware handed it one."""
    found = scope.get(SCOPE_KEY)
    return found if isinstance(found, InEndpoint) else None


def _text(body: bytes) -> str | None:
    try:
        return body.decode()
    except UnicodeDecodeError:
        return None


class _Capture:
    """Collects the endpoint's response instead of sending it: it is sent only once
    stored, so a client never holds an answer its retry would not get back."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []

    async def __call__(self, message: asgi.Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            self.chunks.append(bytes(message.get("body", b"")))

    def answer(self) -> Answer:
        return Answer(self.status, self.headers, b"".join(self.chunks))


class Idempotency:
    """The middleware: see the module docstring."""

    def __init__(self, app: asgi.ASGIApp, settings: IdempotencySettings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] != "http" or not applies(scope):
            await self.app(scope, receive, send)
            return
        key = asgi.header(scope, HEADER.lower().encode())
        if key is None:
            if self.settings.required:
                await _error(
                    400, "idempotency_key_required", "send an Idempotency-Key header"
                ).send(send)
                return
            await self.app(scope, receive, send)
            return
        if not key.strip() or len(key) > KEY_MAX:
            await _error(400, "parameter_invalid", "the Idempotency-Key must be 1-255 chars").send(
                send
            )
            return
        await self._claimed(scope, receive, send, key)

    async def _claimed(
        self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send, key: str
    ) -> None:
        state = scope["app"].state
        body, replay, complete = await asgi.buffer_body(receive)
        if not complete:  # the client left mid-body: claim nothing, answer no one
            return
        body_hash = hashlib.sha256(body).hexdigest()
        path, now = f"POST {scope['path']}", state.clock()
        if signed_by_merchant(scope) or any(
            p.match(scope["path"]) for p in getattr(state, IN_ENDPOINT, ())
        ):  # the endpoint claims the key once it knows the caller (module docstring)
            await self._kept_by_endpoint(scope, replay, send, InEndpoint(key, path, body_hash, now))
            return
        claim, refused = await run_in_threadpool(_open, state.db, scope, key, path, body_hash, now)
        if claim is None:  # credentials proving no one: unkeyed, the endpoint refuses them
            await self.app(scope, replay, send)
            return
        if refused is not None:
            await refused.send(send)
            return
        capture = _Capture()
        try:
            await self.app(scope, replay, capture)
        except BaseException:
            await run_in_threadpool(claim.release)
            raise
        answer = capture.answer()
        await run_in_threadpool(claim.store, answer, state.clock())
        await answer.send(send)

    async def _kept_by_endpoint(
        self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send, pending: InEndpoint
    ) -> None:
        state = scope["app"].state
        scope[SCOPE_KEY] = pending
        capture = _Capture()
        try:
            await self.app(scope, receive, capture)
        except BaseException:  # the endpoint's unit of work rolled back, its claim too
            if pending.committed and pending.caller is not None:  # (committed: claimed)
                await run_in_threadpool(_Claim(state.db, pending.caller, pending.key).release)
            raise
        answer = capture.answer()
        if pending.lost:
            answer = await run_in_threadpool(pending.stored, state.db)
        elif pending.unsettled(answer):
            await run_in_threadpool(pending.settle, state.db, answer, state.clock())
        await answer.send(send)


#: app.state's name for the paths whose endpoints keep their own keys (`InEndpoint`)
IN_ENDPOINT = "idempotency_in_endpoint"


def spend_nonce(
    uow: UnitOfWork, caller: str, key: str, request_path: str, signed: bytes, at: datetime
) -> bool:
    """Claim `key` as a signature's nonce (module docstring): whether it was unused."""
    request_hash = hashlib.sha256(signed).hexdigest()
    return uow.idempotency.claim(caller, key, request_path, request_hash, at)


KEY_DESCRIPTION = (
    "Makes this POST safe to retry: the same key with the same request gets the first "
    "answer back (`Idempotent-Replayed: true`) without running it again; with another "
    "request, 400 `idempotency_key_reused`; while the first runs, 409 "
    "`idempotency_request_in_progress`. 1-255 characters, kept 24 hours. With a "
    "Payment-Signature, required: it is the signature's nonce."
)
_KEY_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": KEY_DESCRIPTION,
    "schema": {"type": "string", "minLength": 1, "maxLength": KEY_MAX, "pattern": KEY_PATTERN},
}
_REPLAYED = {
    REPLAYED: {
        "description": "`true` on an answer replayed for its key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def document(spec: dict[str, Any]) -> None:
    """Declare the key on every operation that keeps keys (`applies`), with what this
    middleware may answer there; replayed answers say so in a header."""
    for path, item in spec["paths"].items():
        operation = item.get("post")
        if operation is None or not applies({"method": "POST", "path": path}):
            continue
        parameters = operation.setdefault("parameters", [])
        declared = next(
            (
                p
                for p in parameters
                if p.get("in") == "header" and p.get("name", "").lower() == HEADER.lower()
            ),
            None,
        )
        if declared is None:
            parameters.append(copy.deepcopy(_KEY_PARAMETER))
        else:  # the Payment-Signature dependency declared it: one entry, the whole story
            declared.update(copy.deepcopy(_KEY_PARAMETER))
        errors.add_responses(spec, operation, (400, 409))
        for status, response in operation["responses"].items():
            if storable_status(int(status)):
                response.setdefault("headers", {}).update(_REPLAYED)


def install(app: FastAPI, settings: IdempotencySettings) -> None:
    app.add_middleware(Idempotency, settings=settings)
    errors.amend_openapi(app, document)


def purge(db: Database, now: datetime, settings: IdempotencySettings) -> int:
    """Forget keys older than the retention (at least 24 h); how many. Run it from a
    periodic job: a key is honoured for as long as its row exists."""
    with unit_of_work(db) as uow:
        return uow.idempotency.purge(now - settings.retention)
