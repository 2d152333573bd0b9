"""`guardpay cases`: the analysts' queue from the command line, for scripts and for a team
working without the console, on the same services as the API (`/v1/cases`, `/v1/alerts`).

Every command acts as the operator `--operator NAME` names (an existing, enabled one),
with that operator's role checked exactly as the API checks it, and its audit entries
say so (`operator:<id>`). Whoever runs the CLI holds the database anyway; what it cannot
do is approve a four-eyes request: a freeze asked for here is approved by a second
operator at `POST /v1/operator/approvals/{id}/approve`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from guardpay.cli.context import console, emit_json, err_console, state
from guardpay.domain.cases.alerts import Alert
from guardpay.domain.cases.model import Case
from guardpay.errors import GuardpayError
from guardpay.services.auth import operators
from guardpay.services.cases import actions, workflow
from guardpay.services.platform.context import Actor, Context
from guardpay.storage.engine.migrate import require_migrated
from guardpay.storage.uow import unit_of_work

app = typer.Typer(no_args_is_help=True, help=__doc__)
T = TypeVar("T")

OPERATOR = typer.Option(..., "--operator", help="Act as this operator (name).")
JSON = typer.Option(False, "--json", help="Print JSON.")


def as_operator(ctx: typer.Context, name: str, work: Callable[[Context], T]) -> T:
    """`work` in one unit of work, as the operator named; a refusal is printed, exit 1."""
    cli = state(ctx)
    db = cli.database()
    require_migrated(db)
    try:
        with unit_of_work(db) as uow:
            found = operators.operator_named(uow, name)
            if found is None:
                err_console.print(f"[bold red]error[/]: no operator named {escape(name)}")
                raise typer.Exit(2)
            return work(Context(uow, cli.keyring(), Actor("operator", found.id)))
    except GuardpayError as exc:
        err_console.print(f"[bold red]error[/] ({exc.code}): {escape(exc.message)}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()


def case_dict(case: Case, now: Any) -> dict[str, Any]:
    return {
        "id": case.id,
        "subject": case.subject,
        "status": case.status.value,
        "score_bp": case.score_bp,
        "alerts": case.alerts,
        "assignee": case.assignee,
        "opened_at": case.opened_at.isoformat(),
        "due_at": None if case.due_at is None else case.due_at.isoformat(),
        "breached": case.breached(now),
        "disposition": None if case.disposition is None else case.disposition.value,
    }


def alert_dict(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "source": alert.source,
        "subject": alert.subject,
        "kind": alert.kind,
        "score_bp": alert.score_bp,
        "occurrences": alert.occurrences,
        "first_seen": alert.first_seen.isoformat(),
        "last_seen": alert.last_seen.isoformat(),
        "case_id": alert.case_id,
        "evidence": alert.evidence,
        "path": alert.path,
    }


def _print_cases(rows: list[dict[str, Any]], json_out: bool) -> None:
    if json_out:
        emit_json(rows)
        return
    columns = ("id", "subject", "status", "score_bp", "alerts", "assignee", "due_at", "breached")
    table = Table(*columns)
    for row in rows:
        table.add_row(*(escape(str(row[k] if row[k] is not None else "")) for k in columns))
    console.print(table)


@app.command("list")
def list_(
    ctx: typer.Context,
    operator: str = OPERATOR,
    status: list[str] = typer.Option([], "--status", help="open, investigating, ..."),
    breached: bool = typer.Option(False, "--breached", help="Only cases past their SLA."),
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    json_out: bool = JSON,
) -> None:
    """The queue, newest first."""

    def work(c: Context) -> list[dict[str, Any]]:
        found, _ = workflow.list_cases(c, status=status, breached=breached, limit=limit)
        return [case_dict(case, c.now()) for case in found]

    _print_cases(as_operator(ctx, operator, work), json_out)


@app.command()
def breaches(ctx: typer.Context, operator: str = OPERATOR, json_out: bool = JSON) -> None:
    """Every case past its SLA now, the longest overdue first."""

    def work(c: Context) -> list[dict[str, Any]]:
        return [case_dict(case, c.now()) for case in workflow.breaches(c)]

    _print_cases(as_operator(ctx, operator, work), json_out)


@app.command()
def show(ctx: typer.Context, case_id: str, operator: str = OPERATOR, json_out: bool = JSON) -> None:
    """A case: its alerts (with the money's path), notes and audit trail."""

    def work(c: Context) -> dict[str, Any]:
        seen = workflow.view(c, case_id)
        return case_dict(seen.case, c.now()) | {
            "alert_list": [alert_dict(a) for a in seen.alerts],
            "notes": [
                {"at": n.created_at.isoformat(), "author": n.author, "body": n.body}
                for n in seen.notes
            ],
            "timeline": [
                {"at": e.at.isoformat(), "actor": e.actor, "action": e.action}
                for e in seen.timeline
            ],
        }

    shown = as_operator(ctx, operator, work)
    if json_out:
        emit_json(shown)
        return
    console.print(
        f"[bold]{shown['id']}[/] {escape(shown['subject'])}: {shown['status']}, "
        f"{shown['alerts']} alert(s), due {shown['due_at']}"
    )
    for a in shown["alert_list"]:
        console.print(
            f"  alert {a['kind']} ({a['source']}, x{a['occurrences']}): {escape(a['evidence'])}"
        )
    for e in shown["timeline"]:
        console.print(f"  {e['at']} {e['actor']} {e['action']}")


@app.command()
def alerts(
    ctx: typer.Context,
    operator: str = OPERATOR,
    source: str | None = typer.Option(None, "--source", help="aml or risk_review"),
    limit: int = typer.Option(100, "--limit", min=1, max=1000),
    json_out: bool = JSON,
) -> None:
    """The alerts, newest first."""

    def work(c: Context) -> list[dict[str, Any]]:
        found, _ = workflow.list_alerts(c, source=source, limit=limit)
        return [alert_dict(a) for a in found]

    rows = as_operator(ctx, operator, work)
    if json_out:
        emit_json(rows)
        return
    columns = ("id", "source", "subject", "kind", "score_bp", "occurrences", "case_id")
    table = Table(*columns)
    for row in rows:
        table.add_row(*(escape(str(row[k])) for k in columns))
    console.print(table)


def _done(
    ctx: typer.Context, operator: str, json_out: bool, step: Callable[[Context], Case]
) -> None:
    def work(c: Context) -> dict[str, Any]:
        return case_dict(step(c), c.now())

    row = as_operator(ctx, operator, work)
    if json_out:
        emit_json(row)
    else:
        console.print(f"{row['id']}: {row['status']} (assignee {row['assignee']})")


@app.command()
def investigate(
    ctx: typer.Context, case_id: str, operator: str = OPERATOR, json_out: bool = JSON
) -> None:
    """Take up an open case."""
    _done(ctx, operator, json_out, lambda c: workflow.investigate(c, case_id))


@app.command()
def escalate(
    ctx: typer.Context,
    case_id: str,
    reason: str = typer.Option(..., "--reason"),
    operator: str = OPERATOR,
    json_out: bool = JSON,
) -> None:
    _done(ctx, operator, json_out, lambda c: workflow.escalate(c, case_id, reason))


@app.command()
def close(
    ctx: typer.Context,
    case_id: str,
    disposition: str = typer.Option(
        ..., "--disposition", help="confirmed_fraud, confirmed_laundering or false_positive"
    ),
    reason: str = typer.Option(..., "--reason"),
    operator: str = OPERATOR,
    json_out: bool = JSON,
) -> None:
    """Close with a disposition (it labels the decisions behind the alerts)."""
    _done(ctx, operator, json_out, lambda c: workflow.close(c, case_id, disposition, reason))


@app.command()
def note(
    ctx: typer.Context,
    case_id: str,
    body: str = typer.Argument(..., help="The note."),
    operator: str = OPERATOR,
) -> None:
    made = as_operator(ctx, operator, lambda c: workflow.add_note(c, case_id, body))
    console.print(f"note {made.id} added to {case_id}")


@app.command()
def freeze(
    ctx: typer.Context,
    case_id: str,
    reason: str = typer.Option(..., "--reason"),
    operator: str = OPERATOR,
) -> None:
    """Ask for the customer to be frozen; a second operator approves it in the API."""
    asked = as_operator(ctx, operator, lambda c: actions.request_freeze(c, case_id, reason))
    console.print(
        f"approval {asked.id} requested: a supervisor other than you approves it at "
        f"POST /v1/operator/approvals/{asked.id}/approve"
    )
