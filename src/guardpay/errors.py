"""The one hierarchy of guardpay errors.

Every error an edge may show a caller is a `GuardpayError` with a stable `code` (snake
case, part of the API contract) and a `type` grouping codes the way Stripe does. Edges
map them to output in one place each: HTTP statuses in `api/errors.py` (by class, the
nearest mapped ancestor deciding), exit codes in the CLI. Messages never contain secrets,
card or ID numbers.

    GuardpayError
    ├── InvalidRequest          (type "invalid_request_error": bad input)
    │   ├── NotFound
    │   ├── Conflict            (e.g. card_already_bound, phone_taken)
    │   │   └── OperatorsExist
    │   ├── RecordedRefusal     (a payment refused and recorded as failed, kept)
    │   ├── InsufficientFunds, LimitExceeded, RefundExceedsPayment
    │   └── MoneyError          (domain/money.py: amount_invalid, UnknownCurrency)
    ├── AuthenticationFailed    (type "authentication_error": bad credentials, session)
    │   └── StepUpRequired      (with the methods that would do)
    ├── PermissionDenied        (type "permission_error": role, four-eyes, locked)
    │   └── RiskDenied          (payment_denied)
    │       └── RequestDenied   (request_denied)
    ├── RateLimited             (type "rate_limit_error")
    ├── ServiceUnavailable      (type "api_error": an outside system did not answer)
    │   └── VerificationUnavailable
    ├── StorageError            (type "api_error": the database cannot be used)
    │   ├── DatabaseNotMigrated
    │   └── ArchiveRefused      (an archive that could not be made safely: nothing moved)
    ├── CryptoError             (type "api_error": a key is missing or was destroyed)
    │   └── DataErased
    └── LedgerRejected          (type "ledger_error": the ledger refused an event)

A failure that code must tell apart from others gets a class of its own (code branches on
classes, never on code strings); the rest use these classes with their own `code`, e.g.
`InvalidRequest("...", code="invalid_id_number", param="id_number")`. `from_code`
rebuilds the specific error an API client was sent.

A 4xx raised with `retryable=True` (a conflict with a concurrent request, say) means the
same request may succeed if sent again: its HTTP answer says `Retry-After`, and it is
never kept as an Idempotency-Key's answer, so the retry it asks for runs instead of
replaying the refusal. (429 and 5xx answers are never kept either.)
"""

from __future__ import annotations


class GuardpayError(Exception):
    type = "api_error"
    code = "internal_error"

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


class NotFound(InvalidRequest):
    code = "resource_missing"


class Conflict(InvalidRequest):
    code = "conflict"


class RecordedRefusal(InvalidRequest):
    """A payment refused before any money moved (`limit_exceeded`, `insufficient_funds`)
    whose failed record is already written consistently: the edge commits it, so the
    payer's history and risk control see the attempt."""


class AuthenticationFailed(GuardpayError):
    type = "authentication_error"
    code = "authentication_failed"


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


class RateLimited(GuardpayError):
    """`retry_after`: seconds until a retry may succeed (the API's Retry-After header)."""

    type = "rate_limit_error"
    code = "rate_limited"

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


class CryptoError(GuardpayError):
    code = "crypto_error"


class StorageError(GuardpayError):
    code = "storage_unavailable"


class DatabaseNotMigrated(StorageError):
    code = "database_not_migrated"


class ArchiveRefused(StorageError):
    """Records were not archived, and stay where they were: the audit chain they would
    carry is broken, or the archive store did not give back what it was given."""

    code = "archive_refused"


class LedgerRejected(GuardpayError):
    """A ledger event failed; `code` is the ledger `Result` value."""

    type = "ledger_error"


# -- specific refusals: code branches on these classes, never on their code strings ---


class InsufficientFunds(InvalidRequest):
    """The wallet cannot cover the payment."""

    code = "insufficient_funds"


class LimitExceeded(InvalidRequest):
    """An account-class or QR limit would be passed (services/payments/limits.py)."""

    code = "limit_exceeded"


class RefundExceedsPayment(InvalidRequest):
    """Refunds would add up to more than was paid."""

    code = "refund_exceeds_payment"


class RiskDenied(PermissionDenied):
    """Risk control declined a payment (its decision kept with the failed payment)."""

    code = "payment_denied"


class RequestDenied(RiskDenied):
    """Risk control declined a request that moves no payment (escrow, a top-up, ...)."""

    code = "request_denied"


class OperatorsExist(Conflict):
    """The first admin is made once; later operators go through an admin."""

    code = "operators_exist"


class VerificationUnavailable(ServiceUnavailable):
    """An outside verification channel (KYC) did not answer; try again later."""

    code = "verification_unavailable"


class DataErased(CryptoError):
    """The person's data key was destroyed (erasure): their data is gone for good."""

    code = "data_erased"


def _named(cls: type[GuardpayError]) -> dict[str, type[GuardpayError]]:
    """Code -> the class that names it (only classes that set a code of their own)."""
    found = {cls.code: cls} if "code" in cls.__dict__ else {}
    for sub in cls.__subclasses__():
        found.update(_named(sub))
    return found


def from_code(code: str, message: str, param: str | None = None) -> GuardpayError:
    """The specific error a code names (an API client rebuilding a refusal it was sent),
    else a `GuardpayError` carrying the code."""
    cls = _named(GuardpayError).get(code)
    if cls is None or cls is StepUpRequired:
        return GuardpayError(message, code=code, param=param)
    return cls(message, code=code, param=param)
