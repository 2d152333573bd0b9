"""The app's route table: matched in order, so an earlier route must never answer for a
later one's path (the payment routes go first because they are the hot path)."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from guardpay.api.app import ROUTERS


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
