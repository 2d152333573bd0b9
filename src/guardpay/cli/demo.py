"""`guardpay demo`: a fresh demo world, every payment flow in plain words, the three
checks, then the API on :8000 (`--port`).

The world lives in `guardpay-data/demo.db`, deleted and rebuilt on every run, so the
demo always tells the same story. Because it deletes its database, the demo uses no
other: a `--database-url` (or `GUARDPAY_DATABASE_URL`) naming another database is
refused, never wiped. The served API texts its codes through the console SMS backend
(printed, not sent), and the demo prints its logins: a user's and the analyst's
(an operator of the console API). Its master key is the CLI's and the API's
(`Keyring.from_settings`: `GUARDPAY_MASTER_KEYS`, else the development key file
`guardpay-data/master.keys`, made on first use): one key, so the API the demo serves
can decrypt what the walkthrough wrote, and `guardpay audit verify` or
`guardpay keys rotate` on the demo database work with no extra setup.

`--json` prints only `{"flows": {...}, "ledger_verified", "reserve_reconciled",
"audit_verified"}`; flows still being built elsewhere (escrow, refunds, red packets)
are reported as "not_available" so the shape stays stable.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import typer

from guardpay.adapters.sms import ConsoleSms
from guardpay.cli.context import console, emit_json, err_console, state
from guardpay.cli.demo_flows import EXPECTED, FLOWS, NOT_AVAILABLE, Say, balances, yuan
from guardpay.cli.demo_risk import ANALYST_NAME, ANALYST_SECRET
from guardpay.cli.demo_world import (
    LOGIN_PASSWORD,
    PAYMENT_PIN,
    PEOPLE,
    Cast,
    DemoWorld,
    build,
)
from guardpay.config import DEFAULT_DATA_DIR, Settings
from guardpay.domain.identity.masking import mask_phone
from guardpay.security.keys import Keyring
from guardpay.services.auth import operator_login, operators
from guardpay.services.ledger import books as ledger
from guardpay.services.ledger import reconcile
from guardpay.services.platform import audit
from guardpay.services.platform.context import Context
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.migrate import upgrade
from guardpay.storage.uow import read_only

DEMO_DATABASE = Path(DEFAULT_DATA_DIR) / "demo.db"


def is_demo_database(url: str) -> bool:
    """Whether `url` names the demo's own SQLite file (relative to here, or absolute)."""
    for scheme in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(scheme) and "?" not in url:
            named = url.removeprefix(scheme)
            return bool(named) and Path(named).resolve() == DEMO_DATABASE.resolve()
    return False


def fresh_database() -> Database:
    """An empty, migrated `guardpay-data/demo.db` (the old one and its WAL removed)."""
    path = DEMO_DATABASE
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    return db


def introduce(cast: Cast, say: Say) -> None:
    say("[bold]The cast[/] (made-up people; the fake KYC services decide each class):")
    for m in cast.members:
        card = ", a bound debit card" if m.card_id else ""
        who = f"{m.person.name} ({mask_phone(m.person.phone)})"
        say(f"  {who}: account class {m.account_class}{card}")
    say(f"  merchant {cast.shop_name} with its sub-merchant {cast.branch_name}")


def walk(world: DemoWorld, cast: Cast, say: Say) -> dict[str, str]:
    """Run every flow in order; each flow's final state by its key."""
    states: dict[str, str] = {}
    for n, (key, title, flow) in enumerate(FLOWS, 1):
        say(f"\n[bold]{n}. {title}[/]")
        states[key] = flow(world, cast, say)
    return {**states, **dict.fromkeys(NOT_AVAILABLE, "not_available")}


def check(db: Database, say: Say) -> dict[str, bool]:
    """`ledger verify`, `reconcile reserve` and `audit verify`, as the CLI runs them."""
    with read_only(db) as uow:
        lv, rr, av = ledger.verify(uow), reconcile.reserve(uow), audit.verify(uow)
    ok, bad = "[green]clean[/]", "[red]FAILED[/]"
    say(
        f"ledger verify: {ok if lv.ok else bad} ({lv.accounts} accounts, "
        f"{lv.transfers} transfers){'' if lv.ok else ' ' + str(lv.problems)}"
    )
    for line in rr.lines:
        why = "" if rr.ok else f" {line.breaks}"
        say(
            f"reconcile reserve: {ok if rr.ok else bad} — {line.currency} reserve "
            f"{yuan(line.reserve)} = customer and merchant money {yuan(line.liabilities)} "
            f"+ platform funds {yuan(line.platform_funds)}{why}"
        )
    say(
        f"audit verify: {ok if av.ok else bad} ({av.entries} entries, head "
        f"{av.head_hash[:16]}…){'' if av.ok else ' ' + str(av.problem)}"
    )
    return {"ledger_verified": lv.ok, "reserve_reconciled": rr.ok, "audit_verified": av.ok}


