"""The console through HTTP, as a browser uses it, on SQLite and PostgreSQL: signing in
with a password and an authenticator code, working a held transfer's case to a freeze a
second operator approves, and what it refuses: a page without a session, a form without
its CSRF token, a viewer's action, an analyst approving their own request, a user's
session."""

from __future__ import annotations

import csv
import io
import re

from guardpay.api.web.session import CONSOLE
from guardpay.domain.risk.rules import RuleSet, load_default_rule_set, load_rule_set
from guardpay.services.platform.context import Context
from guardpay.storage.risk import RuleSetRow
from tests.api.api_fixtures import T0, Api
from tests.api.api_fixtures import api_fixture as api_fixture
from tests.api.test_payments_api import BOB, World, _ctx_run
from tests.api.test_payments_api import world as world
from tests.api.test_risk_api import NIGHT, _class_ii, _send
from tests.api.web.console_fixtures import Console, operator
from tests.services.risk.test_rule_versions import candidate


def held_case(world: World) -> tuple[Api, str, str]:
    """Alice's ¥6,000 at night, held for review: (api, her id, the transfer's id)."""
    api, alice, _, _ = world
    _class_ii(api, alice.id, 19_500_00)
    api.clock.at = NIGHT
    held = _send(api, alice.token, BOB, 6_000_00)
    assert held["status"] == "processing"
    return api, alice.id, str(held["id"])


def case_link(console: Console) -> str:
    queue = console.get("/console/alerts")
    assert queue.status_code == 200, queue.text
    found = re.search(r'href="(/console/cases/case_[^"]+)"', queue.text)
    assert found, queue.text
    return found.group(1)


def refusal(page: object, status: int, code: str) -> None:
    text = getattr(page, "text", "")
    assert getattr(page, "status_code", None) == status, text
    assert f"<code>{code}</code>" in text


def test_an_analyst_works_a_case_and_a_supervisor_approves_the_freeze(world: World) -> None:
    api, alice, transfer = held_case(world)
    alma, sam = operator(api, "alma", "analyst"), operator(api, "sam", "supervisor")
    alma.sign_in()
    case = case_link(alma)
    page = alma.get(case)
    assert 'class="edge fired"' in page.text  # the held transfer, drawn and highlighted
    assert transfer in page.text
    assert alice in page.text

    assert alma.post(f"{case}/investigate").status_code == 303
    assert alma.post(f"{case}/note", {"body": "night transfer to a new payee"}).status_code == 303
    alma.get(case)
    assert alma.post(f"{case}/freeze", {"reason": "mule suspected"}).status_code == 303
    waiting = alma.get("/console/approvals")
    [asked] = re.findall(r"<code>(apr_[^<]+)</code>", waiting.text)
    assert "/approve" not in waiting.text  # an analyst approves nothing: no button...
    approval = f"/console/approvals/{asked}"
    refusal(alma.post(f"{approval}/approve"), 403, "four_eyes_same_operator")  # ...nor a POST

    sam.sign_in()
    sam.get("/console/approvals")
    assert sam.post(f"{approval}/approve").status_code == 303
    page = sam.get(case).text
    notes, trail = page.split('id="notes-h"')[1].split('id="audit-trail"')
    assert "night transfer to a new payee" in notes
    for step in ("case.status_changed", "case.note_added", "case.account_frozen"):
        assert step in trail


def test_a_viewer_reads_but_cannot_act(world: World) -> None:
    api, _, _ = held_case(world)
    vera = operator(api, "vera", "viewer")
    vera.sign_in()
    case = case_link(vera)
    page = vera.get(case)
    assert page.status_code == 200
    assert 'id="take-up"' not in page.text  # no buttons she may not press...
    refusal(vera.post(f"{case}/investigate"), 403, "insufficient_role")  # ...nor their POSTs


