"""`guardpay operators`: make the platform's first admin, and list the operators.

A fresh `guardpay serve` has no operator, and operators are created by an admin
(`POST /v1/operator/operators`), so the first admin comes from here, run by whoever runs
the server (the system: it needs the database, not a login). Only that first one: once any
operator exists this refuses, and the admins take over through the console API, where role
changes and disabling need a second operator's approval (four eyes). The created admin gets
a one-time enrolment code with which the console's first sign-in sets up their
authenticator app (the console asks every operator for one); `guardpay operators
enrolment NAME` issues a fresh code to an operator who has not set one up yet, and
`--reset REASON` to one who lost theirs (the only admin included).

The password is read twice with hidden input, or once from stdin with `--password-stdin`
(for scripts: `printf '%s\\n' "$PASSWORD" | guardpay operators create ...`); it is never
echoed, printed or logged.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape
from rich.table import Table

from guardpay.cli.context import console, emit_json, err_console, state
from guardpay.domain.auth.roles import Role
from guardpay.errors import GuardpayError, OperatorsExist
from guardpay.services.auth import operator_login, operators
from guardpay.services.platform.context import SYSTEM, Context
from guardpay.storage.engine.migrate import require_migrated
from guardpay.storage.uow import read_only, unit_of_work

app = typer.Typer(no_args_is_help=True, help=__doc__)

_LATER = (
    "operators exist already: this command makes only the first admin. An admin creates "
    "more operators through the console API (POST /v1/operator/operators); role changes and "
    "disabling go through four-eyes approvals (POST /v1/operator/approvals)."
)


def _refuse(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error[/]: {escape(message)}")
    return typer.Exit(code)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise _refuse("--password-stdin read no password")
        return password
    value = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(value)


@app.command()
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Login name: 3-80 of a-z, 0-9, '.', '_', '-'."),
    role: Role = typer.Option(
        ..., "--role", case_sensitive=False, help="Must be admin: the first operator."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
) -> None:
    """Create the FIRST operator, an admin, on a platform that has none (no approval: there
    is nobody to approve yet). Refused once any operator exists: from then on an admin
    creates operators through the console API (POST /v1/operator/operators), and role
    changes and disabling need a second operator's approval. The admin logs in at
    POST /v1/operator/sessions with NAME and the password."""
    cli = state(ctx)
    db = cli.database()
    require_migrated(db)
    if role is not Role.ADMIN:
        raise _refuse(
            "the first operator must be an admin (--role admin): only an admin can create "
            "the others"
        )
    with read_only(db) as uow:  # refuse before asking for a password
        if operators.operators_exist(uow):
            raise _refuse(_LATER)
    password = _password(password_stdin)
    try:
        with unit_of_work(db) as uow:
            system = Context(uow, cli.keyring(), SYSTEM)
            made = operators.create_first_admin(system, name, password)
            code = operator_login.issue_enrolment(system, made.id)
    except GuardpayError as exc:
        message = _LATER if isinstance(exc, OperatorsExist) else exc.message
        raise _refuse(f"({exc.code}) {message}") from None
    finally:
        db.dispose()
    console.print(
        f"operator {made.name} ({made.role}) created. Sign in at /console with the password "
        f"and this one-time enrolment code (valid a day, shown once): {code}"
    )


@app.command()
def enrolment(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The operator's login name."),
    reset: str | None = typer.Option(
        None,
        "--reset",
        metavar="REASON",
        help="The authenticator was lost: remove it and end their sessions (audited).",
    ),
) -> None:
    """A fresh one-time enrolment code for an operator who has no authenticator app set
    up yet (the earlier code stops working), or, with `--reset REASON`, one who lost
    theirs. Printed once; give it to them in person."""
    cli = state(ctx)
    db = cli.database()
    require_migrated(db)
    try:
        with unit_of_work(db) as uow:
            found = operators.operator_named(uow, name)
            if found is None:
                raise _refuse(f"no operator named {name}")
            system = Context(uow, cli.keyring(), SYSTEM)
            if reset is None:
                code = operator_login.issue_enrolment(system, found.id)
            else:
                code = operator_login.reset_authenticator(system, found.id, reset)
    except GuardpayError as exc:
        raise _refuse(f"({exc.code}) {exc.message}") from None
    finally:
        db.dispose()
    console.print(f"enrolment code for {found.name} (valid a day, shown once): {code}")


@app.command("list")
def list_(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every operator, oldest first: id, name, role, when created and disabled (no secrets)."""
    cli = state(ctx)
    db = cli.database()
    require_migrated(db)
    with read_only(db) as uow:
        found = operators.list_operators(Context(uow, cli.keyring(), SYSTEM))
    db.dispose()
    rows = [
        {
            "id": o.id,
            "name": o.name,
            "role": o.role,
            "created_at": o.created_at.isoformat(),
            "disabled_at": o.disabled_at.isoformat() if o.disabled_at else None,
        }
        for o in found
    ]
    if json_out:
        emit_json(rows)
        return
    if not rows:
        console.print("no operators yet: guardpay operators create NAME --role admin")
        return
    columns = ("name", "role", "created_at", "disabled_at", "id")
    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row[k] or "") for k in columns))
    console.print(table)
