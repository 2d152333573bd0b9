"""The operator console (`/console`): pages over the same services as the API.

Sign-in is a password and then an authenticator code (services/auth/operator_login.py);
every page and every action is checked by the services for the operator's role, exactly
as the API's are, so hiding a button a role may not press is a courtesy, not the check.
Each action is a POST with a CSRF token, run in one unit of work, and answered with a
redirect back to the page it came from (so a reload never repeats it); a refusal is a
page with the same status and code as the API's error.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from guardpay.api.deps import InOneUnit, RequestContext
from guardpay.api.errors import status_of
from guardpay.api.web import charts, pictures
from guardpay.api.web.barcodes import qr_svg
from guardpay.api.web.pages import render, switch_language, translator
from guardpay.api.web.session import (
    CONSOLE,
    PENDING_AGE,
    SESSION_AGE,
    CheckedForm,
    ConsoleCaller,
    clear_cookie,
    csrf_for,
    page_csrf,
    see_other,
    set_cookie,
    sign_in_form,
)
from guardpay.domain.auth.roles import Role, at_least
from guardpay.domain.auth.sessions import OPERATOR
from guardpay.domain.money import Money
from guardpay.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    NotFound,
    RateLimited,
)
from guardpay.services.auth import facade as auth
from guardpay.services.auth import operator_login, operators
from guardpay.services.cases import actions, workflow
from guardpay.services.identity import people as identity_people
from guardpay.services.identity import privacy
from guardpay.services.payments import limits, review
from guardpay.services.platform.access import require_role
from guardpay.services.reports import dashboard as dashboard_data
from guardpay.services.reports import reports, suspicious

router = APIRouter(route_class=InOneUnit, prefix="/console", include_in_schema=False)
Text = Annotated[str, Form(max_length=10_000)]


#: a pending sign-in that ended: start again
EXPIRED = {"login_expired", "session_invalid", "session_revoked", "session_expired"}


def console_page(request: Request, op: ConsoleCaller, template: str, **values: Any) -> Response:
    me = require_role(op.ctx, Role.VIEWER)
    return render(
        request,
        template,
        me=me,
        csrf=page_csrf(request, CONSOLE),
        can_act=at_least(me.role, Role.ANALYST),
        can_approve=at_least(me.role, Role.SUPERVISOR),
        **values,
    )


# -- signing in ---------------------------------------------------------------------------
@router.get("/login")
def login_page(request: Request) -> Response:
    return sign_in_form(request, CONSOLE, "login.html")


@router.post("/login", dependencies=[CheckedForm])
def login(request: Request, ctx: RequestContext, name: Text, password: Text) -> Response:
    try:
        step = operator_login.password_step(ctx, name, password)
    except (AuthenticationFailed, RateLimited) as refused:
        status, shown = status_of(refused), refused.message
        return sign_in_form(request, CONSOLE, "login.html", status=status, error=shown)
    template = "code.html" if step.enrolled else "enrol.html"
    page = render(request, template, csrf=csrf_for(step.issued.token))
    set_cookie(request, page, CONSOLE, CONSOLE.pending, step.issued.token, PENDING_AGE)
    return page


@router.post("/login/enrol", dependencies=[CheckedForm])
def enrol(request: Request, ctx: RequestContext, enrolment_code: Text) -> Response:
    """The admin's one-time code: the authenticator's secret, shown once."""
    pending = request.cookies.get(CONSOLE.pending, "")
    try:
        uri = operator_login.enrol(ctx, pending, enrolment_code).provisioning_uri
    except (AuthenticationFailed, RateLimited, Conflict) as refused:
        if refused.code in EXPIRED:
            return see_other("/console/login")
        again = csrf_for(pending)
        shown = refused.message
        return render(request, "enrol.html", status=status_of(refused), csrf=again, error=shown)
    qr = qr_svg(uri, "TOTP")
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    return render(request, "code.html", csrf=csrf_for(pending), qr=qr, secret=secret)


@router.post("/login/code", dependencies=[CheckedForm])
def login_code(
    request: Request, ctx: RequestContext, code: Annotated[str, Form(max_length=12)]
) -> Response:
    pending = request.cookies.get(CONSOLE.pending, "")
    try:
        issued = operator_login.second_step(ctx, pending, code)
    except (AuthenticationFailed, RateLimited, InvalidRequest) as refused:
        if refused.code in EXPIRED:
            return see_other("/console/login")
        again = csrf_for(pending)
        shown = refused.message
        return render(request, "code.html", status=status_of(refused), csrf=again, error=shown)
    done = see_other("/console")
    set_cookie(request, done, CONSOLE, CONSOLE.cookie, issued.token, SESSION_AGE)
    clear_cookie(request, done, CONSOLE, CONSOLE.pending)
    return done


@router.post("/logout", dependencies=[CheckedForm])
def logout(request: Request, op: ConsoleCaller) -> Response:
    auth.revoke_session(op.ctx, op.id, op.session.id, kind=OPERATOR)
    done = see_other("/console/login")
    clear_cookie(request, done, CONSOLE, CONSOLE.cookie)
    return done


@router.get("/lang/{code}")
def choose_language(code: str, next: str = "/console") -> Response:
    return switch_language(code, next, "/console")


# -- pages --------------------------------------------------------------------------------
@router.get("")
def dashboard(request: Request, op: ConsoleCaller) -> Response:
    ctx = op.ctx
    open_cases, _ = workflow.list_cases(ctx, status=["open", "investigating", "escalated"])
    by_status: dict[str, int] = {}
    for case in open_cases:
        by_status[case.status.value] = by_status.get(case.status.value, 0) + 1
    alerts, _ = workflow.list_alerts(ctx, limit=20)
    waiting, _ = operators.list_approvals(ctx)
    return console_page(
        request,
        op,
        "dashboard.html",
        by_status=by_status,
        breaches=len(workflow.breaches(ctx)),
        alerts=alerts,
        approvals=len(waiting),
        d=dashboard_data.snapshot(ctx),
    )


@router.get("/charts/{name}.svg")
def chart(request: Request, op: ConsoleCaller, name: str) -> Response:
    draw = {"payments": charts.payments_per_minute, "decisions": charts.decisions_by_outcome}
    if name not in draw:
        raise NotFound("no such chart", param="name")
    svg = draw[name](dashboard_data.traffic(op.ctx), translator(request))
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(svg, media_type="image/svg+xml", headers=headers)


@router.get("/alerts")
def alert_queue(request: Request, op: ConsoleCaller, source: str | None = None) -> Response:
    alerts, _ = workflow.list_alerts(op.ctx, source=source or None)
    return console_page(request, op, "alerts.html", alerts=alerts, source=source)


@router.get("/cases")
def case_queue(request: Request, op: ConsoleCaller, status: str | None = None) -> Response:
    chosen = [status] if status else ["open", "investigating", "escalated"]
    cases, _ = workflow.list_cases(op.ctx, status=chosen)
    now = op.ctx.now()
    return console_page(request, op, "cases.html", cases=cases, shown=status, now=now)


@router.get("/cases/{case_id}")
def case_page(request: Request, op: ConsoleCaller, case_id: str) -> Response:
    seen = workflow.view(op.ctx, case_id)
    drawn = [(a, pictures.draw(a.path)) for a in seen.alerts]
    return console_page(request, op, "case.html", view=seen, drawn=drawn, now=op.ctx.now())


@router.get("/approvals")
def approval_queue(request: Request, op: ConsoleCaller) -> Response:
    waiting, _ = operators.list_approvals(op.ctx)
    return console_page(request, op, "approvals.html", approvals=waiting)


@router.get("/reports")
def report_list(request: Request, op: ConsoleCaller) -> Response:
    found = reports.latest(op.ctx, limit=50)
    return console_page(request, op, "reports.html", reports=found)


@router.get("/reports/{report_id}/file.{kind}")
def report_file(op: ConsoleCaller, report_id: str, kind: str) -> Response:
    made = reports.files_of(op.ctx, reports.get(op.ctx, report_id))
    return download(made.json if kind == "json" else made.csv, kind, report_id)


def download(data: bytes, kind: str, stem: str) -> Response:
    """A file to keep: JSON, or else CSV; never kept in a disk or proxy cache (a report
    names customers)."""
    media, suffix = ("application/json", "json") if kind == "json" else ("text/csv", "csv")
    headers = {
        "Content-Disposition": f'attachment; filename="{stem}.{suffix}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(data, media_type=media, headers=headers)


@router.get("/reviews")
def review_queue(request: Request, op: ConsoleCaller) -> Response:
    waiting, _ = review.pending(op.ctx, 100, None)
    return console_page(request, op, "reviews.html", reviews=waiting, now=op.ctx.now())


@router.get("/people")
def people(request: Request, op: ConsoleCaller, q: str = "") -> Response:
    if not q.strip():
        return console_page(request, op, "people.html")
    if "*" in q:
        matches = identity_people.find_masked(op.ctx, q)
        return console_page(request, op, "people.html", q=q, matches=matches)
    found = identity_people.find(op.ctx, q)
    kind = "merchants" if found.startswith("mer_") else "people"
    return see_other(f"/console/{kind}/{found}")


@router.get("/people/{user_id}")
def person(request: Request, op: ConsoleCaller, user_id: str) -> Response:
    shown = identity_people.person(op.ctx, user_id)
    cases, _ = workflow.list_cases(op.ctx, subject=user_id, limit=20)
    left = limits.allowance(op.ctx, user_id)
    fields = list(privacy.FIELDS)  # the phone first: the field asked for most
    values = {"person": shown, "cases": cases, "fields": fields, "limits": left}
    return console_page(request, op, "person.html", **values)


@router.get("/merchants/{merchant_id}")
def merchant(request: Request, op: ConsoleCaller, merchant_id: str) -> Response:
    shown = identity_people.merchant(op.ctx, merchant_id)
    cases, _ = workflow.list_cases(op.ctx, subject=merchant_id, limit=20)
    return console_page(request, op, "merchant.html", merchant=shown, cases=cases)


# -- actions: each a POST, answered with a redirect ---------------------------------------
def _to_case(case_id: str) -> Response:
    return see_other(f"/console/cases/{case_id}")


@router.post("/people/{user_id}/reveal", dependencies=[CheckedForm])
def reveal(
    request: Request,
    op: ConsoleCaller,
    user_id: str,
    field: Annotated[str, Form(max_length=40)],
    reason: Text,
    card_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """One field in full, with a reason the audit log keeps: shown on this page only
    (not stored in the browser: no-store)."""
    value = privacy.reveal_field(op.ctx, user_id, field, reason, card_id=card_id or None)
    return console_page(request, op, "revealed.html", user_id=user_id, field=field, value=value)


@router.post("/reviews/{decision_id}/release", dependencies=[CheckedForm])
def release_review(op: ConsoleCaller, decision_id: str, note: Text = "") -> Response:
    review.approve(op.ctx, decision_id, note or None)
    return see_other("/console/reviews")


@router.post("/reviews/{decision_id}/void", dependencies=[CheckedForm])
def void_review(op: ConsoleCaller, decision_id: str, note: Text = "") -> Response:
    review.decline(op.ctx, decision_id, note or None)
    return see_other("/console/reviews")


@router.post("/cases/{case_id}/investigate", dependencies=[CheckedForm])
def take_up(op: ConsoleCaller, case_id: str) -> Response:
    case = workflow.view(op.ctx, case_id).case
    if case.assignee != op.id:
        workflow.assign(op.ctx, case_id, op.id)
    workflow.investigate(op.ctx, case_id)
    return _to_case(case_id)


@router.post("/cases/{case_id}/note", dependencies=[CheckedForm])
def note(op: ConsoleCaller, case_id: str, body: Text) -> Response:
    workflow.add_note(op.ctx, case_id, body)
    return _to_case(case_id)


@router.post("/cases/{case_id}/escalate", dependencies=[CheckedForm])
def escalate(op: ConsoleCaller, case_id: str, reason: Text) -> Response:
    workflow.escalate(op.ctx, case_id, reason)
    return _to_case(case_id)


@router.post("/cases/{case_id}/send-back", dependencies=[CheckedForm])
def send_back(op: ConsoleCaller, case_id: str, reason: Text) -> Response:
    workflow.send_back(op.ctx, case_id, reason)
    return _to_case(case_id)


@router.post("/cases/{case_id}/close", dependencies=[CheckedForm])
def close(op: ConsoleCaller, case_id: str, disposition: Text, reason: Text) -> Response:
    workflow.close(op.ctx, case_id, disposition, reason)
    return _to_case(case_id)


@router.post("/cases/{case_id}/freeze", dependencies=[CheckedForm])
def freeze(op: ConsoleCaller, case_id: str, reason: Text) -> Response:
    actions.request_freeze(op.ctx, case_id, reason)
    return _to_case(case_id)


@router.post("/cases/{case_id}/unfreeze", dependencies=[CheckedForm])
def unfreeze(op: ConsoleCaller, case_id: str, reason: Text) -> Response:
    actions.request_unfreeze(op.ctx, case_id, reason)
    return _to_case(case_id)


@router.post("/cases/{case_id}/hold", dependencies=[CheckedForm])
def hold(op: ConsoleCaller, case_id: str, amount: Text, currency: Text, reason: Text) -> Response:
    actions.hold_funds(op.ctx, case_id, Money.parse(amount, currency), reason)
    return _to_case(case_id)


@router.post("/cases/{case_id}/holds/{hold_id}/release", dependencies=[CheckedForm])
def release(op: ConsoleCaller, case_id: str, hold_id: str) -> Response:
    actions.release_hold(op.ctx, case_id, hold_id)
    return _to_case(case_id)


@router.post("/cases/{case_id}/str", dependencies=[CheckedForm])
def draft_str(op: ConsoleCaller, case_id: str, narrative: Text) -> Response:
    drafted = suspicious.draft(op.ctx, case_id, narrative)
    suspicious.request_filing(op.ctx, drafted.id)
    return _to_case(case_id)


@router.post("/approvals/{approval_id}/approve", dependencies=[CheckedForm])
def approve(op: ConsoleCaller, approval_id: str) -> Response:
    operators.approve(op.ctx, approval_id)
    return see_other("/console/approvals")


@router.post("/approvals/{approval_id}/reject", dependencies=[CheckedForm])
def reject(op: ConsoleCaller, approval_id: str, reason: Text) -> Response:
    operators.reject(op.ctx, approval_id, reason)
    return see_other("/console/approvals")
