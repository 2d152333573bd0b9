"""Reconciliation in the console: the reserve as it stands, and the bank's statement an
analyst uploads matched against our fundings (services/ledger/reconcile.py, the same
checks as `guardpay reconcile`), each as a page and as files to keep (CSV, JSON).

An analyst's or above: the figures are the platform's books. Each check is audited with
its outcome; the statement itself is not stored (the bank keeps it), only what it broke.
"""

from __future__ import annotations

import json

from guardpay.adapters.bank import parse_statement
from guardpay.domain.auth.roles import Role
from guardpay.services.ledger import reconcile
from guardpay.services.ledger.reconcile import ReserveReport, StatementReport
from guardpay.services.platform.access import require_role
from guardpay.services.platform.context import Context
from guardpay.services.reports.files import table_csv

RESERVE_COLUMNS = (
    "currency",
    "reserve",
    "liabilities",
    "platform_funds",
    "in_flight_posted",
    "top_ups_in_flight",
    "withdrawals_in_flight",
    "expected_top_ups_in_flight",
    "expected_withdrawals_in_flight",
    "breaks",
)
BREAK_COLUMNS = ("kind", "bank_reference", "funding_id", "detail")


def reserve_now(ctx: Context) -> ReserveReport:
    require_role(ctx, Role.ANALYST)
    found = reconcile.reserve(ctx.uow)
    ctx.audit("reconciliation.reserve_checked", outcome="ok" if found.ok else "breaks")
    return found


def statement_check(ctx: Context, text: str) -> StatementReport:
    """The statement's text matched against our fundings (`invalid_statement` if it is
    not a statement: nothing is checked, nothing audited but the refusal's request)."""
    require_role(ctx, Role.ANALYST)
    found = reconcile.statement(ctx.uow, parse_statement(text))
    details = {"rows": found.rows, "matched": found.matched, "breaks": len(found.breaks)}
    outcome = "ok" if found.ok else "breaks"
    ctx.audit("reconciliation.statement_checked", outcome=outcome, details=details)
    return found


def reserve_file(report: ReserveReport, kind: str) -> bytes:
    if kind == "json":
        return json.dumps(report.as_dict(), indent=1).encode()
    lines = [[getattr(line, c) for c in RESERVE_COLUMNS] for line in report.lines]
    return table_csv(RESERVE_COLUMNS, lines)


def breaks_file(report: StatementReport, kind: str) -> bytes:
    if kind == "json":
        return json.dumps(report.as_dict(), indent=1).encode()
    return table_csv(BREAK_COLUMNS, [[getattr(b, c) for c in BREAK_COLUMNS] for b in report.breaks])
