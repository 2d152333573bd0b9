"""Looking at what was reported, for operators: the records and their files."""

from __future__ import annotations

from dataclasses import dataclass

from guardpay.domain.auth.roles import Role
from guardpay.errors import NotFound
from guardpay.services.platform.access import require_role
from guardpay.services.platform.context import Context
from guardpay.services.reports import files
from guardpay.storage.reports import ReportRecord


@dataclass(frozen=True)
class Files:
    csv: bytes
    json: bytes


def get(ctx: Context, report_id: str) -> ReportRecord:
    require_role(ctx, Role.VIEWER)
    found = ctx.uow.reports.get(report_id)
    if found is None:
        raise NotFound("no such report", code="report_not_found", param="report_id")
    return found


def latest(ctx: Context, kind: str | None = None, limit: int = 100) -> list[ReportRecord]:
    require_role(ctx, Role.VIEWER)
    return ctx.uow.reports.latest(kind, limit)


def files_of(record: ReportRecord) -> Files:
    """The report's files, byte for byte those whose hashes were recorded at filing."""
    return Files(files.csv_bytes(record.content), files.json_bytes(record.content))
