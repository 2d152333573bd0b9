"""`/metrics` in the Prometheus text format.

Requests are counted and timed by route *template* (`/v1/merchants/{merchant_id}`), never
by raw path, so ids neither leak into the metrics nor explode their cardinality; a path
that matched no route is `<unmatched>`. The template is the one the router matched (no
second matching here: building a table from the OpenAPI schema on the first request
stalled a cold server for seconds). Each app has its own registry, so several apps in
one process (the tests) never share counters. The webhook backlog is read from the
database at scrape time, so it is right whichever process delivers.

Only the bearer of the scrape token may read it: `GUARDPAY_METRICS_TOKEN` (or
`create_app(metrics_token=...)`). A request without `Authorization: Bearer <token>`, or
with another token, is 401 `metrics_token_invalid` (compared in constant time). With no
token configured /metrics is off: every request is 403 `metrics_unconfigured`, whose
message says to set GUARDPAY_METRICS_TOKEN (403, not 404: the endpoint exists, it is
refused until configured). Point Prometheus at it with the same token in a file that
only Prometheus can read:

    scrape_configs:
      - job_name: guardpay
        metrics_path: /metrics
        authorization:
          type: Bearer
          credentials_file: /etc/prometheus/guardpay-metrics-token
        static_configs:
          - targets: ["guardpay.internal:8000"]

(use `scheme: https` when the scrape leaves the host: the token travels in the clear
otherwise).
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import FastAPI, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from guardpay.api import asgi
from guardpay.errors import AuthenticationFailed, PermissionDenied
from guardpay.services.risk.engine import RiskEngine
from guardpay.services.webhooks import events as webhooks
from guardpay.storage.engine.db import Database
from guardpay.storage.uow import read_only

UNMATCHED = "<unmatched>"
METRICS_TOKEN_ENV = "GUARDPAY_METRICS_TOKEN"
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _OutboxBacklog(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with read_only(self.db) as uow:
            count = webhooks.undelivered_count(uow)
        yield GaugeMetricFamily(
            "guardpay_webhook_outbox_undelivered",
            "Webhook events committed but not yet acknowledged by their receiver",
            value=count,
        )


def _template(scope: asgi.Scope) -> str:
    """The matched route's path template, which the router leaves in the scope (the
    same dict every layer shares). The route knows its path below the router's prefix,
    so the prefix is what the request's path has before the route's part of it. An
    answer given before routing (an idempotent replay, say) is matched against the app's
    known templates instead; `<unmatched>` when nothing matches."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return _known(scope)
    params = {k: str(v) for k, v in scope.get("path_params", {}).items()}
    try:
        rendered = template.format(**params)
    except (KeyError, IndexError, ValueError):  # a convertor spec such as {n:int}
        return template
    path: str = scope["path"]
    return path[: len(path) - len(rendered)] + template if path.endswith(rendered) else template


def known_routes(app: FastAPI, templates: list[str]) -> None:
    """Every full path template of `app`, most literal first, so `/v1/sessions/revoke-
    others` beats `/v1/sessions/{session_id}` (create_app calls this once routed)."""
    ordered = sorted(set(templates), key=lambda t: (t.count("{"), -len(t)))
    app.state.route_patterns = [(_pattern(t), t) for t in ordered]


def _pattern(template: str) -> re.Pattern[str]:
    parts = (r"[^/]+" if p.startswith("{") else re.escape(p) for p in template.split("/"))
    return re.compile("^" + "/".join(parts) + "$")


def _known(scope: asgi.Scope) -> str:
    app = scope.get("app")
    patterns = getattr(getattr(app, "state", None), "route_patterns", [])
    path: str = scope["path"]
    return next((t for rx, t in patterns if rx.match(path)), UNMATCHED)


class _Risk(Collector):
    """Risk control's health: decisions by action since start, and whether the model is
    unavailable (rules only): the alert an operator must not miss."""

    def __init__(self, engine: RiskEngine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        decisions = CounterMetricFamily(
            "guardpay_risk_decisions", "Risk decisions made", labels=("action",)
        )
        for action in ("allow", "challenge", "review", "deny"):
            decisions.add_metric((action,), self.engine.counts[action])
        yield decisions
        yield GaugeMetricFamily(
            "guardpay_risk_model_degraded",
            "1 when the active model cannot be loaded and decisions use rules only",
            value=1 if self.engine.degraded else 0,
        )


class _Batches(Collector):
    """How payments are batched (api/batching.py): batches run, the requests they took,
    the largest. Requests over batches is the mean batch size."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        b = getattr(self.state, "payment_batcher", None)
        counts = (0, 0, 0) if b is None else (b.batches, b.requests, b.largest)
        yield CounterMetricFamily(
            "guardpay_payment_batches", "Micro-batches of payments committed", value=counts[0]
        )
        yield CounterMetricFamily(
            "guardpay_payment_batched_requests", "Payment requests run in them", value=counts[1]
        )
        yield GaugeMetricFamily(
            "guardpay_payment_batch_largest", "The most requests one batch took", value=counts[2]
        )


class _Measure:
    """Counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: asgi.ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app, self.requests, self.latency = app, requests, latency

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        watch = asgi.StatusWatch(send)
        try:
            await self.app(scope, receive, watch)
        finally:
            labels = (scope["method"], _template(scope), str(watch.status))
            self.requests.labels(*labels).inc()
            self.latency.labels(*labels).observe(time.perf_counter() - started)


def _check(token: str | None, authorization: str | None) -> None:
    """Admit the bearer of `token`: 403 when none is configured, 401 otherwise."""
    if not token:
        raise PermissionDenied(
            f"/metrics is off until a scrape token is configured: set {METRICS_TOKEN_ENV} "
            "and send it as `Authorization: Bearer <token>`",
            code="metrics_unconfigured",
        )
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), token.encode()
    ):
        raise AuthenticationFailed(
            "/metrics needs `Authorization: Bearer <the scrape token>`",
            code="metrics_token_invalid",
        )


def install(
    app: FastAPI, db: Database, risk: RiskEngine | None = None, token: str | None = None
) -> None:
    """Count requests and serve /metrics to the bearer of `token` (None: refused, 403)."""
    registry = CollectorRegistry()
    requests = Counter(
        "guardpay_http_requests",
        "HTTP requests answered",
        ("method", "route", "status"),
        registry=registry,
    )
    latency = Histogram(
        "guardpay_http_request_duration_seconds",
        "Time to answer",
        ("method", "route", "status"),
        registry=registry,
        buckets=_BUCKETS,
    )
    registry.register(_OutboxBacklog(db))
    registry.register(_Batches(app.state))
    if risk is not None:
        registry.register(_Risk(risk))

    app.add_middleware(_Measure, requests=requests, latency=latency)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
        _check(token, authorization)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
