"""`guardpay bench plot`: the rate per million transfers of `bench ledger` runs, drawn.

Why a picture: whether the write rate holds as the books grow is a curve's shape, which
a column of numbers hides. The SVG is written by hand (a few lines, polylines and text):
a plotting library would be a large dependency for one chart, and the file must render on
GitHub and offline alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from guardpay.errors import InvalidRequest

WIDTH, HEIGHT = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 30, 50
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


@dataclass(frozen=True)
class Curve:
    label: str
    points: tuple[tuple[int, int], ...]  # (transfers written, transfers/s)


def curve(label: str, result: Mapping[str, Any]) -> Curve:
    """A `bench ledger --json` result's segments as a curve; a clear error if it has none."""
    segments = result.get("segments")
    if not isinstance(segments, list) or not segments:
        raise InvalidRequest(
            f"{label}: not a `guardpay bench ledger --json` result (it has no segments)",
            code="not_a_ledger_result",
        )
    try:
        points = tuple((int(s["written"]), int(s["transfers_per_second"])) for s in segments)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRequest(
            f"{label}: a segment lacks `written` or `transfers_per_second`",
            code="not_a_ledger_result",
        ) from exc
    return Curve(label, points)


def _nice(top: float) -> int:
    """A round axis maximum at or above `top`: 1, 2 or 5 times a power of ten."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= top:
                return m * step
        step *= 10


def svg(curves: Sequence[Curve], title: str) -> str:
    x_max = _nice(max(x for c in curves for x, _ in c.points))
    y_max = _nice(max(y for c in curves for _, y in c.points) * 1.05)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def at(x: float, y: float) -> str:
        return f"{LEFT + x / x_max * plot_w:.1f},{TOP + plot_h - y / y_max * plot_h:.1f}"

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    for i in range(6):
        y = y_max * i / 5
        out.append(f'<polyline points="{at(0, y)} {at(x_max, y)}" stroke="#ddd" fill="none"/>')
        left, top = at(0, y).split(",")
        out.append(
            f'<text x="{float(left) - 6}" y="{float(top) + 4}" text-anchor="end">{y:,.0f}</text>'
        )
    for i in range(6):
        x = x_max * i / 5
        left, top = at(x, 0).split(",")
        out.append(
            f'<text x="{left}" y="{float(top) + 18}" text-anchor="middle">{x / 1_000_000:g}M</text>'
        )
    out.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 8}" text-anchor="middle">'
        "transfers written</text>"
    )
    out.append(
        f'<text x="14" y="{TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2})">transfers/s in each segment</text>'
    )
    for n, c in enumerate(curves):
        colour = COLOURS[n % len(COLOURS)]
        points = " ".join(at(x, y) for x, y in c.points)
        out.append(f'<polyline points="{points}" stroke="{colour}" stroke-width="2" fill="none"/>')
        legend = f'x="{LEFT + 10}" y="{TOP + 16 + 16 * n}" fill="{colour}"'
        out.append(f"<text {legend}>{escape(c.label)}</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
