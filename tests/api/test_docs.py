"""/docs and /redoc work offline: their pages load Swagger UI and ReDoc from the package
(mounted under /docs/assets), never from a CDN, and the OpenAPI document is unchanged."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from guardpay.api.app import create_app
from guardpay.security.keys import Keyring
from guardpay.storage.engine.db import Database

#: what each kind of asset must be served as
CONTENT_TYPES = {
    ".js": "javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}
LINK = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*'([^']+)'|spec-url="([^"]+)\"""")


@pytest.fixture
def client(sqlite_db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_db, keyring=Keyring.generate())) as c:
        yield c


def _links(html: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in LINK.finditer(html)]


@pytest.mark.parametrize(("page", "expected"), [("/docs", 3), ("/redoc", 2)])
def test_the_docs_pages_load_only_local_assets(
    client: TestClient, page: str, expected: int
) -> None:
    r = client.get(page)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+", r.text, re.IGNORECASE), r.text
    links = _links(r.text)
    assets = [u for u in links if u.startswith("/docs/assets/")]
    assert len(assets) == expected, links
    assert "/openapi.json" in links
    for url in links:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        got = client.get(url)
        assert got.status_code == 200, url
        kind = CONTENT_TYPES[url[url.rindex(".") :]]
        assert kind in got.headers["content-type"], (url, got.headers["content-type"])
        assert len(got.content) > 0


def test_the_swagger_assets_are_swagger_ui_5(client: TestClient) -> None:
    """Swagger UI 5 renders OpenAPI 3.1 (what FastAPI writes); version 4 cannot."""
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    bundle = client.get("/docs/assets/swagger-ui-bundle.js").text
    assert re.search(r'PACKAGE_VERSION:"5\.\d+\.\d+"', bundle)


def test_the_oauth2_redirect_page_is_still_served(client: TestClient) -> None:
    r = client.get("/docs/oauth2-redirect")
    assert r.status_code == 200
    assert "https://" not in r.text


def test_the_docs_add_nothing_to_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert paths
    assert all(p.startswith("/v1/") or p == "/healthz" for p in paths), sorted(paths)


def test_an_unknown_asset_is_404(client: TestClient) -> None:
    assert client.get("/docs/assets/nope.js").status_code == 404
    assert client.get("/docs/assets/../../pyproject.toml").status_code == 404


def test_assets_are_counted_under_one_route(sqlite_db: Database) -> None:
    """One metrics label for every asset name, so the asset names cannot grow the metrics."""
    app = create_app(sqlite_db, keyring=Keyring.generate(), metrics_token="t0ken")
    client = TestClient(app)
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
    assert client.get("/docs/assets/nope.js").status_code == 404
    text = client.get("/metrics", headers={"Authorization": "Bearer t0ken"}).text
    route = 'route="/docs/assets/{name}"'
    assert f'{{method="GET",{route},status="200"}} 1.0' in text
    assert f'{{method="GET",{route},status="404"}} 1.0' in text
    assert "swagger-ui.css" not in text
