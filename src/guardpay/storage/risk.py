"""Risk control's records: every decision (with the features it saw, so it can be
explained and later used as a training example), the block and allow lists, and the
trained models with the one that is active.

Features, reasons and contributions are stored as JSON text: they are read whole (to
explain one decision, or to build a training frame), never queried by field.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from guardpay.domain.risk.rules import label_of
from guardpay.storage.engine.db import as_utc
from guardpay.storage.engine.memo import RowMemo
from guardpay.storage.engine.prepared import insert_into, once, one_of, run
from guardpay.storage.schema import metadata

risk_decisions = Table(
    "risk_decisions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("request_kind", String(24), nullable=False),
    Column("channel", String(24), nullable=False),
    Column("subject_id", String(40), nullable=True, index=True),  # the payment, etc.
    Column("user_id", String(40), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("action", String(16), nullable=False),
    Column("score", Integer, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("rule_set", String(120), nullable=False),
    Column("model_version", String(80), nullable=True),
    Column("features", Text, nullable=False),
    Column("contributions", Text, nullable=False),
    Column("shadow_hits", Text, nullable=False),
    Column("review_status", String(16), nullable=True),
    Column("review_deadline", DateTime(timezone=True), nullable=True),
    Column("reviewed_by", String(40), nullable=True),
    Column("reviewed_at", DateTime(timezone=True), nullable=True),
    Column("holds", Text, nullable=True),  # pending ledger transfer ids of a review hold
    Column("label", String(16), nullable=True),  # fraud | legit, once known
    Column("label_source", String(40), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_risk_decisions_user_created", "user_id", "created_at"),
    Index("ix_risk_decisions_review", "review_status", "review_deadline"),
    Index("ix_risk_decisions_created", "created_at"),
)

risk_lists = Table(
    "risk_lists",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("list", String(8), nullable=False),  # block | allow
    Column("entity", String(12), nullable=False),  # user | device | ip | card | payee
    Column("value", String(128), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("created_by", String(60), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Index("ix_risk_lists_entity_value", "entity", "value"),
)

risk_models = Table(
    "risk_models",
    metadata,
    Column("version", String(80), primary_key=True),
    Column("path", Text, nullable=False),
    Column("metrics", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("activated_at", DateTime(timezone=True), nullable=True),
)

risk_rule_sets = Table(  # every rule set that decided, kept for the console's versions
    "risk_rule_sets",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("name", String(80), nullable=False),
    Column("version", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("first_used_at", DateTime(timezone=True), nullable=False),
)


@lru_cache(maxsize=4)
def _list_hits(dialect: str) -> Select[Any]:
    return once(
        select(risk_lists).where(
            one_of("risk_lists.value", "values", dialect),
            or_(risk_lists.c.expires_at.is_(None), risk_lists.c.expires_at > bindparam("now")),
        )
    )


_JSON = ("reasons", "features", "contributions", "shadow_hits", "holds")
_TIMES = ("review_deadline", "reviewed_at", "created_at")


@dataclass(frozen=True)
class DecisionRow:
    id: str
    request_kind: str
    channel: str
    subject_id: str | None
    user_id: str
    amount: int
    currency: str
    action: str
    score: int
    reasons: list[str]
    rule_set: str
    model_version: str | None
    features: dict[str, Any]
    contributions: list[list[Any]]
    shadow_hits: list[str]
    review_status: str | None
    review_deadline: datetime | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    holds: list[int] | None
    label: str | None
    label_source: str | None
    created_at: datetime


@dataclass(frozen=True)
class ListEntry:
    id: str
    list: str
    entity: str
    value: str
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class RuleSetRow:
    digest: str
    name: str
    version: int
    text: str
    first_used_at: datetime

    @property
    def label(self) -> str:
        return label_of(self.name, self.version, self.digest)


@dataclass(frozen=True)
class ModelRow:
    version: str
    path: str
    metrics: dict[str, Any]
    created_at: datetime
    active: bool
    activated_at: datetime | None


def _rule_set(row: Any) -> RuleSetRow:
    return RuleSetRow(**{**row, "first_used_at": as_utc(row["first_used_at"])})


def _decision(row: Any) -> DecisionRow:
    values = dict(row)
    for name in _JSON:
        values[name] = None if values[name] is None else json.loads(values[name])
    for name in _TIMES:
        values[name] = None if values[name] is None else as_utc(values[name])
    return DecisionRow(**values)


def _encoded(row: DecisionRow) -> dict[str, Any]:
    values = dict(row.__dict__)
    for name in _JSON:
        values[name] = None if values[name] is None else json.dumps(values[name])
    return values


#: the memo's table for list entries read ahead, by value (storage/engine/memo.py)
_LISTS = "risk_lists"


class RiskRepository:
    def __init__(self, conn: Connection, memo: RowMemo | None = None) -> None:
        self.conn = conn
        self.memo = memo if memo is not None else RowMemo()

    # -- decisions ---------------------------------------------------------------------
    def insert_decision(self, row: DecisionRow) -> None:
        run(self.conn, insert_into(risk_decisions), _encoded(row))

    def insert_decisions(self, rows: Sequence[DecisionRow]) -> None:
        """Many rows in one statement (bulk loads: `bench api --prefill`)."""
        if rows:
            self.conn.execute(insert_into(risk_decisions), [_encoded(r) for r in rows])

    def decision(self, decision_id: str, *, lock: bool = False) -> DecisionRow | None:
        stmt = select(risk_decisions).where(risk_decisions.c.id == decision_id)
        found = self.conn.execute(stmt.with_for_update() if lock else stmt).mappings().first()
        return None if found is None else _decision(found)

    def decision_for(self, subject_id: str) -> DecisionRow | None:
        """The latest decision about a payment (or other subject)."""
        c = risk_decisions.c
        stmt = select(risk_decisions).where(c.subject_id == subject_id)
        found = self.conn.execute(stmt.order_by(c.created_at.desc(), c.id.desc())).mappings()
        first = found.first()
        return None if first is None else _decision(first)

    def save_review(self, decision_id: str, **values: Any) -> None:
        if "holds" in values and values["holds"] is not None:
            values["holds"] = json.dumps(values["holds"])
        self.conn.execute(
            update(risk_decisions).where(risk_decisions.c.id == decision_id).values(**values)
        )

    def set_label(self, decision_id: str, label: str, source: str) -> None:
        self.save_review(decision_id, label=label, label_source=source)

    def decisions_of_user(self, user_id: str, limit: int = 20) -> list[DecisionRow]:
        """A user's newest decisions (on `ix_risk_decisions_user_created`)."""
        c = risk_decisions.c
        stmt = select(risk_decisions).where(c.user_id == user_id)
        stmt = stmt.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        return [_decision(r) for r in self.conn.execute(stmt).mappings()]

    def actions_since(self, since: datetime) -> dict[str, tuple[int, int]]:
        """action -> (decisions, their amount in minor units) since `since`, by currency
        left to the caller: the console's dashboard asks for one currency's."""
        c = risk_decisions.c
        query = (
            select(c.action, func.count(), func.coalesce(func.sum(c.amount), 0))
            .where(c.created_at >= since, c.currency == "CNY")
            .group_by(c.action)
        )
        return {str(r[0]): (int(r[1]), int(r[2])) for r in self.conn.execute(query)}

    def reviews(
        self, status: str, limit: int, after: DecisionRow | None = None
    ) -> list[DecisionRow]:
        """Decisions waiting for (or past) review, oldest first, keyset-paged."""
        c = risk_decisions.c
        stmt = select(risk_decisions).where(c.review_status == status)
        if after is not None:
            stmt = stmt.where(_after(after.created_at, after.id))
        stmt = stmt.order_by(c.created_at, c.id).limit(limit)
        return [_decision(r) for r in self.conn.execute(stmt).mappings()]

    def overdue_reviews(self, now: datetime, limit: int = 500) -> list[str]:
        c = risk_decisions.c
        stmt = select(c.id).where(c.review_status == "pending", c.review_deadline <= now)
        return [r[0] for r in self.conn.execute(stmt.order_by(c.review_deadline).limit(limit))]

    def history(self, since: datetime | None = None, batch: int = 5_000) -> Iterator[DecisionRow]:
        """Every decision since `since`, oldest first, in batches (backtests, training)."""
        c = risk_decisions.c
        after: tuple[datetime, str] | None = None
        while True:
            stmt = select(risk_decisions)
            if since is not None:
                stmt = stmt.where(c.created_at >= since)
            if after is not None:
                stmt = stmt.where(_after(*after))
            rows = [
                _decision(r)
                for r in self.conn.execute(
                    stmt.order_by(c.created_at, c.id).limit(batch)
                ).mappings()
            ]
            yield from rows
            if len(rows) < batch:
                return
            after = (rows[-1].created_at, rows[-1].id)

    # -- lists -------------------------------------------------------------------------
    def add_list_entry(self, entry: ListEntry) -> None:
        self.conn.execute(risk_lists.insert().values(**entry.__dict__))
        self.memo.forget_table(_LISTS)

    def list_hits(self, keys: Sequence[tuple[str, str]], now: datetime) -> list[ListEntry]:
        """Live entries matching any (entity, value) pair. One statement per dialect (it
        runs in every payment): values in one list parameter, entities matched here; none
        if every value was read ahead (`read_lists_ahead`)."""
        if not keys:
            return []
        values = {v for _, v in keys}
        if all(self.memo.has((_LISTS, v)) for v in values):
            found = [e for v in values for e in self._ahead(v) if _live(e, now)]
        else:
            found = self._live_entries(sorted(values), now)
        wanted = set(keys)
        return [e for e in found if (e.entity, e.value) in wanted]

    def read_lists_ahead(self, values: Sequence[str], now: datetime) -> None:
        """`list_hits` for a batch of payments at once: the entries live at `now` naming
        any of `values`, kept by value (none kept where none names it), so each payment
        reads none. An entry added or expired in the unit forgets them; one added by
        another transaction meanwhile counts from the next batch."""
        wanted = sorted(set(values))
        if not wanted:
            return
        by_value: dict[str, list[ListEntry]] = {}
        for e in self._live_entries(wanted, now):
            by_value.setdefault(e.value, []).append(e)
        self.memo.put_all(_LISTS, wanted, by_value)

    def _live_entries(self, values: list[str], now: datetime) -> list[ListEntry]:
        params = {"values": values, "now": now}
        rows = run(self.conn, _list_hits(self.conn.dialect.name), params).mappings()
        return [_entry(r) for r in rows]

    def _ahead(self, value: str) -> list[ListEntry]:
        found = self.memo.peek((_LISTS, value))
        return found if isinstance(found, list) else []

    def list_entries(self, now: datetime, include_expired: bool = False) -> list[ListEntry]:
        c = risk_lists.c
        stmt = select(risk_lists).order_by(c.created_at, c.id)
        if not include_expired:
            stmt = stmt.where(or_(c.expires_at.is_(None), c.expires_at > now))
        return [_entry(r) for r in self.conn.execute(stmt).mappings()]

    def expire_list_entry(self, entry_id: str, now: datetime) -> bool:
        result = self.conn.execute(
            update(risk_lists).where(risk_lists.c.id == entry_id).values(expires_at=now)
        )
        self.memo.forget_table(_LISTS)
        return bool(result.rowcount)

    # -- rule set versions -------------------------------------------------------------
    def remember_rule_set(self, row: RuleSetRow) -> None:
        """Kept the first time it decides (several workers may race: the first wins)."""
        insert = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        self.conn.execute(insert(risk_rule_sets).values(**row.__dict__).on_conflict_do_nothing())

    def rule_sets(self) -> list[RuleSetRow]:
        """Newest first."""
        t = risk_rule_sets.c
        rows = self.conn.execute(select(risk_rule_sets).order_by(t.first_used_at.desc()))
        return [_rule_set(r) for r in rows.mappings()]

    def rule_set(self, digest: str) -> RuleSetRow | None:
        stmt = select(risk_rule_sets).where(risk_rule_sets.c.digest == digest)
        found = self.conn.execute(stmt).mappings().first()
        return None if found is None else _rule_set(found)

    # -- models ------------------------------------------------------------------------
    def add_model(self, row: ModelRow) -> None:
        values = {**row.__dict__, "metrics": json.dumps(row.metrics)}
        self.conn.execute(risk_models.insert().values(**values))

    def model(self, version: str) -> ModelRow | None:
        found = (
            self.conn.execute(select(risk_models).where(risk_models.c.version == version))
            .mappings()
            .first()
        )
        return None if found is None else _model(found)

    def active_model(self) -> ModelRow | None:
        found = (
            self.conn.execute(select(risk_models).where(risk_models.c.active.is_(True)))
            .mappings()
            .first()
        )
        return None if found is None else _model(found)

    def activate_model(self, version: str, now: datetime) -> None:
        self.conn.execute(update(risk_models).values(active=False))
        self.conn.execute(
            update(risk_models)
            .where(risk_models.c.version == version)
            .values(active=True, activated_at=now)
        )

    def models(self) -> list[ModelRow]:
        rows = self.conn.execute(select(risk_models).order_by(risk_models.c.created_at))
        return [_model(r) for r in rows.mappings()]

    def action_counts(self) -> dict[str, int]:
        """How many decisions took each action (the API benchmark's outcome)."""
        c = risk_decisions.c
        rows = self.conn.execute(select(c.action, func.count()).group_by(c.action))
        return {str(action): int(n) for action, n in rows}


def _after(at: datetime, decision_id: str) -> ColumnElement[bool]:
    """Keyset paging: strictly after (created_at, id)."""
    c = risk_decisions.c
    return or_(c.created_at > at, and_(c.created_at == at, c.id > decision_id))


def _live(entry: ListEntry, now: datetime) -> bool:
    return entry.expires_at is None or entry.expires_at > now


def _entry(row: Any) -> ListEntry:
    values = dict(row)
    values["created_at"] = as_utc(values["created_at"])
    values["expires_at"] = None if values["expires_at"] is None else as_utc(values["expires_at"])
    return ListEntry(**values)


def _model(row: Any) -> ModelRow:
    values = dict(row)
    values["metrics"] = json.loads(values["metrics"])
    values["created_at"] = as_utc(values["created_at"])
    values["activated_at"] = (
        None if values["activated_at"] is None else as_utc(values["activated_at"])
    )
    values["active"] = bool(values["active"])
    return ModelRow(**values)
