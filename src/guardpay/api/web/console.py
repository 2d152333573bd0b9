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

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from guardpay.api.deps import InOneUnit, RequestContext
from guardpay.api.web import pictures
from guardpay.api.web.pages import LANG_COOKIE, LANGUAGES, render
from guardpay.api.web.session import (
    PENDING_COOKIE,
    PRE_COOKIE,
    SESSION_COOKIE,
    CheckedForm,
    ConsoleCaller,
    clear_cookie,
    csrf_for,
    pre_token,
    set_cookie,
)
from guardpay.domain.auth.roles import Role, at_least
from guardpay.domain.auth.sessions import OPERATOR
from guardpay.domain.money import Money
from guardpay.errors import AuthenticationFailed, RateLimited
from guardpay.services.auth import facade as auth
from guardpay.services.auth import operator_login, operators
from guardpay.services.cases import actions, workflow
from guardpay.services.platform.access import require_role
from guardpay.services.reports import reports, suspicious

router = APIRouter(route_class=InOneUnit, prefix="/console", include_in_schema=False)
Text = Annotated[str, Form(max_length=10_000)]
PENDING_AGE = 300
SESSION_AGE = 12 * 3600


def _back(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


def _page(request: Request, op: ConsoleCaller, template: str, **values: Any) -> Response:
    me = require_role(op.ctx, Role.VIEWER)
    return render(
        request,
        template,
        me=me,
        csrf=csrf_for(request.cookies.get(SESSION_COOKIE, "")),
        can_act=at_least(me.role, Role.ANALYST),
        can_approve=at_least(me.role, Role.SUPERVISOR),
        **values,
    )


# -- signing in ---------------------------------------------------------------------------
@router.get("/login")
def login_page(request: Request) -> Response:
    token = pre_token(request)
    page = render(request, "login.html", csrf=token)
    set_cookie(request, page, PRE_COOKIE, token, PENDING_AGE)
    return page


@router.post("/login", dependencies=[CheckedForm])
def login(request: Request, ctx: RequestContext, name: Text, password: Text) -> Response:
    try:
        step = operator_login.password_step(ctx, name, password)
    except (AuthenticationFailed, RateLimited) as refused:
        status = 429 if isinstance(refused, RateLimited) else 401
        token = pre_token(request)
        return render(request, "login.html", status=status, csrf=token, error=refused.message)
    qr = secret = None
    if not step.enrolled:
        uri = operator_login.enrol(ctx, step.issued.token).provisioning_uri
        qr = Markup(segno.make(uri, error="m").svg_inline(scale=4, title="TOTP"))
        secret = uri.split("secret=")[1].split("&")[0]
    page = render(request, "code.html", csrf=csrf_for(step.issued.token), qr=qr, secret=secret)
    set_cookie(request, page, PENDING_COOKIE, step.issued.token, PENDING_AGE)
    return page


@router.post("/login/code", dependencies=[CheckedForm])
def login_code(
    request: Request, ctx: RequestContext, code: Annotated[str, Form(max_length=12)]
) -> Response:
    pending = request.cookies.get(PENDING_COOKIE, "")
    try:
        issued = operator_login.second_step(ctx, pending, code)
    except (AuthenticationFailed, RateLimited) as refused:
        status = 429 if isinstance(refused, RateLimited) else 401
        if refused.code in {"login_expired", "session_invalid", "session_revoked"}:
            return _back("/console/login")
        again = csrf_for(pending)
        return render(request, "code.html", status=status, csrf=again, error=refused.message)
    done = _back("/console")
    set_cookie(request, done, SESSION_COOKIE, issued.token, SESSION_AGE)
    clear_cookie(request, done, PENDING_COOKIE)
    return done


@router.post("/logout", dependencies=[CheckedForm])
def logout(request: Request, op: ConsoleCaller) -> Response:
    auth.revoke_session(op.ctx, op.id, op.session.id, kind=OPERATOR)
    done = _back("/console/login")
    clear_cookie(request, done, SESSION_COOKIE)
    return done


@router.get("/lang/{code}")
def choose_language(code: str, next: str = "/console") -> Response:
    back = next if next.startswith("/") and not next.startswith("//") else "/console"
    done = _back(back)
    if code in LANGUAGES:
        done.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return done


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
    return _page(
        request,
        op,
        "dashboard.html",
        by_status=by_status,
        breaches=len(workflow.breaches(ctx)),
        alerts=alerts,
        approvals=len(waiting),
    )


@router.get("/alerts")
def alert_queue(request: Request, op: ConsoleCaller, source: str | None = None) -> Response:
    alerts, _ = workflow.list_alerts(op.ctx, source=source or None)
    return _page(request, op, "alerts.html", alerts=alerts, source=source)


@router.get("/cases")
def case_queue(request: Request, op: ConsoleCaller, status: str | None = None) -> Response:
    chosen = [status] if status else ["open", "investigating", "escalated"]
    cases, _ = workflow.list_cases(op.ctx, status=chosen)
    now = op.ctx.now()
    return _page(request, op, "cases.html", cases=cases, shown=status, now=now)


@router.get("/cases/{case_id}")
def case_page(request: Request, op: ConsoleCaller, case_id: str) -> Response:
    seen = workflow.view(op.ctx, case_id)
    drawn = [(a, pictures.draw(a.path)) for a in seen.alerts]
    return _page(request, op, "case.html", view=seen, drawn=drawn, now=op.ctx.now())


@router.get("/approvals")
def approval_queue(request: Request, op: ConsoleCaller) -> Response:
    waiting, _ = operators.list_approvals(op.ctx)
    return _page(request, op, "approvals.html", approvals=waiting)


@router.get("/reports")
def report_list(request: Request, op: ConsoleCaller) -> Response:
    found = reports.latest(op.ctx, limit=50)
    return _page(request, op, "reports.html", reports=found)


@router.get("/reports/{report_id}/file.{kind}")
def report_file(op: ConsoleCaller, report_id: str, kind: str) -> Response:
    made = reports.files_of(op.ctx, reports.get(op.ctx, report_id))
    data, media = (made.json, "application/json") if kind == "json" else (made.csv, "text/csv")
    name = f"{report_id}.{'json' if kind == 'json' else 'csv'}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(data, media_type=media, headers=headers)


# -- actions: each a POST, answered with a redirect ---------------------------------------
@router.post("/cases/{case_id}/investigate", dependencies=[CheckedForm])
def take_up(op: ConsoleCaller, case_id: str) -> Response:
    case = workflow.view(op.ctx, case_id).case
    if case.assignee != op.id:
        workflow.assign(op.ctx, case_id, op.id)
    workflow.investigate(op.ctx, case_id)
    return _back(f"/console/cases/{case_id}")


@router.post("/cases/{case_id}/note", dependencies=[CheckedForm])
def note(op: ConsoleCaller, case_id: str, body: Text) -> Response:
    workflow.add_note(op.ctx, case_id, body)
    return _back(f"/console/cases/{case_id}")


@router.post("/cases/{case_id}/escalate", dependencies=[CheckedForm])
def escalate(op: ConsoleCaller, case_id: str, reason: Text) -> Response:
    workflow.escalate(op.ctx, case_id, reason)
    return _back(f"/console/cases/{case_id}")


@router.post("/cases/{case_id}/send-back", dependencies=[CheckedForm])
def send_back(op: ConsoleCaller, case_id: str, reason: Text) -> Response:
    workflow.send_back(op.ctx, case_id, reason)
    return _back(f"/console/cases/{case_id}")


@router.post("/cases/{case_id}/close", dependencies=[CheckedForm])
def close(op: ConsoleCaller, case_id: str, disposition: Text, reason: Text) -> Response:
    workflow.close(op.ctx, case_id, disposition, reason)
    return _back(f"/console/cases/{case_id}")


@router.post("/cases/{case_id}/freeze", dependencies=[CheckedForm])
def freeze(op: ConsoleCaller, case_id: str, reason: Text) -> Response:
    actions.request_freeze(op.ctx, case_id, reason)
    return _back(f"/console/cases/{case_id}")


@router.post("/cases/{case_id}/unfreeze", dependencies=[CheckedForm])
def unfreeze(op: ConsoleCaller, case_id: str, reason: Text) -> Response:
    actions.request_unfreeze(op.ctx, case_id, reason)
    return _back(f"/console/cases/{case_id}")


@router.post("/cases/{case_id}/hold", dependencies=[CheckedForm])
def hold(op: ConsoleCaller, case_id: str, amount: Text, currency: Text, reason: Text) -> Response:
    actions.hold_funds(op.ctx, case_id, Money.parse(amount, currency), reason)
    return _back(f"/console/cases/{case_id}")


@router.post("/cases/{case_id}/holds/{hold_id}/release", dependencies=[CheckedForm])
def release(op: ConsoleCaller, case_id: str, hold_id: str) -> Response:
    actions.release_hold(op.ctx, case_id, hold_id)
    return _back(f"/console/cases/{case_id}")


@router.post("/cases/{case_id}/str", dependencies=[CheckedForm])
def draft_str(op: ConsoleCaller, case_id: str, narrative: Text) -> Response:
    drafted = suspicious.draft(op.ctx, case_id, narrative)
    suspicious.request_filing(op.ctx, drafted.id)
    return _back(f"/console/cases/{case_id}")


@router.post("/approvals/{approval_id}/approve", dependencies=[CheckedForm])
def approve(op: ConsoleCaller, approval_id: str) -> Response:
    operators.approve(op.ctx, approval_id)
    return _back("/console/approvals")


@router.post("/approvals/{approval_id}/reject", dependencies=[CheckedForm])
def reject(op: ConsoleCaller, approval_id: str, reason: Text) -> Response:
    operators.reject(op.ctx, approval_id, reason)
    return _back("/console/approvals")
