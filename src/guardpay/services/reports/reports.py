"""Looking at what was reported, for operators: the records (any operator: their content
names customers by id only) and their files (an analyst or above: they carry the
customers' identities, so each download is audited)."""

from __future__ import annotations

from guardpay.domain.auth.roles import Role
from guardpay.errors import Conflict, NotFound
from guardpay.services.platform.access import require_role
from guardpay.services.platform.context import Context
from guardpay.services.reports import identities
from guardpay.services.reports.files import Files, sha256
from guardpay.storage.reports import ReportRecord


def get(ctx: Context, report_id: str) -> ReportRecord:
    require_role(ctx, Role.VIEWER)
    found = ctx.uow.reports.get(report_id)
    if found is None:
        raise NotFound("no such report", code="report_not_found", param="report_id")
    return found


def latest(ctx: Context, kind: str | None = None, limit: int = 100) -> list[ReportRecord]:
    require_role(ctx, Role.VIEWER)
    return ctx.uow.reports.latest(kind, limit)


def files_of(ctx: Context, record: ReportRecord) -> Files:
    """The report's files, byte for byte those whose hashes were recorded at filing: to
    an analyst or above, or the system (a job, the CLI on the server)."""
    if ctx.actor.kind != "system":
        require_role(ctx, Role.ANALYST)
    made = identities.files(ctx, record.id, record.content)
    details = {"sha256_csv": sha256(made.csv), "sha256_json": sha256(made.json)}
    recorded = {"sha256_csv": record.sha256_csv, "sha256_json": record.sha256_json}
    if record.status == "filed" and details != recorded:  # what was filed was changed since
        ctx.audit("report.files_read", subject=record.id, outcome="altered", details=details)
        ctx.uow.keep()
        raise Conflict(
            "the report no longer renders the files that were filed: its stored content or "
            "identities were changed; the audit log keeps the filed hashes",
            code="report_altered",
        )
    ctx.audit("report.files_read", subject=record.id, details=details)
    return made
