"""What every endpoint depends on: one unit of work per request, the `Context` the
services run in, and who is calling (a bearer session, a merchant's signature).

The unit of work is opened, used and ended in the one worker thread the endpoint runs in
(`Deferred`, `InOneUnit`): dependencies only parse what the request carries, and the
endpoint's wrapper opens the unit, authenticates the caller, runs the endpoint and
commits, before the response is sent, so the client never sees an answer whose writes
might still roll back. It commits when the endpoint succeeds *and* when a service refuses
after keeping what it wrote (`UnitOfWork.keep`, storage/uow.py): such refusals carry state
(failure counters, the step-up challenge the client must answer, a failed payment record,
the audit entry), and rolling them back would let a guesser retry forever. Every other
refusal rolls everything back, whatever its class, so a rejection changes nothing.

A request without credentials is refused (401) before its parameters are read; a token
that proves no one takes the database to know, so it is refused once the parameters are
well-formed.

The actor carries the peer address and, once a session is shown, the session's subject
and device (a device is bound to a session at login, by the app's signed proof; a bare
device-id header would prove nothing, so none is read).
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import threading
from collections.abc import Awaitable, Callable, Generator, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from guardpay.api import idempotency, idempotency_callers
from guardpay.api.batching import batcher_of
from guardpay.config import DEFAULT_DATA_DIR
from guardpay.domain.auth.sessions import OPERATOR, USER, Session
from guardpay.domain.merchants import signing
from guardpay.errors import AuthenticationFailed, GuardpayError, InvalidRequest, PermissionDenied
from guardpay.security import devices
from guardpay.security.keys import Keyring
from guardpay.security.tokens import token_hash
from guardpay.services.auth import facade as auth
from guardpay.services.identity import merchant_api
from guardpay.services.payments.batch import Ahead
from guardpay.services.platform.context import SYSTEM, Actor, Context
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import UnitOfWork, lazy_unit_of_work, read_only, unit_of_work

#: The actor of a request that has not (yet) shown a session: registration, login.
ANONYMOUS = "anonymous"


@contextmanager
def request_unit(db: Database) -> Iterator[UnitOfWork]:
    """A write unit of work that commits on success, and on a refusal (a `GuardpayError`)
    if a service kept what it wrote (`UnitOfWork.keep`), then re-raises the error for the
    error handler; anything else rolls back."""
    carried: GuardpayError | None = None
    with lazy_unit_of_work(db) as uow:
        try:
            yield uow
        except GuardpayError as exc:
            if not uow.kept:
                raise
            carried = exc  # leave the block normally: what it kept commits
    if carried is not None:
        raise carried


def client_ip(request: Request) -> str | None:
    """The peer address. Forwarding headers are not trusted here: behind a proxy, run
    uvicorn with `--proxy-headers --forwarded-allow-ips` so this is the real client."""
    return request.client.host if request.client else None


GEO_HEADER = "Geo-Position"


def geo_position(request: Request) -> tuple[float, float] | None:
    """The app's reported location, `Geo-Position: <lat>;<lon>` (degrees), for the risk
    features (impossible travel). Absent or malformed, it is simply unknown: a location is
    a hint the client volunteers, never a reason to refuse a request."""
    raw = request.headers.get(GEO_HEADER)
    if raw is None:
        return None
    try:
        lat, lon = (float(part) for part in raw.replace(",", ";").split(";")[:2])
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


_keyring_lock = threading.Lock()


def keyring_of(state: Any) -> Keyring:
    """The app's keyring. The default (the app's settings' `GUARDPAY_MASTER_KEYS`, else
    the development key file) is made on first use, once, so an app that never serves a
    request in a context (health and metrics alone) neither needs a master key nor creates
    a key file."""
    if state.keyring is None:
        with _keyring_lock:
            if state.keyring is None:
                state.keyring = Keyring.from_settings(state.settings, DEFAULT_DATA_DIR)
    keyring = state.keyring
    assert isinstance(keyring, Keyring)
    return keyring


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="session",
    description="A session token from POST /v1/sessions or POST /v1/operator/sessions.",
)


async def _precheck_payment_password(request: Request) -> None:
    """A signed-in POST carrying a payment password has it verified here, before the
    request's write unit of work opens: argon2 takes ~60 ms of CPU, and inside the unit
    of work it would hold the database's write lock (SQLite) or the credentials row lock
    (PostgreSQL) all that time. The service still decides and keeps the books
    (`auth.verify_payment_password`); this only saves it the verification. The token is
    read as `_bearer` reads it, but not through it: an endpoint that needs no session
    (login, registration) must not say in the OpenAPI document that it does."""
    if request.method != "POST":
        return
    credentials = await _bearer(request)
    if credentials is None:
        return
    pin = _payment_password_in(await request.body())
    if pin is None:
        return
    state = request.app.state
    checked = await run_in_threadpool(_precheck, state, credentials.credentials, pin)
    auth.PRECHECKED.set(checked)


def _payment_password_in(body: bytes) -> str | None:
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return None
    pin = data.get("payment_password") if isinstance(data, dict) else None
    return pin if isinstance(pin, str) and 0 < len(pin) <= 256 else None


def _precheck(state: Any, token: str, pin: str) -> auth.PinCheck | None:
    with read_only(state.db) as uow:
        session = uow.auth.session_by_token_hash(token_hash(token.strip()))
        if session is None or session.subject_kind != USER:
            return None
        ctx = Context(uow, keyring_of(state), SYSTEM, state.clock, settings=state.settings)
        return auth.precheck_payment_password(ctx, session.subject_id, pin)


@contextmanager
def _request_context(request: Request, batch: UnitOfWork | None = None) -> Iterator[Context]:
    """The anonymous context over the request's unit of work: its own (`request_unit`),
    or its part of a micro-batch's (`batch`, api/batching.py; the batcher runs it as a
    `member` and commits)."""
    state = request.app.state
    with nullcontext(batch) if batch is not None else request_unit(state.db) as uow:
        actor = Actor(ANONYMOUS, "-", client_ip(request), None, geo_position(request))
        yield Context(uow, keyring_of(state), actor, state.clock, None, state.risk, state.settings)


@dataclass(frozen=True)
class Deferred:
    """What a unit-of-work dependency hands the endpoint: how to build its value once the
    request's unit of work is open. `InOneUnit` opens that unit, binds every `Deferred`
    among the endpoint's arguments and runs the endpoint, all in the one worker thread the
    endpoint runs in, and commits (or rolls back) before that thread is left.

    Why not a dependency that opens the unit itself: FastAPI runs each sync dependency,
    the endpoint and the dependency's exit in separate thread-pool hops with the event
    loop between them. A transaction that holds a row lock (PostgreSQL) or the write lock
    (SQLite) across those hops waits for a free thread while every thread may be waiting
    for its lock: 48 concurrent escrow payments from one user hung a PostgreSQL server
    for good (issue 15). Here a transaction never waits for a thread."""

    request: Request
    build: Callable[[Context], Any]

    def then(self, step: Callable[[Any], Any]) -> Deferred:
        """This value, passed through `step` once bound."""
        return Deferred(self.request, lambda ctx: step(self.build(ctx)))


async def _context(
    request: Request, _checked: Annotated[None, Depends(_precheck_payment_password)]
) -> Deferred:
    return Deferred(request, lambda ctx: ctx)


def in_one_unit(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """A sync endpoint that runs, with its `Deferred` arguments bound, inside one request
    unit of work (`request_unit`) in the worker thread it is called in."""
    if inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)
    def run(**values: Any) -> Any:
        deferred = [(name, v) for name, v in values.items() if isinstance(v, Deferred)]
        if not deferred:
            return endpoint(**values)
        with _request_context(deferred[0][1].request) as ctx:
            for name, value in deferred:
                values[name] = value.build(ctx)
            return endpoint(**values)

    return run


class InOneUnit(APIRoute):
    """The route class of every router: its endpoint runs in one unit of work, begun,
    used and ended in one worker thread (`Deferred`). An `async def` endpoint would run
    its unit of work on the event loop, so one that takes a `Deferred` is refused."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, in_one_unit(endpoint), **kwargs)
        if inspect.iscoroutinefunction(endpoint) and _defers(self.dependant):
            raise TypeError(f"{endpoint.__name__}: a unit-of-work endpoint must be a def")