def test_pages_need_a_console_session_and_forms_their_token(world: World) -> None:
    api, alice_token = world[0], world[1].token
    alma = operator(api, "alma", "analyst")
    for path in ("/console", "/console/alerts", "/console/cases/case_x", "/console/approvals"):
        away = alma.get(path)
        assert (away.status_code, away.headers["location"]) == (303, "/console/login")
    alma.client.cookies.set(CONSOLE.cookie, alice_token, domain="127.0.0.1", path="/console")
    assert alma.get("/console").headers["location"] == "/console/login"  # a user's session
    by_api = api.post("/v1/operator/sessions", {"name": "alma", "password": "Console-pass-7"})
    assert by_api.status_code == 201, by_api.text  # no authenticator yet: the password only
    alma.client.cookies.set(
        CONSOLE.cookie, by_api.json()["token"], domain="127.0.0.1", path="/console"
    )
    assert alma.get("/console").headers["location"] == "/console/login"  # one factor: refused
    alma.client.cookies.clear()
    alma.sign_in()
    assert alma.get("/console").status_code == 200
    refusal(alma.post("/console/logout", csrf=False), 403, "csrf_failed")
    refusal(
        alma.post("/console/cases/case_x/investigate", {"csrf": "forged"}, csrf=False),
        403,
        "csrf_failed",
    )
    assert alma.post("/console/logout").headers["location"] == "/console/login"
    assert alma.get("/console").headers["location"] == "/console/login"  # signed out


def test_signing_in_takes_the_right_code_and_counts_wrong_ones(world: World) -> None:
    api = world[0]
    alma = operator(api, "alma", "analyst")
    alma.get("/console/login")
    wrong = alma.post("/console/login", {"name": "alma", "password": "Not-it-at-all-1"})
    assert wrong.status_code == 401
    assert "the name or the password is wrong" in wrong.text
    alma.sign_in()
    alma.client.cookies.clear()
    alma.get("/console/login")
    alma.post("/console/login", {"name": "alma", "password": "Console-pass-7"})
    refused = alma.post("/console/login/code", {"code": "000000"})
    assert (refused.status_code, "the code is not valid" in refused.text) == (401, True)
    assert CONSOLE.cookie not in alma.client.cookies
    assert alma.post("/console/login/code", {"code": alma.code(api.clock())}).status_code == 303


def test_the_console_speaks_chinese_when_asked(world: World) -> None:
    alma = operator(world[0], "alma", "analyst")
    back = alma.get("/console/lang/zh?next=/console/login")
    assert back.headers["location"] == "/console/login"
    page = alma.get("/console/login")
    assert '<html lang="zh-CN">' in page.text
    assert "登录控制台" in page.text
    assert alma.get("/console/lang/en?next=//evil.example").headers["location"] == "/console"


def test_a_held_payment_is_voided_from_the_review_queue(world: World) -> None:
    api, _, transfer = held_case(world)
    alice_token = world[1].token
    alma = operator(api, "alma", "analyst")
    alma.sign_in()
    queue = alma.get("/console/reviews")
    [decision] = re.findall(r'action="/console/reviews/(rsk_[^"/]+)/void"', queue.text)
    voided = alma.post(f"/console/reviews/{decision}/void", {"note": "the payer called: a scam"})
    assert voided.headers["location"] == "/console/reviews"
    assert "Nothing waits for review." in alma.get("/console/reviews").text
    paid = api.get(f"/v1/payments/{transfer}", alice_token).json()
    assert paid["status"] == "failed"


def test_a_person_is_found_by_phone_shown_masked_and_revealed_with_a_reason(
    world: World,
) -> None:
    api, alice, _, _ = world
    alma, vera = operator(api, "alma", "analyst"), operator(api, "vera", "viewer")
    alma.sign_in()
    found = alma.get("/console/people?q=%2B8613812345678")
    assert found.headers["location"] == f"/console/people/{alice.id}"
    page = alma.get(found.headers["location"]).text
    assert "138****5678" in page
    assert "13812345678" not in page
    assert "Pixel 9" in page  # the phone she signed in from
    assert "What they may still pay" in page
    refusal(alma.get("/console/people?q=13700009999"), 404, "person_not_found")
    refusal(alma.get("/console/people?q=hello"), 400, "invalid_query")
    shown = alma.post(
        f"/console/people/{alice.id}/reveal", {"field": "phone", "reason": "the customer called us"}
    )
    assert '<span id="revealed">+8613812345678</span>' in shown.text
    assert shown.headers["cache-control"] == "no-store"
    revealed = api.audit("pii.revealed")
    assert len(revealed) == 1
    vera.sign_in()
    vera.get(f"/console/people/{alice.id}")
    asked = {"field": "phone", "reason": "just looking around"}
    refusal(vera.post(f"/console/people/{alice.id}/reveal", asked), 403, "insufficient_role")


