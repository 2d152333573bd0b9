"""Cursor pagination on the short lists (sessions, devices) and on approvals: pages of
`limit`, `next_cursor` while `has_more`, every item exactly once, an unknown cursor 400."""

from __future__ import annotations

from typing import Any

from tests.api.api_fixtures import Api, PhoneApp, error_of
from tests.api.api_fixtures import api_fixture as api_fixture


def _walk(api: Api, path: str, token: str, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = api.get(path + query, token)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        pages.append([item["id"] for item in body["data"]])
        assert body["has_more"] == (body["next_cursor"] is not None)
        if not body["has_more"]:
            return pages
        assert body["next_cursor"] == pages[-1][-1]
        cursor = body["next_cursor"]


def test_sessions_and_devices_page_through_every_item_once(api: Api) -> None:
    api.register()
    apps = [PhoneApp(f"phone {i}") for i in range(3)]
    tokens = [api.sign_in(app) for app in apps] + [api.sign_in(apps[0])]
    token = tokens[-1]
    whole = [s["id"] for s in api.get("/v1/sessions?limit=100", token).json()["data"]]
    assert len(whole) == 4
    pages = _walk(api, "/v1/sessions", token, 3)
    assert [len(p) for p in pages] == [3, 1]
    assert [i for p in pages for i in p] == whole
    devices = _walk(api, "/v1/me/devices", token, 2)
    assert [len(p) for p in devices] == [2, 1]
    assert len({i for p in devices for i in p}) == 3
    error_of(api.get("/v1/me/devices?cursor=dev_unknown", token), 400, "invalid_cursor")
    error_of(api.get("/v1/sessions?limit=0", token), 400, "parameter_invalid")