def _defers(dependant: Dependant) -> bool:
    return any(d.call in _DEFERRING or _defers(d) for d in dependant.dependencies)


#: The request's context (anonymous until a service authenticates someone): bound in the
#: endpoint's thread and ended (committed or rolled back) before the response is sent.
RequestContext = Annotated[Context, Depends(_context)]


SIGNATURE_HEADER = "Payment-Signature"
_SIGNATURE = re.compile(
    r"^[ \t]*t=([0-9]{1,12})[ \t]*,[ \t]*sig=([A-Za-z0-9_-]{40,120}={0,2})[ \t]*$"
)


async def _payment_signature(
    request: Request,
    signature: Annotated[
        str | None,
        Header(
            alias=SIGNATURE_HEADER,
            examples=[f"t=1795253400, sig={'q' * 86}"],
            json_schema_extra={"pattern": _SIGNATURE.pattern},
            description="Authorise the payment with the session's trusted device instead of "
            "(or beside) the payment password: `t=<unix seconds>, sig=<base64url>`, the "
            "device's Ed25519 signature of `guardpay-pay:{t}:{Idempotency-Key}:{METHOD} "
            "{path}:{sha256 hex of the body}`. Needs an Idempotency-Key.",
        ),
    ] = None,
    key: Annotated[
        str | None,
        Header(
            alias=idempotency.HEADER,
            min_length=1,
            max_length=idempotency.KEY_MAX,
            json_schema_extra={"pattern": idempotency.KEY_PATTERN},
            description="With a Payment-Signature, required: the signature's nonce, spent once.",
        ),
    ] = None,
) -> auth.PaymentSignature | None:
    """`Payment-Signature: t=<unix seconds>, sig=<base64url Ed25519>`: the session's
    device signed `security.devices.payment_message` of this request. Its nonce is the
    Idempotency-Key, spent once: by the idempotency middleware where it keeps keys, else
    (a payment code: `EXCLUDED`, its answer is a credential) by `_payer` in the
    endpoint's unit of work."""
    if signature is None:
        return None
    found = _SIGNATURE.match(signature)
    if found is None:
        raise InvalidRequest(
            "send Payment-Signature as 't=<unix seconds>, sig=<base64url>'",
            code="payment_signature_malformed",
            param=SIGNATURE_HEADER,
        )
    if key is None or not key.strip():
        raise InvalidRequest(
            "a signed request needs an Idempotency-Key (the signature covers it, and it is "
            "spent once)",
            code="idempotency_key_required",
            param=idempotency.HEADER,
        )
    signed_at = int(found.group(1))
    body = await request.body()
    message = devices.payment_message(signed_at, key, request.method, request.url.path, body)
    return auth.PaymentSignature(message, signed_at, found.group(2))


