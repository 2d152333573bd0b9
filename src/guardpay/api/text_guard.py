"""Control characters are refused at the edge, wherever a request carries text.

A NUL reached PostgreSQL as a 500 (it cannot store U+0000 in text), and other control
characters have no business in a name, a description, an id or a cursor either: they
hide text in logs and screens. So a request under /v1, /console or /wallet whose path,
query string, JSON or form body holds a C0 control character (U+0000-U+001F, except tab, line
feed and carriage return, which free text may hold) or DEL is refused with 400
`invalid_characters` before any work, naming the parameter where it can.

A JSON body can carry one only as a `\\u00XX` escape (a raw control byte inside a string
is a JSON syntax error, already a 400), so the raw body is scanned for such escapes; it
is parsed only when one is found, to name the parameter. A form body is read as a query
string is.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from guardpay.api import asgi
from guardpay.api.errors import error_body

#: a `\u00XX` escape of a refused character, not itself escaped (`\\u0000` is text)
_ESCAPED = re.compile(rb"(?<!\\)(?:\\\\)*\\u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF])")
_REFUSED = frozenset(set(range(0x20)) - {0x09, 0x0A, 0x0D}) | {0x7F}
_REFUSED_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CODE = "invalid_characters"
GUARDED = ("/v1/", "/console/", "/wallet/")  # the API, and the screens' forms
FORM = "application/x-www-form-urlencoded"


def refused_in_text(text: str) -> bool:
    return _REFUSED_TEXT.search(text) is not None


def refused_in_query(query: bytes) -> bool:
    return any(b in _REFUSED for b in unquote_to_bytes(query.replace(b"+", b" ")))


def refused_in_json(body: bytes) -> bool:
    return _ESCAPED.search(body) is not None


def where_in_json(body: bytes) -> str | None:
    """The dotted path of the first string (key or value) holding a refused character."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return _where(data, ())


def _where(value: Any, at: tuple[str, ...]) -> str | None:
    if isinstance(value, str):
        return (".".join(at) or None) if refused_in_text(value) else None
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if refused_in_text(key):
                return ".".join((*at, "<key>"))
            items.append((key, item))
    elif isinstance(value, list):
        items = [(str(i), item) for i, item in enumerate(value)]
    for name, item in items:
        found = _where(item, (*at, name))
        if found is not None:
            return found
    return None


class ControlCharacters:
    """The middleware (module docstring)."""

    def __init__(self, app: asgi.ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(GUARDED):
            await self.app(scope, receive, send)
            return
        if refused_in_text(scope["path"]):
            await _refuse(send, "the path holds a control character", None)
            return
        if refused_in_query(scope.get("query_string", b"")):
            await _refuse(send, "the query string holds a control character", None)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        body, replay, complete = await asgi.buffer_body(receive)
        if not complete:
            return
        form = (asgi.header(scope, b"content-type") or "").startswith(FORM)
        if refused_in_query(body) if form else refused_in_json(body):
            param = None if form else where_in_json(body)
            await _refuse(send, "text may not hold control characters", param)
            return
        await self.app(scope, replay, send)


async def _refuse(send: asgi.Send, message: str, param: str | None) -> None:
    body = json.dumps(error_body("invalid_request_error", CODE, message, param)).encode()
    await asgi.send_whole(send, 400, [(b"content-type", b"application/json")], body)
