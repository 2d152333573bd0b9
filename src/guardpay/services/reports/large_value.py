"""Large-value transaction reports from what the platform recorded (domain/reports/
large_value.py): a profile's report for one local day, filed with its files' hashes in
the audit log, by the daily `large_value_report` job and on demand (`guardpay report
large-value --date D`).

The platform's movements are the AML graph's (storage/aml.py): succeeded payments and
bank-card fundings. Each is a leg of each customer it touches: the payer's money out,
the payee's money in (a card is outside the platform: not a customer). A merchant
(`mer_...`) is a non-individual customer, a user an individual; the platform has no cash
channel and moves money within one country, so its legs are domestic transfers (the
profiles' cash and cross-border rules apply to legs that say so).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from guardpay.domain.aml.frame import OUTSIDE
from guardpay.domain.auth.roles import Role
from guardpay.domain.money import Money
from guardpay.domain.reports import large_value as rules
from guardpay.domain.reports.large_value import PROFILES, Leg, Profile, Row
from guardpay.errors import InvalidRequest
from guardpay.services.platform import audit
from guardpay.services.platform.access import require_role
from guardpay.services.platform.context import Context
from guardpay.services.platform.ids import timed_id
from guardpay.services.reports import files, identities
from guardpay.storage.reports import ReportRecord

KIND = "large_value"
COLUMNS = [
    "date",
    "customer",
    "customer_kind",
    "category",
    "direction",
    "trigger",
    "transaction_id",
    "at",
    "amount",
    "amount_major",
    "currency",
    "counterparty",
    "day_total",
]


def profile_named(name: str) -> Profile:
    try:
        return PROFILES[name.lower()]
    except KeyError:
        names = ", ".join(sorted(PROFILES))
        raise InvalidRequest(
            f"unknown report profile; use one of {names}", code="invalid_profile", param="profile"
        ) from None


def legs(ctx: Context, profile: Profile, day: date) -> list[Leg]:
    """Every customer's leg of the movements of `day` (the profile's local day)."""
    start = datetime.combine(day, time(), ZoneInfo(profile.timezone))
    end = datetime.combine(day + timedelta(days=1), time(), ZoneInfo(profile.timezone))
    moved = ctx.uow.aml.movements(start.astimezone(UTC), end.astimezone(UTC), profile.currency)
    found = []
    for tx_id, source, target, amount, at, _ in moved:
        for customer, direction, other in ((source, rules.OUT, target), (target, rules.IN, source)):
            if customer.startswith(OUTSIDE):
                continue
            kind = rules.NON_INDIVIDUAL if customer.startswith("mer_") else rules.INDIVIDUAL
            found.append(
                Leg(
                    tx_id,
                    customer,
                    kind,
                    direction,
                    rules.TRANSFER,
                    amount,
                    profile.currency,
                    at,
                    other,
                )
            )
    return found


def file(ctx: Context, profile: Profile, day: date) -> ReportRecord:
    """The day's report, recorded as filed, with an audit entry naming its hashes. Filed
    again for a day, it is a new record (a correction); the earlier ones stay."""
    rows = rules.reportable(profile, legs(ctx, profile, day), day)
    content = {
        "kind": KIND,
        "profile": profile.name,
        "currency": profile.currency,
        "date": day.isoformat(),
        "thresholds": profile.thresholds,
        "inclusive": profile.inclusive,
        "columns": COLUMNS,
        "identity_columns": {"customer": "customer"},
        "rows": [_row(r, profile) for r in rows],
    }
    stored = files.canonical(content)
    now = ctx.now()
    report_id = timed_id("rpt", now)
    identities.keep(ctx, report_id, (r.leg.customer for r in rows))
    made = identities.files(ctx, report_id, stored)
    record = ReportRecord(
        id=report_id,
        kind=KIND,
        subject=f"{profile.name}:{day.isoformat()}",
        status="filed",
        rows=len(rows),
        content=stored,
        sha256_csv=files.sha256(made.csv),
        sha256_json=files.sha256(made.json),
        created_by=ctx.actor.label,
        created_at=now,
        filed_by=ctx.actor.label,
        filed_at=now,
    )
    ctx.uow.reports.add(record)
    details = {
        "profile": profile.name,
        "date": day.isoformat(),
        "rows": len(rows),
        "sha256_csv": record.sha256_csv,
        "sha256_json": record.sha256_json,
    }
    ctx.audit("report.large_value_filed", subject=record.id, details=details)
    return record


def file_on_demand(ctx: Context, profile: str, day: date) -> ReportRecord:
    """An operator's filing (an analyst or above), beside the job's; only of a day that
    is over (a partial day's report would be wrong, and stop the job filing the day)."""
    require_role(ctx, Role.ANALYST)
    chosen = profile_named(profile)
    if day >= chosen.local_day(ctx.now()):
        raise InvalidRequest(
            "that day is not over yet in the profile's time zone", code="day_not_over", param="date"
        )
    return file(ctx, chosen, day)


def due_day(ctx: Context, profile: Profile) -> date:
    """The latest day whose report is due: the day before the one on which the review
    window (GUARDPAY_RISK_REVIEW_HOURS) that began at its end ends, so a payment held for
    review that day has succeeded or failed by then."""
    settled = ctx.now() - timedelta(hours=ctx.settings.risk_review_hours)
    return profile.local_day(settled) - timedelta(days=1)


def file_due(ctx: Context) -> int:
    """The job: each profile's due day (`due_day`), unless it was filed already (checked
    under the audit head's lock, so two schedulers never file a day twice); a profile
    other than `cn` only on a day its currency moved. How many it filed."""
    audit.hold_head(ctx.uow)
    filed = 0
    for profile in PROFILES.values():
        day = due_day(ctx, profile)
        if ctx.uow.reports.of_subject(KIND, f"{profile.name}:{day.isoformat()}"):
            continue
        if not legs(ctx, profile, day) and profile is not rules.CN:
            continue  # a currency the platform did not move that day: nothing to say
        file(ctx, profile, day)
        filed += 1
    return filed


def _row(r: Row, profile: Profile) -> dict[str, Any]:
    leg = r.leg
    local = leg.at.astimezone(ZoneInfo(profile.timezone))
    return {
        "date": r.day.isoformat(),
        "customer": leg.customer,
        "customer_kind": leg.customer_kind,
        "category": leg.category,
        "direction": leg.direction,
        "trigger": r.trigger,
        "transaction_id": leg.transaction_id,
        "at": local.isoformat(),
        "amount": leg.amount,
        "amount_major": Money(leg.amount, leg.currency).to_decimal_string(),
        "currency": leg.currency,
        "counterparty": leg.counterparty,
        "day_total": r.day_total,
    }