@dataclass(frozen=True)
class Caller:
    """An authenticated request: its context (acting as the session's subject) and the
    session, and the request's device signature if it carries one. The token itself is
    not kept."""

    ctx: Context
    session: Session
    proof: auth.PaymentSignature | None = None

    @property
    def id(self) -> str:
        return self.session.subject_id


def _shown(
    credentials: HTTPAuthorizationCredentials | None,
) -> HTTPAuthorizationCredentials:
    """The bearer credentials, or 401 at once: a request without any is refused before
    its parameters are even read. A token that proves no one is refused in the endpoint's
    unit of work (it takes the database to know), so after the parameters are checked."""
    if credentials is None:
        raise AuthenticationFailed(
            "send the session token as 'Authorization: Bearer <token>'",
            code="authentication_required",
        )
    return credentials


def _authenticated(
    ctx: Context,
    credentials: HTTPAuthorizationCredentials | None,
    proof: auth.PaymentSignature | None = None,
) -> Caller:
    session = auth.authenticate(ctx, _shown(credentials).credentials)
    actor = ctx.actor
    actor = Actor(
        session.subject_kind, session.subject_id, actor.ip, session.device_id, actor.location
    )
    return Caller(ctx.as_actor(actor), session, proof)


@dataclass(frozen=True)
class UserRequest:
    """A user's request whose endpoint opens its unit of work itself (`with
    user.caller() as caller:`, or its part of a micro-batch: `in_batch`), so the
    transaction begins, runs and commits in one thread. The payment endpoints use it: as
    a dependency, the unit of work spans several thread hops with the event loop between
    them, and on SQLite the write lock is held all that time (measured: it, not the
    work, limited payments under load). Same rules as `UserCaller`: committed before the
    response, a refusal that kept its bookkeeping (`UnitOfWork.keep`) commits it."""

    request: Request
    credentials: HTTPAuthorizationCredentials | None
    proof: auth.PaymentSignature | None

    @contextmanager
    def caller(self, batch: UnitOfWork | None = None) -> Iterator[Caller]:
        """The unit of work (the request's own, or its part of `batch`), the session
        checked, and the Idempotency-Key claimed in it first thing (api/idempotency.py
        `InEndpoint`); the middleware learns that the claim committed once it has."""
        pending = idempotency.in_endpoint(self.request.scope)
        with _request_context(self.request, batch) as ctx:
            caller = _require_user(_authenticated(ctx, self.credentials, self.proof))
            if pending is None:
                yield caller
            else:
                pending.claim(ctx.uow, idempotency_callers.session_caller(caller.session))
                ctx.uow.after_commit(pending.commit_seen)
                yield from _holding_key(ctx.uow, caller)

    async def in_batch(
        self,
        work: Callable[[Caller], Response],
        *,
        payee: str | None = None,
        currency: str | None = None,
    ) -> Response:
        """`work` as the caller (`caller`), in the next micro-batch of payments
        (api/batching.py): answered once its batch has committed. A request without
        credentials is refused here, on the event loop: it has nothing to batch. The
        session, and the `payee` and `currency` a transfer names, are read ahead with
        the rest of the batch's (services/payments/batch.py)."""
        token = _shown(self.credentials).credentials

        def run(batch: UnitOfWork) -> Response:
            with self.caller(batch) as caller:
                return work(caller)

        ahead = Ahead(token, payee, currency, client_ip(self.request))
        return await batcher_of(self.request.app.state).run(run, ahead)

    def answer(self, caller: Caller, model: BaseModel, status_code: int) -> Response:
        """The endpoint's JSON answer, kept for its Idempotency-Key in the caller's unit
        of work (so inside `caller()`): the payment and its answer commit together."""
        body = model.model_dump_json().encode()
        pending = idempotency.in_endpoint(self.request.scope)
        if pending is not None:
            kept = idempotency.Answer(status_code, [(b"content-type", JSON.encode())], body)
            pending.keep(caller.ctx.uow, kept, caller.ctx.now())
        return Response(body, status_code, media_type=JSON)