def test_the_dashboard_draws_its_charts_for_any_operator(world: World) -> None:
    api, _, _ = held_case(world)
    vera = operator(api, "vera", "viewer")
    vera.sign_in()
    page = vera.get("/console").text
    assert 'src="/console/charts/payments.svg"' in page
    assert "reconciled" in page
    chart = vera.get("/console/charts/decisions.svg")
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert "Risk decisions by outcome" in chart.text
    assert "<script" not in chart.text  # nothing fetched, nothing run
    assert "default-src 'none'" in chart.headers["content-security-policy"]
    assert vera.get("/console/charts/nope.svg").status_code == 404
    anonymous = operator(api, "nobody", "viewer")
    assert anonymous.get("/console/charts/payments.svg").status_code == 303


def test_the_rules_are_shown_and_replayed_over_the_last_month(world: World) -> None:
    api, _, _ = held_case(world)
    alma, vera = operator(api, "alma", "analyst"), operator(api, "vera", "viewer")
    vera.sign_in()
    page = vera.get("/console/rules").text
    assert "<strong>block_list_hit</strong>" in page  # the packaged rules, in order
    assert page.index("block_list_hit") < page.index("large_transfer_new_payee_night")
    assert 'id="run-backtest"' not in page
    refusal(vera.post("/console/rules/backtest"), 403, "insufficient_role")
    alma.sign_in()
    alma.get("/console/rules")
    done = alma.post("/console/rules/backtest")
    assert done.status_code == 200, done.text
    summary = re.search(r'<p id="backtest-summary">(\d+) decisions', done.text)
    assert summary
    assert int(summary.group(1)) >= 1  # the held transfer's decision, at least
    assert '<th scope="col">Hits</th>' in done.text


def test_an_admin_resets_a_lost_authenticator_from_the_operators_page(world: World) -> None:
    """Only an admin sees the page; the reset takes a reason, ends the analyst's console
    session, and the code it shows once sets up her new phone; the admin's own row has
    no reset (another admin's, or the server's)."""
    api = world[0]
    alma, ada = operator(api, "alma", "analyst"), operator(api, "ada", "admin")
    alma.sign_in()
    ada.sign_in()
    refusal(alma.get("/console/operators"), 403, "insufficient_role")
    page = ada.get("/console/operators").text
    assert "/console/operators/" in page
    alma_id = re.search(r'action="/console/operators/([^/]+)/reset"', page)
    assert alma_id, page
    assert page.count("/reset") == 1  # alma's row only: not ada's own
    path = f"/console/operators/{alma_id.group(1)}/reset"
    refusal(ada.post(path, {"reason": " "}), 400, "reason_required")
    ada.get("/console/operators")
    done = ada.post(path, {"reason": "phone lost, seen in person"})
    assert done.status_code == 200, done.text
    code = re.search(r'<code id="enrolment-code"[^>]*>([^<]+)</code>', done.text)
    assert code, done.text
    assert "not set up" in done.text
    assert alma.get("/console").headers["location"] == "/console/login"  # her session ended
    alma.enrolment, alma.secret = code.group(1), None
    alma.sign_in()  # the new phone, set up with the code
    assert alma.get("/console").status_code == 200


def keep_candidate_rules(api: Api) -> RuleSet:
    """A version that decided before the packaged rules (tests/services/risk)."""
    older = load_rule_set(candidate(), source="candidate")
    row = RuleSetRow(older.digest, older.name, older.version, older.text, T0)

    def keep(ctx: Context) -> None:
        ctx.uow.risk.remember_rule_set(row)

    _ctx_run(api, keep)
    return older


