"""`guardpay`: the command line. Each command is one unit of work at the edge."""

from __future__ import annotations

import sys

import typer

from guardpay.cli import (
    aml,
    archive,
    audit,
    bench,
    cases,
    db,
    demo,
    evaluate,
    jobs,
    keys,
    ledger,
    model,
    operators,
    reconcile,
    report,
    rules,
    serve,
    simulate,
)
from guardpay.cli.context import CliState, configure_logging, err_console
from guardpay.config import Settings, SettingsError
from guardpay.errors import GuardpayError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.add_typer(db.app, name="db")
app.add_typer(ledger.app, name="ledger")
app.add_typer(bench.app, name="bench")
app.add_typer(audit.app, name="audit")
app.add_typer(archive.app, name="archive")
app.add_typer(keys.app, name="keys")
app.add_typer(reconcile.app, name="reconcile")
app.add_typer(jobs.app, name="jobs")
app.add_typer(rules.app, name="rules")
app.add_typer(model.app, name="model")
app.add_typer(operators.app, name="operators")
app.add_typer(aml.app, name="aml")
app.add_typer(cases.app, name="cases")
app.add_typer(report.app, name="report")
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.command("simulate")(simulate.simulate)
app.command("evaluate")(evaluate.evaluate)


@app.callback()
def _root(
    ctx: typer.Context,
    database_url: str = typer.Option(
        None,
        "--database-url",
        help="SQLAlchemy URL (sqlite:///... or postgresql://...). "
        "Default: GUARDPAY_DATABASE_URL, else ./guardpay-data/guardpay.db",
        show_default=False,
    ),
) -> None:
    """The settings are read here, once, for every command (config.py); a bad one is the
    command line's error, named."""
    try:
        settings = Settings.from_environment()
        if database_url:
            settings = settings.replace(database_url=database_url)
    except SettingsError as exc:
        raise typer.BadParameter(str(exc)) from None
    configure_logging(settings)
    ctx.obj = CliState(settings)


def main() -> None:
    try:
        app()
    except GuardpayError as exc:
        err_console.print(f"[bold red]error[/] ({exc.code}): {exc.message}")
        sys.exit(2)
