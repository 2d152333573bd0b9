"""`guardpay rules test FILE`: exit 0 when every example passes, 1 when one fails, 2 with
the file position when the rule set does not load."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guardpay.cli.main import app, main
from guardpay.domain.risk.rules import RuleSetError

DEFAULT = Path(__file__).parents[2] / "src/guardpay/domain/risk/default_rules.yaml"

RULE_SET = """\
name: small
version: 2
thresholds: {challenge: 40, review: 70, deny: 90}
rules:
  - name: big
    when: amount >= 1_000_000
    action: review
examples:
  - name: big is held
    features: {amount: 2_000_000}
    expect: review
  - name: small is allowed
    features: {amount: 100}
    expect: allow
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_rule_set_passes() -> None:
    result = CliRunner().invoke(app, ["rules", "test", str(DEFAULT)])
    assert result.exit_code == 0, result.output
    assert "example(s) passed" in result.stdout
    assert "FAIL" not in result.stdout


def test_json_report_for_the_default_rule_set() -> None:
    result = CliRunner().invoke(app, ["rules", "test", str(DEFAULT), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["rule_set"], report["passed"]) == ("default", True)
    assert isinstance(report["version"], int)
    assert report["examples"]
    for example in report["examples"]:
        assert {"name", "passed", "expected", "got"} <= set(example)
        assert example["passed"] is True
        assert example["expected"] == example["got"]


def test_a_failing_example_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, RULE_SET.replace("expect: review", "expect: deny"))
    result = CliRunner().invoke(app, ["rules", "test", str(path), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["passed"] is False
    assert report["version"] == 2
    first, second = report["examples"]
    assert (first["name"], first["passed"], first["expected"], first["got"]) == (
        "big is held",
        False,
        "deny",
        "review",
    )
    assert second["passed"] is True

    words = CliRunner().invoke(app, ["rules", "test", str(path)])
    assert words.exit_code == 1
    assert "FAIL" in words.stdout
    assert "1 of 2 example(s) failed" in words.stdout


def test_a_passing_small_rule_set_exits_0(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rules", "test", str(write(tmp_path, RULE_SET))])
    assert result.exit_code == 0, result.output
    assert "2 example(s) passed" in result.stdout


def test_a_broken_file_raises_the_error_with_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, RULE_SET.replace("amount >= 1_000_000", "amount >= 1_000_000 and x.y"))
    result = CliRunner().invoke(app, ["rules", "test", str(path)])
    assert isinstance(result.exception, RuleSetError)  # in-process it propagates
    assert (result.exception.line, result.exception.column) == (6, 36)


def test_main_prints_line_and_column_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a user sees from the installed command."""
    path = write(tmp_path, RULE_SET.replace("action: review", "action: hold"))
    monkeypatch.setattr(sys, "argv", ["guardpay", "rules", "test", str(path)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    message = " ".join(err.split())  # the console wraps long lines
    assert "rule_set_invalid" in message
    assert ":7:13:" in message
    assert "action must be one of" in message
    assert "Traceback" not in err
    assert out == ""


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rules", "test", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
