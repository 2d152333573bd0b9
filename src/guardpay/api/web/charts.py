"""The dashboard's charts, drawn on the server by pygal as SVG documents the page shows as
images: no script in them (pygal's tooltips would load one from a CDN, and it writes its
config as an inline script: both left out), so they work offline and under the
console's Content-Security-Policy; each has a text alternative on the page, and the
numbers beside it."""

from __future__ import annotations

import re
from typing import Any

import pygal
from pygal.style import Style

from guardpay.services.reports.dashboard import Traffic

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1f24",
    foreground_strong="#1b1f24",
    foreground_subtle="#4a5360",
    colors=("#1d6b2c", "#a11a12", "#0b5cad", "#8a5a00"),
    font_family="system-ui, sans-serif",
)
ACTIONS = ("allow", "challenge", "review", "deny")
_SCRIPT = re.compile(rb"<script\b.*?</script>", re.DOTALL)


def payments_per_minute(d: Traffic, label: Any) -> bytes:
    chart = pygal.StackedBar(**_config(), x_label_rotation=0, show_minor_x_labels=False)
    chart.title = label("Payments per minute, the last hour")
    chart.x_labels = [m.strftime("%H:%M") for m in d.minutes]
    chart.x_labels_major = chart.x_labels[::10]
    chart.add(label("succeeded"), d.succeeded)
    chart.add(label("failed"), d.failed)
    return _inert(chart.render())


def decisions_by_outcome(d: Traffic, label: Any) -> bytes:
    chart = pygal.Bar(**_config())
    chart.title = label("Risk decisions by outcome, the last day")
    chart.x_labels = [label(a) for a in ACTIONS]
    chart.add(label("Decisions"), [d.decisions.get(a, 0) for a in ACTIONS])
    return _inert(chart.render())


def _inert(svg: bytes) -> bytes:
    return _SCRIPT.sub(b"", svg)


def _config() -> dict[str, Any]:
    return {
        "style": STYLE,
        "js": [],
        "width": 760,
        "height": 300,
        "explicit_size": True,
        "legend_at_bottom": True,
        "print_values": False,
        "no_data_text": "—",
    }
