"""The screens' pages: every text a template passes through gettext has its Chinese
translation, the language follows the cookie, then the browser, then English, and the
money path's picture says what the alert's path holds."""

from __future__ import annotations

from importlib import resources

import pytest
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract
from starlette.requests import Request

from guardpay.api.web import pictures
from guardpay.api.web.charts import ACTIONS
from guardpay.api.web.pages import language
from guardpay.domain.identity.cards import CardType
from guardpay.domain.ledger.chart import TransferCode
from guardpay.domain.payments.funding import State as FundingState
from guardpay.domain.payments.postings.funding import Kind as FundingKind
from guardpay.domain.payments.states import Status
from guardpay.domain.risk.explain import every_sentence

WEB = resources.files("guardpay.api.web")
#: the values templates translate through a variable (`_(case.status.value)`, ...)
DYNAMIC = {
    "open",
    "investigating",
    "escalated",
    "closed",
    "viewer",
    "analyst",
    "supervisor",
    "admin",
    "held",
    "released",
    "large_value",
    "str",
    "draft",
    "filed",
    "aml",
    "risk_review",
    "confirmed_fraud",
    "confirmed_laundering",
    "false_positive",
}


#: ... and the payment statuses, the ledger's kinds of movement, risk control's sentences
DYNAMIC |= {s.value for s in Status} | {c.name.lower() for c in TransferCode}
DYNAMIC |= {*every_sentence(), "other", *ACTIONS}
#: ... the card types, and the kinds and states of top-ups and withdrawals
DYNAMIC |= {m.value for m in (*CardType, *FundingKind, *FundingState)}
#: ... and the kinds of break a bank statement shows (services/ledger/reconcile.py)
DYNAMIC |= {"duplicate", "missing_on_platform", "missing_at_bank", "amount_mismatch"}
DYNAMIC |= {"status_mismatch"}


def texts_of_templates() -> set[str]:
    found: set[str] = set()
    for template in (WEB / "templates").iterdir():
        with template.open("rb") as source:
            for _, _, message, _ in babel_extract(source, ("_", "gettext"), [], {}):
                if isinstance(message, str):
                    found.add(message)
    return found


def test_every_text_of_the_templates_is_in_chinese() -> None:
    with (WEB / "locale" / "zh" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale="zh")
    translated = {m.id for m in catalog if m.id and m.string}
    wanted = texts_of_templates() | DYNAMIC
    assert len(wanted) > 100
    assert wanted - translated == set()


def _request(cookie: str = "", accept: str = "") -> Request:
    headers = [(b"cookie", cookie.encode()), (b"accept-language", accept.encode())]
    return Request({"type": "http", "headers": headers, "method": "GET", "path": "/"})


@pytest.mark.parametrize(
    ("cookie", "accept", "chosen"),
    [
        ("gp_lang=zh", "en-GB,en;q=0.9", "zh"),
        ("gp_lang=en", "zh-CN,zh;q=0.9", "en"),
        ("gp_lang=fr", "zh-TW", "zh"),
        ("", "de-DE,de;q=0.8", "en"),
        ("", "", "en"),
    ],
)
def test_the_language_cookie_then_browser(cookie: str, accept: str, chosen: str) -> None:
    assert language(_request(cookie, accept)) == chosen


def test_the_picture_draws_one_arrow_a_direction_and_marks_what_fired() -> None:
    path = {
        "account": "usr_a",
        "currency": "CNY",
        "nodes": ["usr_a", "usr_b", "mer_c"],
        "edges": [
            {"id": "p1", "source": "usr_a", "target": "usr_b", "amount": 100_00, "fired": True},
            {"id": "p2", "source": "usr_a", "target": "usr_b", "amount": 50_50, "fired": False},
            {"id": "p3", "source": "usr_b", "target": "usr_a", "amount": 10_00, "fired": False},
            {"id": "p4", "source": "mer_c", "target": "usr_a", "amount": 1, "fired": False},
        ],
        "truncated": False,
    }
    drawn = pictures.draw(path)
    [centre] = [n for n in drawn.nodes if n.centre]
    assert (centre.id, centre.x, centre.y) == ("usr_a", drawn.size / 2, drawn.size / 2)
    arrows = {(a.source, a.target): (a.label, a.fired) for a in drawn.arrows}
    assert arrows == {
        ("usr_a", "usr_b"): ("2× 150.50", True),
        ("usr_b", "usr_a"): ("1× 10.00", False),
        ("mer_c", "usr_a"): ("1× 0.01", False),
    }
    there, back = (a for a in drawn.arrows if {a.source, a.target} == {"usr_a", "usr_b"})
    assert (there.x1, there.y1) != (back.x2, back.y2)  # drawn side by side, not on top
    assert pictures.draw(path) == drawn  # the layout's seed: the same path, the same picture
    margin = pictures.NODE_R
    assert all(margin <= n.x <= drawn.size - margin for n in drawn.nodes)
    assert all(margin <= n.y <= drawn.size - margin for n in drawn.nodes)
