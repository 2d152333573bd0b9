"""The console's operators page (admins): who may sign in, with what role, whether their
authenticator is set up; an enrolment code for one who has none, and a reset, with a
reason, for one who lost theirs (services/auth/operator_login.py). A code is shown once,
on the page the POST answers (marked no-store like every page), never in an address."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from guardpay.api.deps import InOneUnit
from guardpay.api.web.console import console_page
from guardpay.api.web.session import CheckedForm, ConsoleCaller
from guardpay.services.auth import operator_login, operators

router = APIRouter(route_class=InOneUnit, prefix="/console", include_in_schema=False)


def _operators_page(request: Request, op: ConsoleCaller, **shown: Any) -> Response:
    enrolled = operator_login.authenticator_set(op.ctx)  # an admin's, or 403
    everyone = operators.list_operators(op.ctx)
    return console_page(
        request, op, "operators.html", operators=everyone, enrolled=enrolled, **shown
    )


@router.get("/operators")
def operators_page(request: Request, op: ConsoleCaller) -> Response:
    return _operators_page(request, op)


@router.post("/operators/{operator_id}/enrolment", dependencies=[CheckedForm])
def issue_enrolment(request: Request, op: ConsoleCaller, operator_id: str) -> Response:
    code = operator_login.issue_enrolment(op.ctx, operator_id)
    return _operators_page(request, op, issued=(operator_id, code))


@router.post("/operators/{operator_id}/reset", dependencies=[CheckedForm])
def reset(
    request: Request,
    op: ConsoleCaller,
    operator_id: str,
    reason: Annotated[str, Form(max_length=500)],
) -> Response:
    code = operator_login.reset_authenticator(op.ctx, operator_id, reason)
    return _operators_page(request, op, issued=(operator_id, code))
