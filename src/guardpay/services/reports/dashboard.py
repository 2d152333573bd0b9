"""What the console's dashboard shows, read in one unit of work: the last hour's payments
per minute and their success rate, the last day's risk decisions by outcome and the
money they stopped, the last week's alerts raised and cases closed, how long risk
control takes to decide, and whether the reserve reconciles now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import quantiles

from guardpay.domain.auth.roles import Role
from guardpay.services.ledger import reconcile
from guardpay.services.platform.access import require_role
from guardpay.services.platform.context import Context
from guardpay.services.risk.engine import engine_of

MINUTES = 60
SUCCEEDED, FAILED = "succeeded", "failed"


@dataclass(frozen=True)
class Traffic:
    """What the charts draw: cheap enough to read at every redraw."""

    minutes: list[datetime]  # the last hour, a minute each, oldest first
    succeeded: list[int]  # payments that succeeded in each minute
    failed: list[int]  # ... and that failed
    decisions: dict[str, int]  # the last day's, by action
    stopped: int  # the last day's denied amount (CNY minor units)

    @property
    def success_rate(self) -> float | None:
        """Of the hour's finished payments; None: none finished."""
        done = sum(self.succeeded) + sum(self.failed)
        return None if done == 0 else sum(self.succeeded) / done


@dataclass(frozen=True)
class Dashboard(Traffic):
    alerts_raised: int  # the last week's
    cases_closed: int
    risk_p50_ms: float | None  # this process's newest decisions
    risk_p99_ms: float | None
    reconciled: bool


def traffic(ctx: Context) -> Traffic:
    require_role(ctx, Role.VIEWER)
    now = ctx.now()
    top = now.replace(second=0, microsecond=0)
    start = top - timedelta(minutes=MINUTES - 1)
    counts = {(m, s): n for m, s, n in ctx.uow.payments.per_minute(start)}
    minutes = [start + timedelta(minutes=i) for i in range(MINUTES)]
    keys = [int(m.timestamp()) // 60 for m in minutes]
    actions = ctx.uow.risk.actions_since(now - timedelta(days=1))
    return Traffic(
        minutes,
        [counts.get((k, SUCCEEDED), 0) for k in keys],
        [counts.get((k, FAILED), 0) for k in keys],
        {action: n for action, (n, _) in sorted(actions.items())},
        actions.get("deny", (0, 0))[1],
    )


def snapshot(ctx: Context) -> Dashboard:
    """`traffic`, and what only the page shows: the week's alerts and closures, the
    decision time, and the reserve reconciled (a pass over the account totals)."""
    seen = traffic(ctx)
    raised, closed = ctx.uow.cases.opened_and_closed(ctx.now() - timedelta(days=7))
    p50, p99 = _latency(list(engine_of(ctx).latencies))
    return Dashboard(
        **seen.__dict__,
        alerts_raised=raised,
        cases_closed=closed,
        risk_p50_ms=p50,
        risk_p99_ms=p99,
        reconciled=reconcile.reserve(ctx.uow).ok,
    )


def _latency(seconds: list[float]) -> tuple[float | None, float | None]:
    if len(seconds) < 2:
        return (seconds[0] * 1000, seconds[0] * 1000) if seconds else (None, None)
    cuts = quantiles(seconds, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000
