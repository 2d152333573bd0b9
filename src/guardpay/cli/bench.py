"""`guardpay bench ...`: benchmarks with JSON output and an in-run baseline."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from guardpay.bench import aml as aml_bench
from guardpay.bench import api as api_bench
from guardpay.bench import audit as audit_bench
from guardpay.bench import ledger as ledger_bench
from guardpay.bench import plot as plot_bench
from guardpay.bench import reads as reads_bench
from guardpay.cli.context import console, emit_json, state
from guardpay.errors import InvalidRequest
from guardpay.storage.engine.migrate import require_migrated

app = typer.Typer(no_args_is_help=True, help="Benchmarks (not part of the test suite).")


@app.command("ledger")
def ledger(
    ctx: typer.Context,
    backend: str | None = typer.Option(
        None,
        show_default=False,
        help="sqlite or postgres (default: the kind of --database-url, else sqlite).",
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Use (and keep) this database instead of a throwaway one."
    ),
    transfers: int = typer.Option(200_000, help="Transfers to apply (timed)."),
    accounts: int = typer.Option(10_000, help="Accounts to spread them over."),
    history: bool = typer.Option(False, help="Accounts keep balance history (a row per change)."),
    seed: int = typer.Option(7, help="Random seed for the transfer mix."),
    io: str = typer.Option(
        "auto",
        help="Where batches are written: 'process' (a worker), 'thread', or 'auto' "
        "(a process on SQLite, a thread on PostgreSQL).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Apply N random transfers in full batches and report transfers per second."""
    if backend not in (None, "sqlite", "postgres"):
        raise typer.BadParameter("sqlite or postgres", param_hint="--backend")
    if io not in ("auto", "process", "thread"):
        raise typer.BadParameter("auto, process or thread", param_hint="--io")
    try:
        backend = ledger_bench.resolve_backend(backend, database_url)
    except InvalidRequest as exc:
        raise typer.BadParameter(exc.message) from exc  # the message names the options
    throwaway = state(ctx).settings.test_postgres_url  # GUARDPAY_TEST_POSTGRES_URL
    result = ledger_bench.run(
        backend, database_url, transfers, accounts, history, seed, io, throwaway
    )
    if json_out:
        emit_json(result)
        return
    table = Table("measure", "value", title=f"ledger benchmark ({result['backend']})")
    for key in (
        "transfers",
        "seconds",
        "transfers_per_second",
        "median_batch_latency_seconds",
        "ratio_to_baseline",
        "last_to_first_segment",
        "slowest_segment_transfers_per_second",
        "failed",
    ):
        table.add_row(key, str(result[key]))
    table.add_row("baseline transfers_per_second", str(result["baseline"]["transfers_per_second"]))
    for segment in result["segments"]:
        table.add_row(
            f"transfers/s up to {segment['written']:,}", str(segment["transfers_per_second"])
        )
    console.print(table)


