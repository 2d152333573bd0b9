"""Graph features per account, for the AML model (services/aml/model.py).

A scenario fires on a whole shape: eight payers in a day *and* the money gone within
three. Laundering that is a little off the shape (seven payers, or money gone in four
days) slips past every threshold, though each part of the shape is still there. These
features are those parts, measured whatever their size, so a model trained on labelled
cases can weigh them together: the degrees in and out, counterparties new in the window,
how many were dealt with once only or both ways, the share of what came in that went out
and how soon, round amounts and amounts just below a reporting threshold, cash in and
out through cards, the longest silence before a movement, the accounts sharing a payer's
device, and whether the account sits on a cycle the scenarios found.

Activity is measured over the last `window_days` before `end` (the newest movement the
scan holds); what needs history (new counterparties, the silence before a movement, a
device's accounts) reads everything the scan was given. One row per account that moved
money in the window; card nodes (frame.OUTSIDE) get none. Amounts are summed as integers
in the engine; every feature comes out a float (a model's input, not money).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
from ibis import _

from guardpay.domain.aml.frame import OUTSIDE, Params, is_round, sides
from guardpay.domain.aml.scenarios.accounts import just_below

#: the feature columns, in the order a model reads them
FEATURES: tuple[str, ...] = (
    "payers",
    "payees",
    "moves_in",
    "moves_out",
    "amount_in",
    "amount_out",
    "pass_through",
    "pass_hours",
    "one_off_share",
    "both_ways_share",
    "new_counterparties",
    "new_share",
    "round_share",
    "near_threshold_share",
    "card_in_share",
    "card_out_share",
    "active_hours",
    "longest_gap_days",
    "device_accounts",
    "in_cycle",
)
_NONE = ibis.null().cast("float64")
#: how far back from the newest movement the activity features look
WINDOW_DAYS = 30


def features(
    tx: ir.Table,
    p: Params,
    end: datetime,
    cycles: ir.Table | None = None,
    window_days: int = WINDOW_DAYS,
    devices: bool = True,
) -> ir.Table:
    """`account`, its `transactions`, `first_seen` and `last_seen` in the window, and
    every one of FEATURES (float64; null where undefined, such as the pass-through of an
    account nothing came into). `cycles`: the accounts the cycle
    scenario found (an `account` column), if it ran."""
    start = end - timedelta(days=window_days)
    both = sides(tx)
    ends = both.filter(~both.account.startswith(OUTSIDE))
    recent = ends.filter(ends.at >= start)
    rows = _activity(recent, p)
    for part in (
        _passing(recent),
        _pairs(ends, start),
        _silence(ends, start),
        _devices(tx) if devices else None,
        _cycling(cycles),
    ):
        if part is not None:
            rows = rows.left_join(part, "account").drop("account_right")
    return _finish(rows)


def _activity(recent: ir.Table, p: Params) -> ir.Table:
    """Counts and sums in and out over the window."""
    out, into = recent.outgoing, ~recent.outgoing
    card = recent.other.startswith(OUTSIDE)
    return recent.group_by("account").aggregate(
        moves_out=out.cast("int64").sum(),
        moves_in=into.cast("int64").sum(),
        amount_out=recent.amount.sum(where=out).fill_null(0),
        amount_in=recent.amount.sum(where=into).fill_null(0),
        card_out=recent.amount.sum(where=out & card).fill_null(0),
        card_in=recent.amount.sum(where=into & card).fill_null(0),
        round_moves=is_round(recent.amount, p).cast("int64").sum(),
        near_moves=just_below(recent.amount, p).cast("int64").sum(),
        first_at=recent.at.min(),
        last_at=recent.at.max(),
    )


def _passing(recent: ir.Table) -> ir.Table:
    """How soon money first left after it first came in (the first outflow at or after
    the first inflow)."""
    into = recent.filter(~recent.outgoing)
    firsts = into.group_by("account").aggregate(first_in=into.at.min())
    outs = recent.filter(recent.outgoing).join(firsts, "account")
    outs = outs.filter(outs.at >= outs.first_in)
    return outs.group_by("account").aggregate(
        pass_seconds=(outs.at.epoch_seconds() - outs.first_in.epoch_seconds()).min()
    )


def _pairs(ends: ir.Table, start: datetime) -> ir.Table:
    """Payers and payees (distinct), counterparties dealt with once only and both ways
    (paid and paid by) in the window, and those first dealt with in it, against all the
    scan's history: one pass over every pair."""
    recent = ends.at >= start
    pairs = ends.group_by(["account", "other"]).aggregate(
        first=ends.at.min(),
        moves=recent.cast("int64").sum(),
        outs=(recent & ends.outgoing).cast("int64").sum(),
    )
    pairs = pairs.filter(pairs.moves > 0)
    paid, paid_by = pairs.outs > 0, pairs.outs < pairs.moves
    return pairs.group_by("account").aggregate(
        counterparties=pairs.count(),
        payees=paid.cast("int64").sum(),
        payers=paid_by.cast("int64").sum(),
        one_off=(pairs.moves == 1).cast("int64").sum(),
        both_ways=(paid & paid_by).cast("int64").sum(),
        new_counterparties=(pairs.first >= start).cast("int64").sum(),
    )


