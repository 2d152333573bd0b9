"""Risk decisions in the request path: features, rules and model in, one decision out.

`RiskEngine` is what a process holds: the feature state (in process, or Redis shared by
every API worker), the rule set (reloaded when its file changes, no restart) and the
active model (switched by `guardpay model activate`, seen by every worker within
seconds). `assess` runs inside the request's unit of work, before the ledger sees
anything: it records the decision with its score, reasons, versions and the features it
used, and after commit tells the feature state what happened.

Degrading, never failing silently: a model that cannot be loaded leaves the engine on
rules alone, with an error log, the `guardpay_risk_model_degraded` gauge at 1 and an
audit entry; a rule file that stops parsing keeps the last good rule set and says so. A
payment is never taken down by risk control's own faults, and nobody is left unaware.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from guardpay.adapters.risk_state import FeatureState, MemoryFeatureState
from guardpay.config import Settings
from guardpay.domain.risk.decision import Decision, decide
from guardpay.domain.risk.features import (
    RiskEvent,
    RiskRequest,
    StateProbe,
    StateSnapshot,
    compute_features,
    probe_key,
)
from guardpay.domain.risk.rules import RuleSet, evaluate, load_default_rule_set, load_rule_set_file
from guardpay.domain.risk.schema import Value
from guardpay.errors import GuardpayError
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import timed_id
from guardpay.storage.risk import DecisionRow, RuleSetRow
from guardpay.storage.uow import UnitOfWork

if TYPE_CHECKING:
    from guardpay.ml.model import TrainedModel

log = structlog.get_logger("guardpay.risk")

#: the variables config.py `Settings` reads the engine's settings from (risk_rules,
#: redis_url, redis_prefix); the API benchmark sets them for its server processes
RULES_ENV = "GUARDPAY_RISK_RULES"
REDIS_ENV = "GUARDPAY_REDIS_URL"
REDIS_PREFIX_ENV = "GUARDPAY_REDIS_PREFIX"  # keys under it: one deployment (or bench) each


class RuleSource:
    """The rule set in force: the packaged default, or a file checked for changes at most
    once a second. A file that no longer loads keeps the last good set (logged)."""

    def __init__(self, path: Path | None = None, *, check_every: float = 1.0) -> None:
        self.path, self.check_every = path, check_every
        self._lock = threading.Lock()
        self._stamp: float | None = None
        self._checked = 0.0
        self.last_error: str | None = None
        self._rules = load_default_rule_set() if path is None else load_rule_set_file(path)
        self._stamp = None if path is None else path.stat().st_mtime

    @classmethod
    def fixed(cls, rule_set: RuleSet) -> RuleSource:
        """Always `rule_set` (an evaluation, a backtest, a test of something else)."""
        source = cls()
        source._rules = rule_set
        return source

    def current(self) -> RuleSet:
        if self.path is None or time.monotonic() - self._checked < self.check_every:
            return self._rules
        with self._lock:
            self._checked = time.monotonic()
            self._reload_if_changed(self.path)
        return self._rules

    def _reload_if_changed(self, path: Path) -> None:
        try:
            stamp = path.stat().st_mtime
            if stamp == self._stamp:
                return
            self._rules, self._stamp, self.last_error = load_rule_set_file(path), stamp, None
            log.info("risk_rules_reloaded", rule_set=self._rules.name, version=self._rules.version)
        except (OSError, GuardpayError) as exc:
            self.last_error = getattr(exc, "message", str(exc))
            log.error("risk_rules_reload_failed", error=self.last_error)


def _load_model(path: Path) -> TrainedModel:
    from guardpay.ml.model import load_model  # LightGBM loads only when a model is active

    return load_model(path)


class ModelSource:
    """The active model (the `risk_models` row marked active), loaded once per version.
    A load failure means rules only until a retry (every `retry_after` seconds)."""

    def __init__(
        self,
        *,
        check_every: float = 5.0,
        retry_after: float = 60.0,
        loader: Callable[[Path], TrainedModel] = _load_model,
    ) -> None:
        self.check_every, self.retry_after, self.loader = check_every, retry_after, loader
        self._lock = threading.Lock()
        self._checked = -1e9
        self._retry_at = 0.0
        self.model: TrainedModel | None = None
        self.failed: str | None = None  # the version that would not load

    def current(self, ctx: Context | None) -> TrainedModel | None:
        """The model to use; without a context (a replay), the one already held."""
        now = time.monotonic()
        if ctx is not None and now - self._checked >= self.check_every:
            with self._lock:
                self._checked = now
                self._refresh(ctx)
        return self.model

    def _refresh(self, ctx: Context) -> None:
        row = ctx.uow.risk.active_model()
        wanted = None if row is None else row.version
        if wanted is None:
            self.model, self.failed = None, None
            return
        loaded = self.model is not None and self.model.version == wanted
        if loaded or (self.failed == wanted and time.monotonic() < self._retry_at):
            return
        assert row is not None
        self._load(ctx, wanted, Path(row.path))

    def _load(self, ctx: Context, version: str, path: Path) -> None:
        try:
            self.model, self.failed = self.loader(path), None
            log.info("risk_model_loaded", version=version)
        except (GuardpayError, OSError, ValueError) as exc:
            self.model, self.failed = None, version
            self._retry_at = time.monotonic() + self.retry_after
            log.error("risk_model_unavailable", version=version, error_type=type(exc).__name__)
            ctx.audit(
                "risk.model_unavailable",
                subject=version,
                outcome="degraded",
                details={"version": version, "error": type(exc).__name__},
            )


@dataclass
class Assessment:
    decision: Decision
    row: DecisionRow
    request: RiskRequest


@dataclass
class RiskEngine:
    state: FeatureState = field(default_factory=MemoryFeatureState)
    rules: RuleSource = field(default_factory=RuleSource)
    models: ModelSource = field(default_factory=ModelSource)
    counts: Counter[str] = field(default_factory=Counter)
    state_failed: bool = False
    #: the newest decisions' time to decide (features, model, rules), in seconds
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=2048), repr=False)
    _count_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: where a rule set is kept the first time it decides (`risk_rule_sets`, the
    #: console's versions): the app's (api/app.py), in a short unit of work of its own
    #: once the deciding one committed, so no payment waits on it; None keeps nothing
    #: (a CLI command, a replay)
    keep_rule_set: Callable[[RuleSetRow], None] | None = field(default=None, repr=False)
    #: the digests of the rule sets this process kept
    _kept_rule_sets: set[str] = field(default_factory=set, repr=False)

    @property
    def degraded(self) -> bool:
        """Deciding without the model or without the feature history."""
        return self.models.failed is not None or self.state_failed

    def score(
        self, ctx: Context | None, req: RiskRequest
    ) -> tuple[Decision, dict[str, Value], Any]:
        """Features, model and rules for one request; nothing recorded. Without a context
        (an offline replay) the model is whatever the model source holds."""
        ahead = None if ctx is None else ctx.uow.outside.get(probe_key(req))
        snapshot = ahead if isinstance(ahead, StateSnapshot) else self._snapshot(req)
        features = compute_features(req, snapshot)
        model = self.models.current(ctx)
        contributions: list[tuple[str, float]] = []
        score = None
        if model is not None:
            score, contributions = model.explain_one(features)
            features["model_score"] = score
        rule_set = self.rules.current()
        decision = decide(rule_set, evaluate(rule_set, features), score)
        return decision, features, (rule_set, model, contributions)

    def _snapshot(self, req: RiskRequest) -> StateSnapshot:
        """The history; if the state store cannot answer (Redis down), an empty one, with
        the degraded flag up: rules on the request itself (lists, amounts, payee age) still
        decide, and the payment path stays up."""
        try:
            snapshot = self.state.snapshot(req)
        except Exception as exc:  # any store failure: degrade, never take payments down
            self.state_failed = True
            log.error("risk_state_unavailable", error_type=type(exc).__name__)
            return StateSnapshot()
        self.state_failed = False
        return snapshot

    def read_ahead(self, uow: UnitOfWork, probes: Sequence[StateProbe]) -> None:
        """The snapshots a micro-batch's payments will ask for, in one call to the store
        (with Redis, one round trip), kept in the batch's unit of work by probe; a payment
        whose request differs (another second, a payee named by phone) asks for its own.
        The batch's payments cannot see each other in them anyway: the state learns of a
        payment only once its batch has committed. If the store cannot answer, nothing is
        kept and each payment asks alone (and degrades alone, `_snapshot`)."""
        try:
            found = self.state.snapshot_many(probes)
        except Exception as exc:  # only an optimisation: each payment asks for its own
            log.warning("risk_state_read_ahead_failed", error_type=type(exc).__name__)
            return
        for probe, snapshot in zip(probes, found, strict=True):
            uow.outside[probe_key(probe)] = snapshot

    def learn(self, ctx: Context, req: RiskRequest, *, accepted: bool) -> None:
        """After commit, tell the feature state what happened: `accepted` only when money
        moved (or the request went through), so an abandoned challenge or a held payment
        never makes a device or payee "known". A store failure is logged, never raised:
        the request already committed and its answer must stand."""
        ctx.uow.after_commit_each(self._record, RiskEvent.from_request(req, accepted=accepted))

    def _record(self, events: list[RiskEvent]) -> None:
        """A unit's events, in one call (a micro-batch's in one round trip)."""
        try:
            self.state.record_many(events)
        except Exception as exc:  # the commit stands; the features miss these events
            self.state_failed = True
            log.error("risk_state_record_failed", error_type=type(exc).__name__)

    def assess(self, ctx: Context, req: RiskRequest, subject_id: str | None) -> Assessment:
        """Decide and record the decision, in this unit of work. The caller says what
        happened next with `learn` (services/payments/core.py, payments_risk.screen)."""
        began = time.perf_counter()
        decision, features, (rule_set, model, contributions) = self.score(ctx, req)
        self.latencies.append(time.perf_counter() - began)
        row = DecisionRow(
            timed_id("rsk", ctx.now()),
            req.kind,
            req.channel,
            subject_id,
            req.user_id,
            req.amount,
            req.currency,
            decision.action.value,
            decision.score,
            list(decision.reasons),
            rule_set.label,
            None if model is None else model.version,
            features,
            [[name, round(value, 6)] for name, value in contributions],
            [h.rule for h in decision.hits if h.shadow],
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            ctx.now(),
        )
        ctx.uow.risk.insert_decision(row)
        self._keep_rule_set(ctx, rule_set)
        with self._count_lock:
            self.counts[decision.action.value] += 1
        return Assessment(decision, row, req)

    def _keep_rule_set(self, ctx: Context, rule_set: RuleSet) -> None:
        if self.keep_rule_set is None or rule_set.digest in self._kept_rule_sets:
            return
        name, version, text, at = rule_set.name, rule_set.version, rule_set.text, ctx.now()
        row = RuleSetRow(rule_set.digest, name, version, text, at)
        ctx.uow.after_commit(lambda: self._kept(row))

    def _kept(self, row: RuleSetRow) -> None:
        """After the deciding unit committed; a failure is logged and tried again at the
        next decision (a version's list must not cost a payment)."""
        if self.keep_rule_set is None or row.digest in self._kept_rule_sets:
            return
        try:
            self.keep_rule_set(row)
        except Exception as exc:
            log.error("rule_set_keep_failed", rule_set=row.label, error_type=type(exc).__name__)
            return
        self._kept_rule_sets.add(row.digest)


_defaults: dict[tuple[Path | None, str | None, str], RiskEngine] = {}
_default_lock = threading.Lock()


def engine_from_settings(settings: Settings) -> RiskEngine:
    """`settings.risk_rules` (GUARDPAY_RISK_RULES: a rule file, hot reloaded) and
    `redis_url` (GUARDPAY_REDIS_URL: shared feature state for several workers, keys under
    `redis_prefix`); without them, the packaged rules in process."""
    state: FeatureState = MemoryFeatureState()
    if settings.redis_url:
        import redis

        from guardpay.adapters.risk_state_redis import RedisFeatureState

        client = redis.Redis.from_url(settings.redis_url)
        state = RedisFeatureState(client, prefix=settings.redis_prefix)
    return RiskEngine(state, RuleSource(settings.risk_rules))


def engine_of(ctx: Context) -> RiskEngine:
    """The risk engine deciding this request: the edge's (the app's), else the process
    default for the context's settings (kept on the context for the rest of its unit of
    work)."""
    engine = ctx.risk_engine
    if not isinstance(engine, RiskEngine):
        engine = ctx.risk_engine = default_engine(ctx.settings)
    return engine


def default_engine(settings: Settings) -> RiskEngine:
    """The process's engine for contexts built without one (CLI commands, jobs): one per
    distinct engine setting (rules, Redis), built on first use."""
    key = (settings.risk_rules, settings.redis_url, settings.redis_prefix)
    with _default_lock:
        if key not in _defaults:
            _defaults[key] = engine_from_settings(settings)
        return _defaults[key]