@app.command("reads")
def reads(
    ctx: typer.Context,
    samples: int = typer.Option(500, min=10, help="Accounts and transfer ids to read."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Time the ledger's reads on the database --database-url names (one `bench ledger
    --database-url` kept): an account's latest page, a page of 100, a transfer by id,
    against the account's row alone. Run it before and after `ledger merge`."""
    db = state(ctx).database()
    require_migrated(db)
    result = reads_bench.run(db, samples)
    if json_out:
        emit_json(result)
        return
    table = Table("read", "p50 ms", "p99 ms", title=f"{result['parts']} parts")
    for name in ("baseline", "latest_page", "page_of_100", "transfer_by_id"):
        table.add_row(name, str(result[name]["p50_ms"]), str(result[name]["p99_ms"]))
    console.print(table)


@app.command("audit")
def audit(
    ctx: typer.Context,
    backend: str = typer.Option("sqlite", help="sqlite or postgres (a throwaway schema)."),
    entries: int = typer.Option(1_000_000, min=10, help="Audit entries to write (untimed)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write N audit entries, then time `audit verify`, archiving all but the newest
    tenth to files, and verifying through the registry and through the files."""
    if backend not in ("sqlite", "postgres"):
        raise typer.BadParameter("sqlite or postgres", param_hint="--backend")
    kind = "postgresql" if backend == "postgres" else "sqlite"
    result = audit_bench.run(entries, kind, state(ctx).settings.test_postgres_url)
    if json_out:
        emit_json(result)
    else:
        table = Table("step", "seconds", "entries/s", "ok", title=f"audit at {entries:,} entries")
        for step in ("verify", "archive", "verify_registry", "verify_files"):
            part = result[step]
            ok = str(part.get("ok", ""))
            table.add_row(step, str(part["seconds"]), str(part["entries_per_second"]), ok)
        console.print(table)
    if not result["ok"]:
        raise typer.Exit(1)


@app.command("aml")
def aml(
    transactions: int = typer.Option(10_000_000, min=1_000, help="Ordinary transactions."),
    accounts: int = typer.Option(1_000_000, min=100, help="Ordinary accounts."),
    cases: int = typer.Option(100, min=1, help="Planted cases of each typology."),
    engine: str = typer.Option("duckdb", help="duckdb or spark (local mode)."),
    model: Path | None = typer.Option(
        None, "--model", help="Score with this AML model too (guardpay aml train)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Generate a history with laundering planted in it and scan it with every AML
    scenario (and a model, if given); the rows per second of each, against one plain
    pass over the table."""
    if engine not in ("duckdb", "spark"):
        raise typer.BadParameter("duckdb or spark", param_hint="--engine")
    result = aml_bench.run(transactions, accounts, cases, engine, model)
    if json_out:
        emit_json(result)
        return
    table = Table("scenario", "findings", "seconds", "rows/s", title="bench aml")
    for part in result["scenarios"]:
        rate = part["rows_per_second"]
        table.add_row(part["typology"], str(part["findings"]), str(part["seconds"]), f"{rate:,}")
    console.print(table)
    console.print(
        f"{result['transactions']:,} transactions scanned in {result['scan_seconds']} s "
        f"({result['scan_per_baseline']}x one plain pass); planted found: "
        f"{result['planted_found']} of {result['planted']}"
    )


@app.command("plot")
def plot(
    results: list[Path] = typer.Argument(
        ..., help="`bench ledger --json` outputs, one curve each.", exists=True, dir_okay=False
    ),
    out: Path = typer.Option(..., "--out", help="The SVG file to write."),
    label: list[str] = typer.Option(
        [], "--label", help="A curve's name, in the order of the files (default: file name)."
    ),
    title: str = typer.Option("guardpay bench ledger: the rate as the books grow"),
) -> None:
    """Draw the rate per million transfers of `bench ledger` runs as an SVG."""
    if label and len(label) != len(results):
        raise typer.BadParameter(
            f"{len(label)} labels for {len(results)} files: give one per file or none",
            param_hint="--label",
        )
    curves = []
    for i, path in enumerate(results):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise typer.BadParameter(f"{path} is not JSON ({exc})", param_hint="RESULTS") from exc
        try:
            curves.append(plot_bench.curve(label[i] if label else path.stem, result))
        except InvalidRequest as exc:
            raise typer.BadParameter(exc.message, param_hint="RESULTS") from exc
    out.write_text(plot_bench.svg(curves, title), encoding="utf-8")
    console.print(f"wrote {out}")


@app.command("api")
def api(
    seconds: float = typer.Option(10.0, min=0.5, max=600.0, help="How long to drive payments."),
    workers: int = typer.Option(32, min=1, max=512, help="Concurrent keep-alive connections."),
    payers: int = typer.Option(5_000, min=1, help="Payers the connections take in turn."),
    payees: int = typer.Option(1_250, min=1, help="Payees; payer i pays payee i mod this."),
    server_workers: int = typer.Option(1, min=1, max=16, help="`serve --workers` (>1: Redis)."),
    redis_url: str = typer.Option(api_bench.DEFAULT_REDIS, help="Redis for the risk state."),
    redis_risk: bool = typer.Option(
        False, "--redis-risk", help="Risk features in Redis with one server worker too."
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="A PostgreSQL server to run on, in a scratch schema dropped after "
        "(default: a throwaway SQLite file).",
    ),
    prefill: int = typer.Option(
        0,
        min=0,
        help="Payments (with their ledger, risk and audit rows) the database holds before "
        "the server starts, written set-based.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Drive device-signed P2P payments over HTTP against `guardpay serve` on a throwaway
    database; report payments per second, p50/p99, a /healthz baseline and the floor
    (the transfer request refused before any database work)."""
    try:
        kind = None if database_url is None else ledger_bench.backend_of_url(database_url)
    except InvalidRequest as exc:
        raise typer.BadParameter(exc.message) from exc
    if kind == "sqlite":
        raise typer.BadParameter(
            "a PostgreSQL URL (without it the bench makes its own SQLite file)",
            param_hint="--database-url",
        )
    where = api_bench.Where(database_url, redis_url, redis_risk)
    result = api_bench.run(seconds, workers, payers, payees, server_workers, where, prefill)
    if json_out:
        emit_json(result)
        return
    table = Table("measure", "value", title=f"API benchmark ({result['database']})")
    for key in ("payments_per_second", "p50_ms", "p99_ms", "errors", "seconds", "workers"):
        table.add_row(key, str(result[key]))
    table.add_row("baseline requests_per_second", str(result["baseline"]["requests_per_second"]))
    table.add_row("floor requests_per_second", str(result["floor"]["requests_per_second"]))
    console.print(table)


@app.command("risk")
def risk(
    history: int = typer.Option(1_000_000, min=100, help="Stored transactions loaded first."),
    decisions: int = typer.Option(20_000, min=1, help="Decisions to time."),
    seed: int = typer.Option(7, help="Random seed for the population, history and requests."),
    users: int = typer.Option(20_000, min=2, help="Users in the synthetic population."),
    merchants: int = typer.Option(2_000, min=1, help="Merchants in the population."),
    database_url: str = typer.Option(
        None,
        "--database-url",
        help="Use (and keep) this scratch database: the bench adds list entries and "
        "activates its model there. Default: a throwaway SQLite database.",
    ),
    redis_store: bool = typer.Option(
        False, "--redis", help="Feature state in Redis at 127.0.0.1:6379 (own prefix, deleted)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Time the risk decision step alone (lists, features, model, rules) against a stored
    history; report p50/p99 against a features-only baseline and the 5 ms p99 target."""
    from guardpay.bench import risk as risk_bench  # LightGBM and numpy only when asked

    result = risk_bench.run(
        history,
        decisions,
        seed=seed,
        database_url=database_url,
        use_redis=redis_store,
        users=users,
        merchants=merchants,
    )
    if json_out:
        emit_json(result)
        return
    table = Table("measure", "value", title=f"risk decision benchmark ({result['store']})")
    for key in (
        "decisions",
        "history",
        "p50_ms",
        "p99_ms",
        "mean_ms",
        "max_ms",
        "ratio_p99_to_baseline",
        "target_p99_ms",
        "met",
        "load_seconds",
        "model_version",
        "max_rss_mb",
    ):
        table.add_row(key, str(result[key]))
    for key in ("p50_ms", "p99_ms"):
        table.add_row(f"baseline {key}", str(result["baseline"][key]))
    console.print(table)
