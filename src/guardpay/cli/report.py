"""`guardpay report`: regulatory reports. The large-value report of a day is filed by the
system (as the daily `large_value_report` job does); a suspicious-transaction report is
drafted from a case by an operator (`--operator NAME`, role checked as in the API) and
filed once a second operator approves it (`POST /v1/operator/approvals/{id}/approve`).
Each report's files are written as CSV and JSON (`--out DIR`), and their SHA-256 is what
the audit log recorded when it was filed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from guardpay.cli.cases import OPERATOR, as_operator
from guardpay.cli.context import console, emit_json, err_console, state
from guardpay.errors import GuardpayError
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.services.reports import files, large_value, reports, suspicious
from guardpay.storage.engine.migrate import require_migrated
from guardpay.storage.uow import unit_of_work

if TYPE_CHECKING:  # types only: the records come from the services
    from guardpay.services.reports.files import Files
    from guardpay.storage.reports import ReportRecord

app = typer.Typer(no_args_is_help=True, help=__doc__)
JSON = typer.Option(False, "--json", help="Print JSON.")
OUT = typer.Option(None, "--out", help="Write the report's CSV and JSON files here.")


@app.command("large-value")
def large_value_report(
    ctx: typer.Context,
    day: str = typer.Option(..., "--date", help="The day, YYYY-MM-DD (the profile's time)."),
    profile: str = typer.Option("cn", "--profile", help="cn (PBOC 2016 No. 3) or us (CTR)."),
    out: Path | None = OUT,
    json_out: bool = JSON,
) -> None:
    """File the large-value transaction report of one day."""
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise typer.BadParameter("a date as YYYY-MM-DD", param_hint="--date") from None
    cli = state(ctx)
    db = cli.database()
    require_migrated(db)
    try:
        with unit_of_work(db) as uow:
            c = Context(uow, cli.keyring(), SYSTEM)
            record = large_value.file(c, large_value.profile_named(profile), when)
            made = reports.files_of(c, record)
    except GuardpayError as exc:
        err_console.print(f"[bold red]error[/] ({exc.code}): {escape(exc.message)}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    _done(record, made, out, json_out)


@app.command("str")
def draft_str(
    ctx: typer.Context,
    case_id: str = typer.Argument(..., help="The case the report is drafted from."),
    narrative: str = typer.Option(..., "--narrative", help="What is suspicious, and why."),
    operator: str = OPERATOR,
    out: Path | None = OUT,
    json_out: bool = JSON,
) -> None:
    """Draft a suspicious-transaction report from a case, and ask for it to be filed (a
    supervisor other than you approves the filing)."""

    def work(c: Context) -> tuple[ReportRecord, Files, str]:
        record = suspicious.draft(c, case_id, narrative)
        asked = suspicious.request_filing(c, record.id).id
        return record, reports.files_of(c, record), asked

    record, made, approval = as_operator(ctx, operator, work)
    if not json_out:
        console.print(
            f"drafted {record.id}, due {record.deadline_at}; filing approval {approval}: "
            f"POST /v1/operator/approvals/{approval}/approve"
        )
    _done(record, made, out, json_out, {"approval_id": approval})


@app.command("export")
def export(
    ctx: typer.Context,
    report_id: str = typer.Argument(...),
    operator: str = OPERATOR,
    out: Path = typer.Option(..., "--out", help="Write the CSV and JSON files here."),
    json_out: bool = JSON,
) -> None:
    """A recorded report's files, byte for byte those whose hashes were filed."""

    def work(c: Context) -> tuple[ReportRecord, Files]:
        record = reports.get(c, report_id)
        return record, reports.files_of(c, record)

    record, made = as_operator(ctx, operator, work)
    _done(record, made, out, json_out)


def _done(
    record: ReportRecord,
    made: Files,
    out: Path | None,
    json_out: bool,
    extra: dict[str, str] | None = None,
) -> None:
    written: list[str] = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for suffix, data in (("csv", made.csv), ("json", made.json)):
            path = out / f"{record.kind}_{record.subject.replace(':', '_')}_{record.id}.{suffix}"
            path.write_bytes(data)
            written.append(str(path))
    summary = {
        "id": record.id,
        "kind": record.kind,
        "subject": record.subject,
        "status": record.status,
        "rows": record.rows,
        "sha256_csv": files.sha256(made.csv),
        "sha256_json": files.sha256(made.json),
        "recorded_sha256_csv": record.sha256_csv,
        "recorded_sha256_json": record.sha256_json,
        "deadline_at": None if record.deadline_at is None else record.deadline_at.isoformat(),
        "files": written,
    } | (extra or {})
    if json_out:
        emit_json(summary)
        return
    console.print(
        f"{record.kind} report {record.id} ({record.subject}): {record.status}, "
        f"{record.rows} row(s), csv sha256 {summary['sha256_csv']}"
    )
    for name in written:
        console.print(f"  wrote {escape(name)}")
