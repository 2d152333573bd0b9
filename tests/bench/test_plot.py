"""`guardpay bench plot`: `bench ledger` results drawn as one line each, with their rates
where the axes say; files that are not such results are refused, saying which."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from guardpay.bench import plot
from guardpay.cli.main import app
from guardpay.errors import InvalidRequest

SVG = "{http://www.w3.org/2000/svg}"


def ledger_result(*rates: int, size: int = 1_000_000) -> dict[str, Any]:
    return {
        "segments": [
            {"written": size * (i + 1), "transfers_per_second": r} for i, r in enumerate(rates)
        ]
    }


def lines(svg: str) -> list[list[tuple[float, float]]]:
    """Each curve's points, in SVG coordinates (the grid lines have two points, grey)."""
    root = ET.fromstring(svg)
    return [
        [tuple(float(v) for v in p.split(",")) for p in line.get("points", "").split()]  # type: ignore[misc]
        for line in root.iter(f"{SVG}polyline")
        if line.get("stroke") != "#ddd"
    ]


def test_each_run_is_a_line_whose_height_follows_its_rate() -> None:
    flat = plot.curve("flat", ledger_result(40_000, 40_000, 40_000))
    falling = plot.curve("falling", ledger_result(40_000, 20_000, 10_000))

    svg = plot.svg([flat, falling], "as the books grow")

    first, second = lines(svg)
    assert len({y for _, y in first}) == 1  # a flat rate draws a level line
    ys = [y for _, y in second]
    assert ys[0] == first[0][1]
    # SVG's y grows downwards; half the rate is half the height above the axis
    axis = plot.HEIGHT - plot.BOTTOM
    assert axis - ys[1] == pytest.approx((axis - ys[0]) / 2, abs=0.2)
    assert axis - ys[2] == pytest.approx((axis - ys[0]) / 4, abs=0.2)
    xs = [x for x, _ in second]
    assert xs == sorted(xs)
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.2)
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert {"flat", "falling", "as the books grow"} <= set(texts)
    assert "3M" in texts or "5M" in texts  # the x axis counts millions written


@pytest.mark.parametrize(
    "result",
    [{}, {"segments": []}, {"segments": [{"written": 1}]}, {"segments": "fast"}],
)
def test_a_result_without_segments_is_refused_by_name(result: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest, match=r"^run-7: "):
        plot.curve("run-7", result)


def test_the_command_writes_the_svg_with_the_labels_given(tmp_path: Path) -> None:
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(ledger_result(20_000, 10_000)))
    after.write_text(json.dumps(ledger_result(40_000, 39_000)))
    out = tmp_path / "growth.svg"

    result = CliRunner().invoke(
        app,
        [
            *("bench", "plot", str(before), str(after), "--out", str(out)),
            *("--label", "one table", "--label", "parts"),
        ],
    )

    assert result.exit_code == 0, result.output
    svg = out.read_text()
    assert len(lines(svg)) == 2
    assert re.search(r">one table<", svg)
    assert re.search(r">parts<", svg)


def test_the_command_says_which_file_is_not_a_result(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(ledger_result(1, 2)))
    bad.write_text(json.dumps({"transfers_per_second": 5}))

    result = CliRunner().invoke(
        app, ["bench", "plot", str(good), str(bad), "--out", str(tmp_path / "x.svg")]
    )

    assert result.exit_code != 0
    assert "bad: not a `guardpay bench ledger --json` result" in result.output
    assert not (tmp_path / "x.svg").exists()
