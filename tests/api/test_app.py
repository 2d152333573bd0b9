"""The app's route table: matched in order, so an earlier route must never answer for a
later one's path (the payment routes go first because they are the hot path); and what
the app leaves out of every request."""

from __future__ import annotations

import gc
import inspect
import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from opentelemetry import trace

from guardpay.api.app import ROUTERS, create_app
from guardpay.api.deps import InOneUnit, UserCaller
from guardpay.storage.engine.db import Database


def _concrete(path: str) -> str:
    """A path template with each parameter filled in (`/payments/{id}` -> `/payments/x1`)."""
    return re.sub(r"\{[^}]+\}", "x1", path)


def _routes() -> list[APIRoute]:
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]


def _shadowed(routes: list[APIRoute]) -> list[tuple[str, str]]:
    """(earlier, later) pairs where the earlier route would answer the later's path."""
    return [
        (earlier.path, later.path)
        for i, later in enumerate(routes)
        for earlier in routes[:i]
        if earlier.methods & later.methods
        and earlier.path_regex.match(_concrete(later.path))
        and earlier.path != later.path
    ]


def test_no_route_answers_for_a_later_routes_path() -> None:
    assert _shadowed(_routes()) == []


def test_the_check_catches_a_route_that_shadows() -> None:
    catch_all = APIRoute("/payments/{anything}", lambda: None, methods=["GET"])
    specific = APIRoute("/payments/qr", lambda: None, methods=["GET"])
    assert _shadowed([catch_all, specific]) == [("/payments/{anything}", "/payments/qr")]
    assert _shadowed([specific, catch_all]) == []


def test_the_transfer_route_is_among_the_first_matched() -> None:
    paths = [(next(iter(r.methods)), r.path) for r in _routes()]
    assert paths.index(("POST", "/transfers")) < len(ROUTERS[0].routes)


def test_every_route_runs_its_unit_of_work_in_one_thread() -> None:
    """Every route is an `InOneUnit`, so a request's transaction never spans thread hops
    (issue 15: that hung a PostgreSQL server under one user's concurrent payments)."""
    assert [r.path for r in _routes() if not isinstance(r, InOneUnit)] == []


def test_an_async_endpoint_cannot_take_a_unit_of_work() -> None:
    async def endpoint(caller: UserCaller) -> None:
        raise AssertionError("never runs")

    with pytest.raises(TypeError, match="must be a def"):
        InOneUnit("/x", endpoint, methods=["POST"])


def test_a_sync_endpoint_is_wrapped_to_run_in_one_unit() -> None:
    """The route runs a wrapper that binds `Deferred` arguments in one unit of work; the
    endpoint itself is what it wraps (the binding is exercised by every API test)."""

    def endpoint(caller: UserCaller) -> None:
        raise AssertionError("never runs")

    route = InOneUnit("/x", endpoint, methods=["POST"])
    assert route.dependant.call is not endpoint
    assert inspect.unwrap(route.dependant.call) is endpoint


class _CountingTracer:
    """A configured OpenTelemetry tracer provider, as an SDK would install: it counts
    the tracers asked of it."""

    def __init__(self) -> None:
        self.asked = 0

    def get_tracer(self, *args: object, **kwargs: object) -> object:
        self.asked += 1
        raise AssertionError("FastAPI asked for a tracer")


def test_fastapis_own_telemetry_stays_off_even_with_a_provider_configured(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI would trace every request once a provider is configured, and asks on every
    request whether one is; guardpay exports nothing through it, so it is off."""
    tracer = _CountingTracer()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: tracer)
    with TestClient(create_app(sqlite_db)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/me").status_code == 401
    assert tracer.asked == 0


def test_a_served_app_freezes_what_it_built_until_it_stops(sqlite_db: Database) -> None:
    """`guardpay serve`'s app takes its startup objects out of the cyclic collector's
    sight while it runs (a full pass over them stalled every request ~210 ms), and gives
    them back when it stops; an app built for anything else freezes nothing."""
    gc.unfreeze()
    with TestClient(create_app(sqlite_db)):
        assert gc.get_freeze_count() == 0
    with TestClient(create_app(sqlite_db, freeze_heap=True)) as client:
        assert gc.get_freeze_count() > 10_000
        assert client.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == 0
