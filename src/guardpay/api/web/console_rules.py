"""The console's rules pages: the active rule set, rule by rule, with a backtest of the
last 30 days on demand; every version that decided, and one of them beside the active
set (what changed in the file, and both replayed over the same decisions). Reads only:
rules change in the rule file (GUARDPAY_RISK_RULES), reviewed and deployed like code."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from guardpay.api.deps import InOneUnit
from guardpay.api.web.console import console_page
from guardpay.api.web.session import CheckedForm, ConsoleCaller
from guardpay.services.risk import backtest as backtests
from guardpay.services.risk import rule_versions

router = APIRouter(route_class=InOneUnit, prefix="/console", include_in_schema=False)


def _rules_page(request: Request, op: ConsoleCaller, **values: Any) -> Response:
    kept = rule_versions.versions(op.ctx)
    return console_page(request, op, "rules.html", versions=kept, **values)


@router.get("/rules")
def rules(request: Request, op: ConsoleCaller) -> Response:
    return _rules_page(request, op, rule_set=backtests.active_rules(op.ctx), result=None)


@router.post("/rules/backtest", dependencies=[CheckedForm])
def backtest(request: Request, op: ConsoleCaller) -> Response:
    """The last 30 days replayed through the active rules: a read, answered in place."""
    rule_set, result = backtests.backtest_recent(op.ctx)
    return _rules_page(request, op, rule_set=rule_set, result=result)


@router.post("/rules/compare", dependencies=[CheckedForm])
def compare(
    request: Request, op: ConsoleCaller, digest: Annotated[str, Form(max_length=64)]
) -> Response:
    """A version beside the active set: a read, answered in place."""
    side_by_side = rule_versions.compare_with_active(op.ctx, digest)
    return console_page(request, op, "rules_compare.html", c=side_by_side)
