"""The one hierarchy of guardpay errors.

Every error an edge may show a caller is a `GuardpayError` with a stable `code` (snake
case, part of the API contract) and a `type` grouping codes the way Stripe does. Edges
map them to output in one place each: HTTP in `api/errors.py`, exit codes in the CLI.
Messages never contain secrets, card or ID numbers.

    GuardpayError
    ├── InvalidRequest        (type "invalid_request_error": bad input, 400/404/409)
    │   └── NotFound          (404)
    ├── StorageError          (type "api_error": the database cannot be used)
    │   └── DatabaseNotMigrated
    └── LedgerRejected        (type "ledger_error": the ledger refused an event, 409/402)
"""

from __future__ import annotations


class GuardpayError(Exception):
    type = "api_error"
    code = "internal_error"
    http_status = 500

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param


class InvalidRequest(GuardpayError):
    type = "invalid_request_error"
    code = "invalid_request"
    http_status = 400


class NotFound(InvalidRequest):
    code = "resource_missing"
    http_status = 404


class StorageError(GuardpayError):
    code = "storage_unavailable"
    http_status = 503


class DatabaseNotMigrated(StorageError):
    code = "database_not_migrated"


class LedgerRejected(GuardpayError):
    """A ledger event failed; `code` is the ledger `Result` value."""

    type = "ledger_error"
    http_status = 409