def test_a_rule_set_version_beside_the_active_one(world: World) -> None:
    """The rules page lists the versions that decided; an analyst compares one with the
    active set (a viewer has no button, nor the POST): the diff and both backtests."""
    api, _, _ = held_case(world)  # a decision under the packaged rules: kept
    older = keep_candidate_rules(api)
    alma, vera = operator(api, "alma", "analyst"), operator(api, "vera", "viewer")
    vera.sign_in()
    listed = vera.get("/console/rules").text
    assert older.label in listed
    assert load_default_rule_set().label in listed
    assert "/console/rules/compare" not in listed
    refusal(vera.post("/console/rules/compare", {"digest": older.digest}), 403, "insufficient_role")
    alma.sign_in()
    alma.get("/console/rules")
    page = alma.post("/console/rules/compare", {"digest": older.digest})
    assert page.status_code == 200, page.text
    assert '<span class="add">+    shadow' not in page.text  # the active set is the packaged one
    assert '<span class="del">-    shadow: true</span>' in page.text
    assert 'id="compare-rules"' in page.text
    refusal(alma.post("/console/rules/compare", {"digest": "0" * 64}), 404, "rule_set_not_found")


def test_people_are_found_by_a_masked_phone_number(world: World) -> None:
    """Each number a masked one can be, looked up: Alice (138****5678) and not Bob; shown
    masked; the search audited with the mask and whom it found; another mask refused."""
    api, alice, bob, _ = world
    vera = operator(api, "vera", "viewer")
    vera.sign_in()
    page = vera.get("/console/people?q=138****5678")
    assert page.status_code == 200, page.text
    found = re.findall(r'href="/console/people/(usr_[^"]+)"', page.text)
    assert found == [alice.id]
    assert bob.id not in page.text
    assert "13812345678" not in page.text
    assert "138****5678" in page.text
    assert "Nobody." in vera.get("/console/people?q=139****5678").text
    refusal(vera.get("/console/people?q=1380***5678"), 400, "invalid_phone_number")  # no peeking
    trail = api.snapshot()["audit_log"]
    searched = [e for e in trail if "person.searched" in e]
    assert len(searched) == 2
    assert alice.id in searched[0]  # whom it found
    assert all("13812345678" not in e for e in searched)


STATEMENT = (
    "date,bank_reference,direction,amount,currency,status\n"
    '2026-11-21,"=HYPERLINK(""http://x"")",in,1000,CNY,succeeded\n'
)


def test_the_reserve_and_a_bank_statement_reconciled_and_downloaded(world: World) -> None:
    api = world[0]
    alma, vera = operator(api, "alma", "analyst"), operator(api, "vera", "viewer")
    vera.sign_in()
    refusal(vera.get("/console/reconciliation"), 403, "insufficient_role")
    alma.sign_in()
    page = alma.get("/console/reconciliation")
    assert 'id="reserve-status" class="ok"' in page.text, page.text
    kept = alma.get("/console/reconciliation/reserve.csv")
    assert (
        kept.headers["content-disposition"] == 'attachment; filename="reserve-reconciliation.csv"'
    )
    assert kept.text.splitlines()[0].startswith("currency,reserve,liabilities")
    assert alma.get("/console/reconciliation/reserve.json").json()["ok"] is True

    def upload(content: str, answer: str) -> object:
        form = {"csrf": alma.token or "", "answer": answer}
        sent = {"file": ("statement-2026-11-21.csv", content.encode(), "text/csv")}
        return alma.client.post("/console/reconciliation/statement", data=form, files=sent)

    shown = upload(STATEMENT, "page")
    assert shown.status_code == 200, shown.text  # type: ignore[attr-defined]
    assert "1 rows · 0 matched · 1 breaks" in shown.text  # type: ignore[attr-defined]
    assert "missing_on_platform" in shown.text  # type: ignore[attr-defined]
    breaks = upload(STATEMENT, "csv")
    [_, row] = csv.reader(io.StringIO(breaks.text))  # type: ignore[attr-defined]
    assert row[:2] == ["missing_on_platform", '\'=HYPERLINK("http://x")']  # inert in a sheet
    refusal(upload("not,a,statement\n", "page"), 400, "invalid_statement")
    checked = [e for e in api.snapshot()["audit_log"] if "reconciliation.statement_checked" in e]
    assert len(checked) == 2
