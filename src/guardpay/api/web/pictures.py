"""The picture of an alert's money path (domain/cases/alerts.py `Path`), laid out for an
SVG the case page draws: the account in the middle, its counterparties on a circle
around it, one arrow per direction between two accounts with the number of transfers
and their sum, the arrows that raised the alert (`fired`) highlighted. Drawn on the
server, so the page needs no script and works offline; the transactions table beside
it says the same in words."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from guardpay.domain.money import Money

SIZE = 560
NODE_R = 22
LABEL = 14  # characters of an id shown under its node


@dataclass(frozen=True)
class Node:
    id: str
    x: float
    y: float
    label: str
    centre: bool


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    x1: float
    y1: float
    x2: float
    y2: float
    count: int
    label: str
    fired: bool


@dataclass(frozen=True)
class Picture:
    size: int
    nodes: list[Node]
    arrows: list[Arrow]
    truncated: bool


def draw(path: dict[str, Any]) -> Picture:
    account = str(path.get("account", ""))
    currency = str(path.get("currency", "CNY"))
    places = _layout(account, [str(n) for n in path.get("nodes", [])])
    nodes = [Node(n, x, y, _short(n), n == account) for n, (x, y) in places.items()]
    arrows = [_arrow(places, pair, flows, currency) for pair, flows in _pairs(path).items()]
    return Picture(SIZE, nodes, arrows, bool(path.get("truncated")))


def _layout(account: str, ids: list[str]) -> dict[str, tuple[float, float]]:
    centre = SIZE / 2
    others = [n for n in ids if n != account]
    places = {account: (centre, centre)}
    radius = SIZE / 2 - NODE_R * 2.5
    for i, node in enumerate(others):
        angle = 2 * math.pi * i / max(len(others), 1) - math.pi / 2
        places[node] = (centre + radius * math.cos(angle), centre + radius * math.sin(angle))
    return places


def _pairs(path: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    pairs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for edge in path.get("edges", []):
        pairs.setdefault((str(edge["source"]), str(edge["target"])), []).append(edge)
    return pairs


def _arrow(
    places: dict[str, tuple[float, float]],
    pair: tuple[str, str],
    flows: list[dict[str, Any]],
    currency: str,
) -> Arrow:
    (x1, y1), (x2, y2) = places[pair[0]], places[pair[1]]
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    dx, dy = (x2 - x1) / length, (y2 - y1) / length
    nx, ny = -dy * 4, dx * 4  # a little to one side, so the two directions do not overlap
    total = Money(sum(int(f["amount"]) for f in flows), currency).to_decimal_string()
    return Arrow(
        pair[0],
        pair[1],
        x1 + dx * NODE_R + nx,
        y1 + dy * NODE_R + ny,
        x2 - dx * (NODE_R + 6) + nx,
        y2 - dy * (NODE_R + 6) + ny,
        len(flows),
        f"{len(flows)}× {total}",
        any(bool(f["fired"]) for f in flows),
    )


def _short(node: str) -> str:
    return node if len(node) <= LABEL else node[: LABEL - 1] + "…"
