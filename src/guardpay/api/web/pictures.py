"""The picture of an alert's money path (domain/cases/alerts.py `Path`), laid out for an
SVG the case page draws: the account fixed in the middle, its counterparties placed by
networkx's force-directed layout (those that trade with each other drawn together, so a
cycle or a layer of intermediaries shows as one), one arrow per direction between two
accounts with the number of transfers and their sum, the arrows that raised the alert
(`fired`) highlighted. Laid out with a fixed seed, so the same path always draws the
same; drawn on the server, so the page needs no script and works offline; the
transactions table beside it says the same in words."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import networkx as nx

from guardpay.domain.money import Money

SIZE = 560
NODE_R = 22
LABEL = 14  # characters of an id shown under its node
SEED = 7  # the layout's: the same path always draws the same picture


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
    pairs = _pairs(path)
    places = _layout(account, [str(n) for n in path.get("nodes", [])], list(pairs))
    nodes = [Node(n, x, y, _short(n), n == account) for n, (x, y) in places.items()]
    arrows = [_arrow(places, pair, flows, currency) for pair, flows in pairs.items()]
    return Picture(SIZE, nodes, arrows, bool(path.get("truncated")))


def _layout(
    account: str, ids: list[str], pairs: list[tuple[str, str]]
) -> dict[str, tuple[float, float]]:
    centre, radius = SIZE / 2, SIZE / 2 - NODE_R * 2.5
    graph = nx.Graph()
    graph.add_nodes_from([account, *ids])
    graph.add_edges_from(pairs)
    if graph.number_of_nodes() == 1:
        return {account: (centre, centre)}
    start = {n: (math.cos(i), math.sin(i)) for i, n in enumerate(graph.nodes)}
    start[account] = (0.0, 0.0)
    placed = nx.spring_layout(graph, pos=start, fixed=[account], seed=SEED, iterations=80)
    reach = max(math.hypot(x, y) for x, y in placed.values()) or 1.0
    return {
        n: (centre + radius * float(x) / reach, centre + radius * float(y) / reach)
        for n, (x, y) in placed.items()
    }


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
