"""The one hierarchy of guardpay errors.

Every error an edge may show a caller is a `GuardpayError` with a stable `code` (snake
case, part of the API contract) and a `type` grouping codes the way Stripe does. Edges
map them to output in one place each: HTTP in `api/errors.py`, exit codes in the CLI.
Messages never contain secrets, card or ID numbers.

    GuardpayError
    ├── InvalidRequest        (type "invalid_request_error": bad input, 400)
    │   ├── NotFound          (404)
    │   ├── Conflict          (409: e.g. card_already_bound, phone_taken)
    │   └── RecordedRefusal   (400: a payment refused and recorded as failed, committed)
    ├── AuthenticationFailed  (type "authentication_error", 401: bad credentials, session)
    │   └── StepUpRequired    (401 with the methods that would do)
    ├── PermissionDenied      (type "permission_error", 403: role, four-eyes, locked)
    ├── RateLimited           (type "rate_limit_error", 429)
    ├── ServiceUnavailable    (type "api_error", 503: an outside system did not answer)
    ├── StorageError          (type "api_error": the database cannot be used)
    │   └── DatabaseNotMigrated
    ├── CryptoError           (type "api_error": a key is missing or was destroyed)
    └── LedgerRejected        (type "ledger_error": the ledger refused an event, 409)

Specific failures use these classes with their own `code`, e.g.
`InvalidRequest("...", code="invalid_id_number", param="id_number")`.

A 4xx raised with `retryable=True` (a conflict with a concurrent request, say) means the
same request may succeed if sent again: its HTTP answer says `Retry-After`, and it is
never kept as an Idempotency-Key's answer, so the retry it asks for runs instead of
replaying the refusal. (429 and 5xx answers are never kept either.)
"""

from __future__ import annotations


class GuardpayError(Exception):
    type = "api_error"
    code = "internal_error"
    http_status = 500

    #: the same request may succeed if sent again (a conflict with a concurrent one, a
    #: service down for a moment): such an answer is never kept as an Idempotency-Key's
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retryable: bool | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        if retryable is not None:
            self.retryable = retryable


class InvalidRequest(GuardpayError):
    type = "invalid_request_error"
    code = "invalid_request"
    http_status = 400


class NotFound(InvalidRequest):
    code = "resource_missing"
    http_status = 404


class Conflict(InvalidRequest):
    code = "conflict"
    http_status = 409


class RecordedRefusal(InvalidRequest):
    """A payment refused before any money moved (`limit_exceeded`, `insufficient_funds`)
    whose failed record is already written consistently: the edge commits it, so the
    payer's history and risk control see the attempt."""


class AuthenticationFailed(GuardpayError):
    type = "authentication_error"
    code = "authentication_failed"
    http_status = 401


class StepUpRequired(AuthenticationFailed):
    """The action needs a second factor; `methods` says which would do."""

    code = "step_up_required"

    def __init__(self, message: str, *, methods: list[str], challenge_id: str | None = None):
        super().__init__(message)
        self.methods = methods
        self.challenge_id = challenge_id


class PermissionDenied(GuardpayError):
    type = "permission_error"
    code = "permission_denied"
    http_status = 403


class RateLimited(GuardpayError):
    """`retry_after`: seconds until a retry may succeed (the API's Retry-After header)."""

    type = "rate_limit_error"
    code = "rate_limited"
    http_status = 429

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, code=code, param=param)
        self.retry_after = retry_after


class ServiceUnavailable(GuardpayError):
    code = "service_unavailable"
    http_status = 503


class CryptoError(GuardpayError):
    code = "crypto_error"


class StorageError(GuardpayError):
    code = "storage_unavailable"
    http_status = 503


class DatabaseNotMigrated(StorageError):
    code = "database_not_migrated"


class LedgerRejected(GuardpayError):
    """A ledger event failed; `code` is the ledger `Result` value."""

    type = "ledger_error"
    http_status = 409