def run(world: DemoWorld, *, quiet: bool = False) -> dict[str, object]:
    """Build the world, walk every flow, check; the `--json` report. `quiet` prints
    nothing (stdout is the JSON's)."""
    say: Say = (lambda _: None) if quiet else console.print
    cast = build(world)
    introduce(cast, say)
    flows = walk(world, cast, say)
    if not quiet:
        console.print(balances(world, cast))
        console.rule("[bold]the checks")
    return {"flows": flows, **check(world.db, say)}


def _enrolment_code(ctx: Context, name: str) -> str:
    found = operators.operator_named(ctx.uow, name)
    assert found is not None, "the demo's analyst"
    return operator_login.issue_enrolment(ctx, found.id)


def _serve(world: DemoWorld, settings: Settings, port: int) -> None:
    import uvicorn

    from guardpay.api.app import create_app

    base = f"http://127.0.0.1:{port}"
    configured = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    scrape = configured or secrets.token_urlsafe(18)  # a demo's own
    console.print(f"\nAPI: {base}  docs: {base}/docs  (Ctrl-C to stop)")
    console.print(f"Metrics: curl -H 'Authorization: Bearer {scrape}' {base}/metrics")
    console.print(
        f"Demo login (fake accounts): phone {PEOPLE[0].phone}, password "
        f"{LOGIN_PASSWORD}, payment password {PAYMENT_PIN}"
    )
    enrolment = world.run(_enrolment_code, ANALYST_NAME)
    console.print(
        f"Analyst login (console: {base}/console): name {ANALYST_NAME}, password "
        f"{ANALYST_SECRET}, then the one-time enrolment code {enrolment} to set up an "
        "authenticator app (TOTP), whose codes the console asks for from then on"
    )
    console.print(f"Wallet (phone-sized): {base}/wallet, with the demo login above")
    console.print(
        "SMS: the console backend (development): codes (a new device's login step-up) are "
        "printed here, not sent."
    )
    app = create_app(
        world.db,
        settings=settings,
        keyring=world.keyring,
        kyc=world.kyc,
        sms=ConsoleSms(),
        metrics_token=scrape,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def demo(
    ctx: typer.Context,
    serve: bool = typer.Option(
        True, help="Serve the API on http://127.0.0.1:PORT afterwards, until Ctrl-C."
    ),
    port: int = typer.Option(8000, min=1, max=65535, help="Port for the API."),
    json: bool = typer.Option(False, "--json", help="Print only the JSON report."),
) -> None:
    """Run the guided demo on a fresh embedded database, then serve the API. The demo's
    database is ./guardpay-data/demo.db, deleted and rebuilt on every run; a
    --database-url or GUARDPAY_DATABASE_URL naming any other database is refused."""
    cli = state(ctx)
    given = cli.database_url if "database_url" in cli.settings.model_fields_set else None
    if given and not is_demo_database(given):
        err_console.print(
            f"[bold red]error[/]: the demo deletes and rebuilds its own database, "
            f"{DEMO_DATABASE}, on every run, and uses no other: unset GUARDPAY_DATABASE_URL "
            "or leave out --database-url (the database named was left untouched)"
        )
        raise typer.Exit(2)
    world = DemoWorld(fresh_database(), Keyring.from_settings(cli.settings, DEFAULT_DATA_DIR))
    if not json:
        console.rule("[bold]guardpay demo")
    report = run(world, quiet=json)
    if json:
        emit_json(report)
    healthy = all(report[k] for k in ("ledger_verified", "reserve_reconciled", "audit_verified"))
    flows = report["flows"]
    assert isinstance(flows, dict)
    if not healthy or flows != EXPECTED:
        raise typer.Exit(1)
    if serve:
        _serve(world, cli.settings, port)
