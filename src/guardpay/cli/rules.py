"""`guardpay rules`: check and replay rule sets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from guardpay.cli.context import console, emit_json
from guardpay.domain.risk.rules import ExampleResult, RuleSet, load_rule_set_file, run_examples

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
        {"name": r.name, "passed": r.passed, "expected": r.expected.value, "got": r.got.value,
         "expected_hits": list(r.expected_hits) if r.expected_hits is not None else None,
         "got_hits": list(r.got_hits), "line": r.line}
        for r in results
    ]  # fmt: skip
    return {"rule_set": rule_set.name, "version": rule_set.version, "digest": rule_set.digest,
            "examples": examples, "passed": passed}  # fmt: skip


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
