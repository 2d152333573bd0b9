"""Alerts: what monitoring raised about a customer, de-duplicated, with the money's path
around the customer's account that the console draws.

Sources: an AML run's flagged accounts (`aml`, one alert per account and typology) and
risk control's `review` decisions (`risk_review`, one per held payment's reasons).
An alert is the same alert seen again when its source, customer and kind match one whose
case is not closed (`dedup_key`): it then counts one more occurrence and keeps the wider
window, the stronger score and the newer path, instead of queueing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

#: an alert's sources
AML, RISK_REVIEW = "aml", "risk_review"
#: the most transfers a path keeps (the newest), so a busy account's alert stays drawable
PATH_EDGES = 200
#: how far around the alert's window a path reaches (the money in before, out after)
PATH_MARGIN = timedelta(hours=72)


@dataclass(frozen=True)
class Edge:
    """One movement of money on a path: `fired` if it falls in the alert's own window
    and touches its account (the suspicious subgraph the console highlights)."""

    id: str
    source: str
    target: str
    amount: int  # minor units of the path's currency
    at: datetime
    fired: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "target": self.target,
            "amount": self.amount,
            "at": self.at.isoformat(),
            "fired": self.fired,
        }


@dataclass(frozen=True)
class Path:
    """The money's path around `account`: its counterparties as nodes, the movements
    among them as edges; `truncated` when more moved than `PATH_EDGES`."""

    account: str
    currency: str
    edges: tuple[Edge, ...]
    truncated: bool = False

    @property
    def nodes(self) -> list[str]:
        seen = {self.account: None}
        for e in self.edges:
            seen.setdefault(e.source)
            seen.setdefault(e.target)
        return list(seen)

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "currency": self.currency,
            "nodes": self.nodes,
            "edges": [e.as_dict() for e in self.edges],
            "truncated": self.truncated,
        }


#: (id, source, target, amount, at, device): a movement as the AML scan reads it
Movement = tuple[str, str, str, int, datetime, str | None]


def money_path(
    account: str,
    currency: str,
    movements: Iterable[Movement],
    first_seen: datetime,
    last_seen: datetime,
) -> Path:
    """The movements within `PATH_MARGIN` of the window that touch the account, and
    those between its counterparties (a cycle's or a layer's hops), newest kept when
    there are more than `PATH_EDGES`."""
    lo, hi = first_seen - PATH_MARGIN, last_seen + PATH_MARGIN
    near = [m for m in movements if lo <= m[4] <= hi]
    counterparties = {m[2] for m in near if m[1] == account} | {
        m[1] for m in near if m[2] == account
    }
    edges = [
        Edge(m[0], m[1], m[2], m[3], m[4], _fired(m, account, first_seen, last_seen))
        for m in near
        if account in (m[1], m[2]) or _between(m, counterparties)
    ]
    edges.sort(key=lambda e: (e.at, e.id))
    truncated = len(edges) > PATH_EDGES
    return Path(account, currency, tuple(edges[-PATH_EDGES:]), truncated)


def _between(m: Movement, counterparties: set[str]) -> bool:
    return m[1] in counterparties and m[2] in counterparties


def _fired(m: Movement, account: str, first_seen: datetime, last_seen: datetime) -> bool:
    return account in (m[1], m[2]) and first_seen <= m[4] <= last_seen


@dataclass(frozen=True)
class Alert:
    id: str
    source: str  # AML or RISK_REVIEW
    subject: str  # the customer
    kind: str  # the typology, or the review's first reason
    score_bp: int  # 0..10,000
    first_seen: datetime
    last_seen: datetime
    evidence: str  # what made it fire, in words and values (no personal data)
    path: dict[str, Any]  # Path.as_dict()
    case_id: str
    created_at: datetime
    occurrences: int = 1
    decisions: tuple[str, ...] = ()  # the risk decisions under review it stands for

    @property
    def dedup_key(self) -> str:
        return dedup_key(self.source, self.subject, self.kind)


def dedup_key(source: str, subject: str, kind: str) -> str:
    return f"{source}|{subject}|{kind}"


def seen_again(known: Alert, new: Alert) -> Alert:
    """`known` (same `dedup_key`, case not closed) seen once more, as `new` saw it."""
    return replace(
        known,
        score_bp=max(known.score_bp, new.score_bp),
        first_seen=min(known.first_seen, new.first_seen),
        last_seen=max(known.last_seen, new.last_seen),
        evidence=new.evidence,
        path=new.path,
        occurrences=known.occurrences + 1,
        decisions=tuple(dict.fromkeys([*known.decisions, *new.decisions])),
    )


def review_path(
    payer: str,
    currency: str,
    held: Movement,
    recent: Sequence[Movement],
) -> Path:
    """A held payment's path: the payment itself (fired) and the payer's recent ones."""
    edges = [Edge(m[0], m[1], m[2], m[3], m[4], m[0] == held[0]) for m in [*recent, held]]
    unique = {e.id: e for e in edges}
    ordered = sorted(unique.values(), key=lambda e: (e.at, e.id))
    return Path(payer, currency, tuple(ordered[-PATH_EDGES:]), len(ordered) > PATH_EDGES)
