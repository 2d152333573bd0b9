"""Server-rendered pages: Jinja2 templates (autoescaped) in English or Chinese.

Every text in a template goes through gettext (`{% trans %}`, `_()`); the Chinese
catalogue is `locale/zh/LC_MESSAGES/messages.po`, read with Babel when first needed. The
language is the `gp_lang` cookie's (set by `/console/lang/{code}`), else the browser's
`Accept-Language`, else English. Templates hold no business logic: the routes hand them
what the services returned.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from guardpay.domain.money import Money

LANGUAGES = ("en", "zh")
LANG_COOKIE = "gp_lang"
#: the console shows times in the seeds' users' zone
SHOWN_TZ = ZoneInfo("Asia/Shanghai")


def language(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    accepted = request.headers.get("accept-language", "").lower()
    first = accepted.split(",")[0].strip()
    return "zh" if first.startswith("zh") else "en"


def switch_language(code: str, back: str, home: str) -> RedirectResponse:
    """Remember the language chosen, and go back to the page (only a path on this site:
    `//host` or a full address would be an open redirect)."""
    safe = back if back.startswith("/") and not back.startswith(("//", "/\\")) else home
    done = RedirectResponse(safe, status_code=303)
    if code in LANGUAGES:
        done.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return done


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    lang = language(request)
    page = _environment(lang).get_template(template)
    body = page.render(request=request, lang=lang, path=request.url.path, **values)
    headers = {
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }
    return HTMLResponse(body, status_code=status, headers=headers)


def translator(request: Request) -> Callable[[str], str]:
    """The request's language's gettext, for text drawn outside a template (the charts)."""
    return _translations(language(request)).gettext


@cache
def _environment(lang: str) -> Environment:
    env = Environment(
        loader=PackageLoader("guardpay.api.web", "templates"),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(_translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = _money
    env.filters["major"] = _major
    env.filters["when"] = _when
    env.filters["clock"] = _clock
    return env


@cache
def _translations(lang: str) -> NullTranslations:
    if lang == "en":
        return NullTranslations()
    source = resources.files("guardpay.api.web") / "locale" / lang / "LC_MESSAGES" / "messages.po"
    with source.open("rb") as po:
        catalog = read_po(po, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def _money(amount: int, currency: str) -> str:
    return f"{Money(int(amount), currency).to_decimal_string()} {currency}"


def _major(amount: int, currency: str) -> str:
    """The amount as a form field holds it: major units, no currency."""
    return Money(int(amount), currency).to_decimal_string()


def _when(at: datetime | str | None) -> str:
    if at is None:
        return ""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment.astimezone(SHOWN_TZ).strftime("%Y-%m-%d %H:%M")


def _clock(at: datetime) -> str:
    """A time within the minute (a code's expiry): to the second."""
    return at.astimezone(SHOWN_TZ).strftime("%H:%M:%S")
