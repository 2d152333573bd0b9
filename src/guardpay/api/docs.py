"""`/docs` (Swagger UI) and `/redoc` (ReDoc), served without a CDN.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a network that cannot
reach it (a bank's, an air-gapped deployment) /docs is blank. The same assets ship in the
`fastapi-offline` package (Swagger UI 5, which renders the OpenAPI 3.1 document FastAPI
writes, and ReDoc 2): they are served from it under `/docs/assets/`, and the pages are
FastAPI's own, pointed there. Nothing here loads from another host: ReDoc's Google fonts
are left out and Swagger UI's online validator badge is switched off. None of these
routes is in the OpenAPI document. They are added after the API's routers, so the hot
path is matched first.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
#: the package and folder the assets come from (swagger-ui-bundle.js, swagger-ui.css,
#: redoc.standalone.js, favicon.png)
ASSET_PACKAGE = ("fastapi_offline", "static")
DOCS, REDOC, OAUTH2_REDIRECT = "/docs", "/redoc", "/docs/oauth2-redirect"


def install(app: FastAPI) -> None:
    """Serve the assets and the two pages; build `app` with `docs_url=None` and
    `redoc_url=None` so FastAPI's CDN pages are not there too."""
    app.mount(ASSETS, StaticFiles(packages=[ASSET_PACKAGE]), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    parameters = {"validatorUrl": None, **(app.swagger_ui_parameters or {})}

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(DOCS, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        at = root(request) + ASSETS
        return get_swagger_ui_html(
            openapi_url=root(request) + openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=OAUTH2_REDIRECT,
            swagger_js_url=f"{at}/swagger-ui-bundle.js",
            swagger_css_url=f"{at}/swagger-ui.css",
            swagger_favicon_url=f"{at}/favicon.png",
            swagger_ui_parameters=parameters,
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        at = root(request) + ASSETS
        return get_redoc_html(
            openapi_url=root(request) + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{at}/redoc.standalone.js",
            redoc_favicon_url=f"{at}/favicon.png",
            with_google_fonts=False,
        )