def _holding_key(uow: UnitOfWork, caller: Caller) -> Generator[Caller, None, None]:
    """The endpoint under a savepoint taken right after the key's claim. A refusal that
    kept what it wrote (`UnitOfWork.keep`) releases the savepoint and commits with the
    claim; any other refusal whose answer is stored rolls back to the savepoint instead
    and keeps the claim (`keep`), so no other request can take the key before this one's
    answer is stored; anything else undoes the claim too."""
    point = uow.savepoint()
    try:
        yield caller
    except GuardpayError as exc:
        if point.kept_since:
            point.release()  # what it kept commits with the claim
            raise
        point.rollback()
        if idempotency.storable_error(exc):
            uow.keep()  # the claim, for the answer the middleware stores next
        raise
    except BaseException:
        point.rollback()
        raise
    point.release()


async def _user_request(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    proof: Annotated[auth.PaymentSignature | None, Depends(_payment_signature)],
    _checked: Annotated[None, Depends(_precheck_payment_password)],
) -> UserRequest:
    return UserRequest(request, credentials, proof)


UserRequestDep = Annotated[UserRequest, Depends(_user_request)]
JSON = "application/json"


def opens_own_unit(dependant: Dependant) -> bool:
    """Whether a route's endpoint takes a `UserRequest` (and so keeps its own
    Idempotency-Key: api/idempotency.py `InEndpoint`)."""
    return any(d.call is _user_request or opens_own_unit(d) for d in dependant.dependencies)


async def _user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _checked: Annotated[None, Depends(_precheck_payment_password)],
) -> Deferred:
    _shown(credentials)
    return Deferred(request, lambda ctx: _require_user(_authenticated(ctx, credentials)))


async def _payer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    proof: Annotated[auth.PaymentSignature | None, Depends(_payment_signature)],
    _checked: Annotated[None, Depends(_precheck_payment_password)],
) -> Deferred:
    """A user who may authorise a payment with the device's `Payment-Signature`."""
    _shown(credentials)

    def build(ctx: Context) -> Caller:
        caller = _require_user(_authenticated(ctx, credentials, proof))
        if caller.proof is not None and not idempotency.applies(request.scope):
            _spend_nonce(request, caller, caller.proof)
        return caller

    return Deferred(request, build)