def _silence(ends: ir.Table, start: datetime) -> ir.Table:
    """The longest time without a movement that ended in the window (a sleeper waking
    up), measured back into the history before it."""
    seconds = ends.at.epoch_seconds()
    order = ibis.window(group_by=ends.account, order_by=seconds)
    gaps = ends.mutate(gap=seconds - seconds.lag().over(order))
    gaps = gaps.filter(gaps.at >= start)
    return gaps.group_by("account").aggregate(longest_gap=gaps.gap.max())


def _devices(tx: ir.Table) -> ir.Table:
    """The most accounts that paid from any one device this account paid from."""
    used = tx.filter(tx.device.notnull())
    sizes = used.group_by("device").aggregate(sharing=used.source.nunique())
    mine = used.select(account=used.source, device=used.device).distinct()
    joined = mine.join(sizes, "device")
    return joined.group_by("account").aggregate(device_accounts=joined.sharing.max())


def _cycling(cycles: ir.Table | None) -> ir.Table | None:
    if cycles is None:
        return None
    return cycles.select("account").distinct().mutate(on_cycle=ibis.literal(1))


def _finish(rows: ir.Table) -> ir.Table:
    """The feature columns, as floats, in FEATURES order."""
    moves = (_.moves_in + _.moves_out).cast("float64")
    counterparties = _.counterparties.cast("float64")
    amount_in = _.amount_in.cast("float64")
    amount_out = _.amount_out.cast("float64")
    on_cycle, shared = _NONE, _NONE
    if "on_cycle" in rows.columns:
        on_cycle = _.on_cycle.cast("float64").fill_null(0.0)
    if "device_accounts" in rows.columns:
        shared = _.device_accounts.cast("float64").fill_null(0.0)
    return rows.select(
        account=_.account,
        transactions=_.moves_in + _.moves_out,
        first_seen=_.first_at,
        last_seen=_.last_at,
        payers=_.payers.cast("float64"),
        payees=_.payees.cast("float64"),
        moves_in=_.moves_in.cast("float64"),
        moves_out=_.moves_out.cast("float64"),
        amount_in=amount_in,
        amount_out=amount_out,
        pass_through=ibis.ifelse(_.amount_in > 0, amount_out / amount_in, _NONE),
        pass_hours=_.pass_seconds.cast("float64") / 3_600,
        one_off_share=_.one_off.cast("float64") / counterparties,
        both_ways_share=_.both_ways.cast("float64") / counterparties,
        new_counterparties=_.new_counterparties.cast("float64"),
        new_share=_.new_counterparties.cast("float64") / counterparties,
        round_share=_.round_moves.cast("float64") / moves,
        near_threshold_share=_.near_moves.cast("float64") / moves,
        card_in_share=ibis.ifelse(_.amount_in > 0, _.card_in.cast("float64") / amount_in, _NONE),
        card_out_share=ibis.ifelse(
            _.amount_out > 0, _.card_out.cast("float64") / amount_out, _NONE
        ),
        active_hours=(_.last_at.epoch_seconds() - _.first_at.epoch_seconds()).cast("float64")
        / 3_600,
        longest_gap_days=_.longest_gap.cast("float64") / 86_400,
        device_accounts=shared,
        in_cycle=on_cycle,
    ).order_by("account")
