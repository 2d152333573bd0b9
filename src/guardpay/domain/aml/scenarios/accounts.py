"""Scenarios over one account's own history: structuring just below a reporting
threshold, and a dormant account that wakes up to move large sums."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from guardpay.domain.aml.findings import finding, said
from guardpay.domain.aml.frame import Params, first_per_account, legs
from guardpay.domain.aml.registry import Scenario


def structuring(tx: ir.Table, p: Params) -> ir.Table:
    """Several payments just below a reporting threshold within days, in or out.

    Each movement counts for both its payer and its payee, and the days are a sliding
    window (a run of them is not split at a calendar boundary). A rent paid once a month
    just under the threshold stays quiet: it takes `structuring_count` within
    `structuring_days`, and at least half of what the account moved in that window."""
    span = 86_400 * p.structuring_days
    legs = _legs(tx)
    legs = legs.mutate(secs=legs.at.epoch_seconds())
    near = legs.filter(just_below(legs.amount, p))
    window = ibis.window(group_by=near.account, order_by=near.secs, range=(-span, 0))
    near = near.mutate(
        in_window=near.count().over(window),
        window_amount=near.amount.sum().over(window),
        window_first=near.at.min().over(window),
    )
    bursts = near.filter(near.in_window >= p.structuring_count)
    # the busiest window, taken whole (the latest of equals), so every engine keeps one
    order = [ibis.desc(bursts.in_window), ibis.desc(bursts.secs), ibis.desc(bursts.amount)]
    top = first_per_account(bursts, *order)
    best = top.select(
        account=top.account,
        near_count=top.in_window,
        near_amount=top.window_amount,
        end=top.secs,
        first_seen=top.window_first,
        last_seen=top.at,
    )
    hits = _most_of_what_moved(legs, best, span)
    return finding(
        hits,
        "structuring",
        account=hits.account,
        score=0.5 + 0.1 * hits.near_count,
        transactions=hits.near_count,
        first_seen=hits.first_seen,
        last_seen=hits.last_seen,
        evidence=said(
            ("payments_just_below", hits.near_count),
            ("amount", hits.near_amount),
            ("moves_in_window", hits.moves),
        ),
    )


def _most_of_what_moved(legs: ir.Table, best: ir.Table, span: int) -> ir.Table:
    """`best` windows where the payments just below are at least half of all the
    account's movements in that window."""
    joined = legs.join(best, "account")
    inside = joined.filter((joined.secs >= joined.end - span) & (joined.secs <= joined.end))
    moves = inside.group_by("account").aggregate(moves=inside.count())
    hits = best.join(moves, "account")
    return hits.filter(hits.near_count * 2 >= hits.moves)


def dormant_reactivation(tx: ir.Table, p: Params) -> ir.Table:
    """A long-silent account that wakes up to move large sums within days.

    Silence is measured between an account's own movements, in or out, so an account
    first seen in the scan is never "dormant" (nothing says it was silent before). One
    that comes back after a long absence and spends a little stays quiet: it takes
    `reactivated_amount` moved within `reactivated_days` of waking."""
    wakes = _wakes(_sleepers(_legs(tx), p), p)
    per_account = wakes.group_by("account").aggregate(
        idle_days=wakes.idle_days.max(),
        moved=wakes.moved.max(),
        moves=wakes.moves.sum(),
        first_seen=wakes.woke.min(),
        last_seen=wakes.last.max(),
    )
    return finding(
        per_account,
        "dormant_reactivation",
        account=per_account.account,
        score=_woken_score(per_account.moved, p),
        transactions=per_account.moves,
        first_seen=per_account.first_seen,
        last_seen=per_account.last_seen,
        evidence=said(
            ("idle_days", per_account.idle_days),
            ("moved", per_account.moved),
            ("within_days", ibis.literal(p.reactivated_days)),
        ),
    )


def _woken_score(moved: ir.IntegerValue, p: Params) -> ir.FloatingValue:
    """0.5 at `reactivated_amount`, one tenth more for each further multiple of it: one
    division of whole numbers, so every engine rounds it alike."""
    return (4 * p.reactivated_amount + moved) / (10 * p.reactivated_amount)


def _sleepers(legs: ir.Table, p: Params) -> ir.Table:
    """The movements of the accounts that could have woken: their history spans the
    dormancy and they moved the amount at all. Ordering every account's history is the
    costly part, and most accounts are neither."""
    spans = legs.group_by("account").aggregate(
        first=legs.at.min(), last=legs.at.max(), total=legs.amount.sum()
    )
    spans = spans.filter(
        (spans.last.epoch_seconds() - spans.first.epoch_seconds() >= 86_400 * p.dormant_days)
        & (spans.total >= p.reactivated_amount)
    )
    return legs.semi_join(spans, legs.account == spans.account)


def _wakes(legs: ir.Table, p: Params) -> ir.Table:
    """Each waking that moved at least `reactivated_amount` within `reactivated_days`.

    The gap comes from the movement before (a lag over the account's history; tied
    times give a gap of zero, whichever comes first). What moved after is joined back on
    a time range rather than a window frame over time, which the engines bound
    differently; wakings are few, so the join is small."""
    history = ibis.window(group_by=legs.account, order_by=legs.at)
    gaps = legs.mutate(idle=legs.at.epoch_seconds() - legs.at.lag().over(history).epoch_seconds())
    woke = gaps.filter(gaps.idle >= 86_400 * p.dormant_days)
    woke = woke.select(sleeper=woke.account, woke=woke.at, idle_days=woke.idle // 86_400)
    after = woke.join(
        legs,
        [
            woke.sleeper == legs.account,
            legs.at >= woke.woke,
            legs.at < woke.woke + ibis.interval(hours=24 * p.reactivated_days),
        ],
    )
    moved = after.group_by(["sleeper", "woke", "idle_days"]).aggregate(
        moved=after.amount.sum(), moves=after.count(), last=after.at.max()
    )
    moved = moved.filter(moved.moved >= p.reactivated_amount)
    return moved.rename(account="sleeper")


def just_below(amount: ir.IntegerValue, p: Params) -> ir.BooleanValue:
    """Whether `amount` lies within `near_bp` below one of the reporting thresholds."""
    near: ir.BooleanValue = ibis.literal(False)
    for threshold in p.thresholds:
        floor = threshold - threshold * p.near_bp // 10_000
        near = near | ((amount >= floor) & (amount < threshold))
    return near


def _legs(tx: ir.Table) -> ir.Table:
    """Each movement twice: once as its payer's, once as its payee's."""
    both = legs(tx)
    return both.select("account", "amount", "at")


SCENARIOS = (
    Scenario("structuring", structuring),
    Scenario("dormant_reactivation", dormant_reactivation),
)