def _spend_nonce(request: Request, caller: Caller, proof: auth.PaymentSignature) -> None:
    """The signature's nonce on a path whose answers are never kept (a payment code),
    spent in the endpoint's unit of work: a signed request is answered once, and the
    same one again (a replay, or a retry) is refused."""
    ctx, key = caller.ctx, request.headers[idempotency.HEADER]
    if idempotency.spend_nonce(
        ctx.uow,
        idempotency_callers.session_caller(caller.session),
        key,
        f"{request.method} {request.url.path}",
        proof.message,
        ctx.now(),
    ):
        return
    ctx.audit(
        "auth.payment_signature_failed",
        subject=caller.id,
        outcome="failed",
        details={"device_id": caller.session.device_id, "reason": "payment_signature_reused"},
    )
    ctx.uow.keep()
    raise AuthenticationFailed(
        "this signed request was answered already: sign it again with a new Idempotency-Key",
        code="payment_signature_reused",
        param=idempotency.HEADER,
    )


def _require_user(caller: Caller) -> Caller:
    """Users and operators have separate sessions; a console session is no user."""
    if caller.session.subject_kind != USER:
        raise PermissionDenied("this needs a user's session", code="user_session_required")
    return caller


def _require_operator(caller: Caller) -> Caller:
    if caller.session.subject_kind != OPERATOR:
        raise PermissionDenied("this needs an operator's session", code="operator_required")
    return caller


async def _operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Deferred:
    _shown(credentials)
    return Deferred(request, lambda ctx: _require_operator(_authenticated(ctx, credentials)))


#: A signed-in user (or operator): bound in the endpoint's thread (`Deferred`).
UserCaller = Annotated[Caller, Depends(_user)]
#: A signed-in user whose request may carry a `Payment-Signature` (`Caller.proof`).
PayerCaller = Annotated[Caller, Depends(_payer)]
OperatorCaller = Annotated[Caller, Depends(_operator)]


async def _signed_request(request: Request) -> merchant_api.SignedRequest | None:
    """The raw pieces a merchant signature covers, if the request carries one."""
    header = request.headers.get("authorization", "")
    if not header.startswith(signing.SCHEME + " "):
        return None
    query = request.url.query
    path = request.url.path + (f"?{query}" if query else "")
    return merchant_api.SignedRequest(header, request.method, path, await request.body())


def _merchant_key(
    request: Request,
    signed: Annotated[merchant_api.SignedRequest | None, Depends(_signed_request)],
) -> str | None:
    """Checks the signature and spends the nonce in a transaction of its own, committed
    before the endpoint's unit of work opens: a replay fails even if the first request
    did. The request's Idempotency-Key is claimed in it too, now that the key id is
    proven, so it commits with the nonce (a lost claim as well: its replay is sent)."""
    if signed is None:
        return None
    state = request.app.state
    pending = idempotency.in_endpoint(request.scope)
    with unit_of_work(state.db) as uow:
        ctx = Context(
            uow,
            keyring_of(state),
            Actor(ANONYMOUS, "-", client_ip(request)),
            state.clock,
            settings=state.settings,
        )
        key = merchant_api.authenticate(ctx, signed)
        if pending is not None:
            pending.take(uow, idempotency_callers.merchant_caller(key.id))
    if pending is not None:
        pending.took()
    return key.merchant_id


@dataclass(frozen=True)
class MerchantSide:
    """A merchant-side call: signed by a merchant's key, or an operator's session acting
    for one. Endpoints check which merchant with `merchant_api.require_merchant`."""

    ctx: Context


async def _merchant_side(
    request: Request,
    merchant_id: Annotated[str | None, Depends(_merchant_key)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Deferred:
    if merchant_id is None:
        _shown(credentials)

    def build(ctx: Context) -> MerchantSide:
        if merchant_id is not None:
            return MerchantSide(ctx.as_actor(Actor("merchant", merchant_id, ctx.actor.ip)))
        return MerchantSide(_require_operator(_authenticated(ctx, credentials)).ctx)

    return Deferred(request, build)


MerchantCaller = Annotated[MerchantSide, Depends(_merchant_side)]


def operator_then(step: Callable[[Caller], Any]) -> Callable[..., Awaitable[Deferred]]:
    """A dependency: an operator's session, passed through `step` in the endpoint's unit
    of work (a role check, say, that must hold before the endpoint reads anything)."""

    async def dependency(op: Annotated[Deferred, Depends(_operator)]) -> Deferred:
        return op.then(step)

    return dependency


#: The dependencies that hand an endpoint a `Deferred` (directly, or through one that
#: depends on them, which `_defers` finds too).
_DEFERRING = (_context, _user, _payer, _operator, _merchant_side)
