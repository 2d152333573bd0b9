"""`guardpay simulate`: a labelled population run through the platform's own services."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from guardpay import observability
from guardpay.sim.config import DEFAULT_RATES, TYPOLOGIES, SimConfig, scaled
from guardpay.sim.runner import run


def simulate(
    users: Annotated[int, typer.Option(help="People in the population.")] = 10_000,
    merchants: Annotated[int, typer.Option(help="Genuine merchants.")] = 200,
    days: Annotated[int, typer.Option(help="Days to simulate.")] = 30,
    seed: Annotated[int, typer.Option(help="Seed: the same seed, the same run.")] = 0,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("simulation"),
    database_url: Annotated[
        str | None,
        typer.Option(help="An empty database to run on (default: a fresh SQLite file in --out)."),
    ] = None,
    rate_scale: Annotated[
        float,
        typer.Option(help="Multiply every fraud and laundering case rate (1 = the defaults)."),
    ] = 1.0,
    rate: Annotated[
        list[str] | None,
        typer.Option(help="A case rate per 10,000 users per day, as TYPOLOGY=VALUE (repeatable)."),
    ] = None,
    activity: Annotated[
        float, typer.Option(help="Ordinary requests per user per day.")
    ] = SimConfig.activity,
    via_api: Annotated[
        bool,
        typer.Option(
            "--via-api", help="Make every request through the HTTP API, not the services."
        ),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the manifest.")] = False,
) -> None:
    """Simulate people, merchants, fraud and laundering through the live payment and
    risk path; write labelled transactions (Parquet and CSV), the population and a
    manifest to --out."""
    observability.configure(logging.WARNING)
    cfg = scaled(
        SimConfig(
            users=users,
            merchants=merchants,
            days=days,
            seed=seed,
            activity=activity,
            rates=_rates(rate or []),
            via_api=via_api,
        ),
        rate_scale,
    )
    try:
        if json_output:
            result = run(cfg, out, database_url=database_url)
        else:
            result = _with_progress(cfg, out, database_url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if json_output:
        typer.echo(json.dumps(result.manifest, sort_keys=True))
    else:
        _summary(result.manifest, out)


def _rates(given: list[str]) -> dict[str, float]:
    rates = dict(DEFAULT_RATES)
    for item in given:
        name, _, value = item.partition("=")
        if name not in TYPOLOGIES:
            raise typer.BadParameter(f"unknown typology {name!r}", param_hint="--rate")
        try:
            rates[name] = float(value)
        except ValueError:
            raise typer.BadParameter(f"not a number: {value!r}", param_hint="--rate") from None
    return rates


def _with_progress(cfg: SimConfig, out: Path, database_url: str | None) -> Any:
    columns = (
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("days", total=cfg.days)
        return run(cfg, out, database_url=database_url, progress=lambda _day: bar.advance(task))


def _summary(manifest: dict[str, Any], out: Path) -> None:
    table = Table(title=f"simulation (seed {manifest['seed']}) -> {out}")
    for column in ("typology", "cases", "transactions", "succeeded"):
        table.add_column(column)
    for name, counts in manifest["typologies"].items():
        table.add_row(
            name, str(counts["cases"]), str(counts["transactions"]), str(counts["succeeded"])
        )
    console = Console()
    console.print(table)
    totals, runtime = manifest["totals"], manifest["runtime"]
    console.print(
        f"{totals['transactions']} transactions, fraud share {totals['fraud_share']}, "
        f"laundering share {totals['laundering_share']}; set-up "
        f"{runtime['setup_seconds']} s, run {runtime['run_seconds']} s"
    )
