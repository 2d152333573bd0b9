"""`guardpay rules`: check and replay rule sets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from guardpay.cli.context import console, emit_json, state
from guardpay.domain.risk.rules import ExampleResult, RuleSet, load_rule_set_file, run_examples
from guardpay.services.platform.context import utc_now
from guardpay.services.risk.backtest import backtest_stored
from guardpay.storage.engine.migrate import require_migrated
from guardpay.storage.uow import read_only

app = typer.Typer(no_args_is_help=True, help=__doc__)


@app.command("test")
def run_tests(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="The rule set (YAML)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Load the rule set and run its examples: exit 1 if any example fails, 2 if the file
    does not load (the error names the line and column)."""
    rule_set = load_rule_set_file(file)  # RuleSetError -> `main` prints it, exit 2
    results = run_examples(rule_set)
    passed = all(r.passed for r in results)
    if json_out:
        emit_json(_as_dict(rule_set, results, passed))
    else:
        _print_examples(rule_set, results, passed)
    raise typer.Exit(0 if passed else 1)


def _as_dict(rule_set: RuleSet, results: list[ExampleResult], passed: bool) -> dict[str, object]:
    examples = [
        {
            "name": r.name,
            "passed": r.passed,
            "expected": r.expected.value,
            "got": r.got.value,
            "expected_hits": list(r.expected_hits) if r.expected_hits is not None else None,
            "got_hits": list(r.got_hits),
            "line": r.line,
        }
        for r in results
    ]
    return {
        "rule_set": rule_set.name,
        "version": rule_set.version,
        "digest": rule_set.digest,
        "examples": examples,
        "passed": passed,
    }


def _print_examples(rule_set: RuleSet, results: list[ExampleResult], passed: bool) -> None:
    title = f"rule set {rule_set.name} v{rule_set.version} ({rule_set.digest[:12]})"
    table = Table("line", "example", "expected", "got", "result", title=title)
    for r in results:
        got = r.got.value
        if r.expected_hits is not None and set(r.expected_hits) != set(r.got_hits):
            got += f" hits [{', '.join(r.got_hits)}] != [{', '.join(r.expected_hits)}]"
        result = "[green]pass[/]" if r.passed else "[red]FAIL[/]"
        table.add_row(str(r.line), r.name, r.expected.value, got, result)
    console.print(table)
    failed = sum(not r.passed for r in results)
    if not results:
        console.print("[yellow]no examples: add some under `examples:`[/]")
    elif passed:
        console.print(f"[green]{len(results)} example(s) passed[/]")
    else:
        console.print(f"[red]{failed} of {len(results)} example(s) failed[/]")


@app.command("backtest")
def backtest_cmd(
    ctx: typer.Context,
    rules: Path = typer.Option(
        ..., "--rules", exists=True, dir_okay=False, help="The candidate rule set (YAML)."
    ),
    since: datetime | None = typer.Option(
        None, "--since", formats=["%Y-%m-%d"], help="Only decisions from this day (UTC) on."
    ),
    mature_days: int = typer.Option(
        30, "--mature-days", min=0, help="Unlabelled decisions this old count as legitimate."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Replay the stored decisions (their recorded features) through a rule set and print
    per rule: hits, precision and recall against known fraud labels."""
    rule_set = load_rule_set_file(rules)
    db = state(ctx).database()
    require_migrated(db)
    start = None if since is None else since.replace(tzinfo=UTC)
    with read_only(db) as uow:
        found = backtest_stored(uow, rule_set, utc_now(), mature_days, start)
        result = found.as_dict(rule_set)
    if json_out:
        emit_json(result)
        return
    _print_backtest(result)


def _ratio(value: object) -> str:
    return "-" if value is None else f"{float(value):.3f}"  # type: ignore[arg-type]


def _print_backtest(result: dict[str, Any]) -> None:
    title = (
        f"{result['rule_set']} v{result['version']} over {result['decisions']} decisions "
        f"({result['fraud']} fraud, {result['legit']} legitimate known)"
    )
    table = Table("rule", "hits", "fraud hits", "precision", "recall", "shadow", title=title)
    for name, s in result["rules"].items():
        table.add_row(
            name,
            str(s["hits"]),
            str(s["fraud_hits"]),
            _ratio(s["precision"]),
            _ratio(s["recall"]),
            "yes" if s["shadow"] else "",
        )
    console.print(table)
    console.print(
        f"would decide: {result['actions']}; stops {result['stopped_fraud']} known "
        f"fraud and {result['stopped_legit']} known legitimate"
    )
