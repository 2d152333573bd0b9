"""The console's reconciliation page (analysts): the reserve as it stands, downloadable,
and the bank's daily statement uploaded and matched against our fundings, its breaks
shown or downloaded (services/reports/reconciliation.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from guardpay.api.deps import InOneUnit
from guardpay.api.web.console import console_page, download
from guardpay.api.web.session import CheckedForm, ConsoleCaller
from guardpay.errors import InvalidRequest
from guardpay.services.reports import reconciliation

router = APIRouter(route_class=InOneUnit, prefix="/console", include_in_schema=False)
MAX_STATEMENT = 20 * 1024 * 1024  # a day's statement of a large bank channel, with room


@router.get("/reconciliation")
def reconciliation_page(request: Request, op: ConsoleCaller) -> Response:
    reserve = reconciliation.reserve_now(op.ctx)
    return console_page(request, op, "reconciliation.html", reserve=reserve, statement=None)


@router.get("/reconciliation/reserve.{kind}")
def reserve_file(op: ConsoleCaller, kind: str) -> Response:
    reserve = reconciliation.reserve_now(op.ctx)
    return download(reconciliation.reserve_file(reserve, kind), kind, "reserve-reconciliation")


@router.post("/reconciliation/statement", dependencies=[CheckedForm])
def check_statement(
    request: Request,
    op: ConsoleCaller,
    file: Annotated[UploadFile, File()],
    answer: Annotated[str, Form(pattern="^(page|csv|json)$")] = "page",
) -> Response:
    """The breaks on the page (without the reserve: it was checked on its own), or as a
    file to keep (the statement is not stored)."""
    found = reconciliation.statement_check(op.ctx, _text(file))
    if answer != "page":
        return download(reconciliation.breaks_file(found, answer), answer, "statement-breaks")
    values = {"reserve": None, "statement": found, "statement_name": file.filename or ""}
    return console_page(request, op, "reconciliation.html", **values)


def _text(file: UploadFile) -> str:
    data = file.file.read(MAX_STATEMENT + 1)
    if len(data) > MAX_STATEMENT:
        raise InvalidRequest("the statement is larger than 20 MB", code="invalid_statement")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest(
            "the statement is not UTF-8 text (CSV)", code="invalid_statement", param="file"
        ) from None
