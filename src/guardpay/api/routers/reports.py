"""Regulatory reports for operators (services/reports).

- `POST /v1/reports/large-value` files a day's large-value transaction report (the daily
  job files yesterday's itself); `POST /v1/cases/{id}/str` drafts a suspicious-transaction
  report from a case, and `POST /v1/reports/{id}/file` asks for it to be filed: a
  supervisor other than the requester approves (`/v1/operator/approvals/{id}/approve`).
- `GET /v1/reports`, `GET /v1/reports/{id}`: what was reported, when, by whom, the
  SHA-256 of its files (also in the audit log) and, for a draft, its deadline;
  `GET /v1/reports/{id}/file.csv|json`: the files, byte for byte those whose hashes were
  recorded, with the identities of the customers they name (an analyst or above; each
  download is audited).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from guardpay.api.deps import InOneUnit, OperatorCaller
from guardpay.api.routers.common import ListOut, PathId, errors
from guardpay.api.routers.operators import ApprovalOut
from guardpay.services.reports import large_value, reports, suspicious

if TYPE_CHECKING:  # types only: the records come from the services
    from guardpay.storage.reports import ReportRecord

router = APIRouter(route_class=InOneUnit, tags=["reports"])


class ReportOut(BaseModel):
    id: str
    kind: Literal["large_value", "str"]
    subject: str = Field(description="profile:date for a large-value report, else a case id")
    status: Literal["draft", "filed"]
    rows: int
    sha256_csv: str | None
    sha256_json: str | None
    created_by: str
    created_at: datetime
    deadline_at: datetime | None = Field(description="A draft STR's filing deadline")
    overdue: bool
    filed_by: str | None
    filed_at: datetime | None

    @classmethod
    def of(cls, r: ReportRecord, now: datetime) -> ReportOut:
        fields = {name: getattr(r, name) for name in cls.model_fields if name != "overdue"}
        late = r.status == "draft" and r.deadline_at is not None and now >= r.deadline_at
        return cls(**fields, overdue=late)


class ReportViewOut(ReportOut):
    content: dict[str, Any] = Field(description="The report as filed (columns, rows, ...)")


class LargeValueIn(BaseModel):
    date: date
    profile: Literal["cn", "us"] = "cn"


class StrIn(BaseModel):
    narrative: str = Field(min_length=1, max_length=10_000)


_ANY = errors(400, 401, 403, 404, 409)


@router.post("/reports/large-value", status_code=201, response_model=ReportOut, responses=_ANY)
def file_large_value(op: OperatorCaller, body: LargeValueIn) -> ReportOut:
    """File the day's report now (an analyst or above); a new record each time."""
    filed = large_value.file_on_demand(op.ctx, body.profile, body.date)
    return ReportOut.of(filed, op.ctx.now())


@router.post("/cases/{case_id}/str", status_code=201, response_model=ReportOut, responses=_ANY)
def draft_str(op: OperatorCaller, case_id: PathId, body: StrIn) -> ReportOut:
    """Draft a suspicious-transaction report from the case (due in five working days)."""
    return ReportOut.of(suspicious.draft(op.ctx, case_id, body.narrative), op.ctx.now())


@router.post(
    "/reports/{report_id}/file", status_code=201, response_model=ApprovalOut, responses=_ANY
)
def request_filing(op: OperatorCaller, report_id: PathId) -> ApprovalOut:
    """Ask for a draft STR to be filed: it is once a supervisor who is not you approves."""
    return ApprovalOut.of(suspicious.request_filing(op.ctx, report_id))


@router.get("/reports", response_model=ListOut[ReportOut], responses=errors(400, 401, 403))
def list_reports(
    op: OperatorCaller,
    kind: Literal["large_value", "str"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ListOut[ReportOut]:
    """The newest first."""
    now = op.ctx.now()
    found = reports.latest(op.ctx, kind, limit)
    return ListOut[ReportOut](data=[ReportOut.of(r, now) for r in found])


@router.get("/reports/{report_id}", response_model=ReportViewOut, responses=errors(401, 403, 404))
def get_report(op: OperatorCaller, report_id: PathId) -> ReportViewOut:
    record = reports.get(op.ctx, report_id)
    base = ReportOut.of(record, op.ctx.now())
    return ReportViewOut(**base.model_dump(), content=json.loads(record.content))


@router.get(
    "/reports/{report_id}/file.{kind}",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}, **errors(401, 403, 404)},
)
def report_file(op: OperatorCaller, report_id: PathId, kind: Literal["csv", "json"]) -> Response:
    made = reports.files_of(op.ctx, reports.get(op.ctx, report_id))
    data, media = (made.csv, "text/csv") if kind == "csv" else (made.json, "application/json")
    name = f"{report_id}.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(data, media_type=media, headers=headers)
