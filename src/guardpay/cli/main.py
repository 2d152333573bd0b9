"""`guardpay`: the command line. Each command is one unit of work at the edge."""

from __future__ import annotations

import sys

import typer

from guardpay.cli import (
    audit,
    bench,
    db,
    demo,
    evaluate,
    jobs,
    keys,
    ledger,
    model,
    operators,
    reconcile,
    rules,
    serve,
    simulate,
)
from guardpay.cli.context import CliState, configure_logging, err_console
from guardpay.config import default_database_url
from guardpay.errors import GuardpayError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.add_typer(db.app, name="db")
app.add_typer(ledger.app, name="ledger")
app.add_typer(bench.app, name="bench")
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
app.add_typer(reconcile.app, name="reconcile")
app.add_typer(jobs.app, name="jobs")
app.add_typer(rules.app, name="rules")
app.add_typer(model.app, name="model")
app.add_typer(operators.app, name="operators")
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
        envvar="GUARDPAY_DATABASE_URL",
        help="SQLAlchemy URL (sqlite:///... or postgresql://...). "
        "Default: GUARDPAY_DATABASE_URL, else ./guardpay-data/guardpay.db",
        show_default=False,
    ),
) -> None:
    configure_logging()
    ctx.obj = CliState(database_url or default_database_url())


def main() -> None:
    try:
        app()
    except GuardpayError as exc:
        err_console.print(f"[bold red]error[/] ({exc.code}): {exc.message}")
        sys.exit(2)
