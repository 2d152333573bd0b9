"""Scenarios over paths through the transaction graph: money that goes round and comes
back to where it started (a cycle), the oldest way to make dirty money look like a
string of ordinary payments.

A cycle is searched hop by hop, never as one big self-join: a frontier of open paths is
joined with the edges that may continue each one, and only what still can close stays in
the frontier. What keeps it small on ten million transactions is what makes a cycle a
cycle: every hop later than the last, within a few days of the first, and a little
smaller than the last (the launderers' fees), through accounts not yet on the path.
Because the hops are in time order, a cycle is found once, from its earliest transfer.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from guardpay.domain.aml.findings import finding, said
from guardpay.domain.aml.frame import OUTSIDE, Params
from guardpay.domain.aml.registry import Scenario


def cycle(tx: ir.Table, p: Params) -> ir.Table:
    """Money that comes back to its origin through 2 to `cycle_hops` hops within days.

    Each hop is later than the one before, at least `cycle_min_amount`, and keeps
    `cycle_keep_bp` or more of the hop before but never all of it: a loan repaid in full
    (the same amount back) stays quiet, and so does everyday small change. Every account
    on the cycle is flagged, its origin (who got the money back) highest."""
    members = _members(_closed(_edges(tx, p), p))
    best = _strongest(members)
    hours = (best.end_at.epoch_seconds() - best.start_at.epoch_seconds()) // 3_600
    return finding(
        best,
        "cycle",
        account=best.account,
        score=best.score,
        transactions=best.transactions,
        first_seen=best.first_seen,
        last_seen=best.last_seen,
        evidence=said(
            ("hops", best.hops),
            ("start", best.start_amount),
            ("end", best.end_amount),
            ("hours", hours),
            ("cycles", best.cycles),
        ),
    )


def _edges(tx: ir.Table, p: Params) -> ir.Table:
    """The transfers a cycle may use: large enough, between two accounts of the platform
    that may lie on a cycle (`_on_cycles`). Money out to a card and back in from it is a
    round trip through the bank, not a ring of accounts: outside nodes are left out."""
    inside = ~tx.source.startswith(OUTSIDE) & ~tx.target.startswith(OUTSIDE)
    big = tx.filter((tx.amount >= p.cycle_min_amount) & (tx.source != tx.target) & inside)
    big = big.select("source", "target", "amount", "at")
    able = _on_cycles(big, p)
    payers, payees = able.view(), able.view()
    big = big.semi_join(payers, big.source == payers.account)
    return big.semi_join(payees, big.target == payees.account)


def _on_cycles(edges: ir.Table, p: Params) -> ir.Table:
    """The accounts that both pay and are paid (no cycle passes through a dead end) and
    have at most `cycle_max_counterparties`: a hub (a merchant, a payment company) joins
    every pair of its customers into a path, which would swamp the frontier, and its
    fees or settlements are not laundering."""
    sides = ibis.union(
        edges.select(account=edges.source, other=edges.target, pays=1, paid=0),
        edges.select(account=edges.target, other=edges.source, pays=0, paid=1),
        distinct=False,
    )
    pairs = sides.group_by(["account", "other"]).aggregate(
        pays=sides.pays.max(), paid=sides.paid.max()
    )
    ends = pairs.group_by("account").aggregate(
        counterparties=pairs.count(), pays=pairs.pays.max(), paid=pairs.paid.max()
    )
    able = ends.filter(
        (ends.pays == 1) & (ends.paid == 1) & (ends.counterparties <= p.cycle_max_counterparties)
    )
    return able.select("account")


def _closed(edges: ir.Table, p: Params) -> list[ir.Table]:
    """The cycles of each length, one table per length: the path's columns, its accounts
    `v1`... (the origin's not among them) and `hops`."""
    frontier = edges.select(
        origin=edges.source,
        node=edges.target,
        start_at=edges.at,
        last_at=edges.at,
        start_amount=edges.amount,
        last_amount=edges.amount,
        v1=edges.target,
    )
    closed: list[ir.Table] = []
    for hop in range(2, p.cycle_hops + 1):
        step = _step(frontier, edges, hop, p)
        closed.append(step.filter(step.node == step.origin).mutate(hops=ibis.literal(hop)))
        if hop < p.cycle_hops:
            frontier = step.filter(step.node != step.origin).mutate(**{f"v{hop}": step.node})
    return closed


def _step(frontier: ir.Table, edges: ir.Table, hop: int, p: Params) -> ir.Table:
    """Each open path extended by one hop: a later transfer out of its last account,
    still within the window, a little smaller, and to an account not yet on the path."""
    window = ibis.interval(hours=24 * p.cycle_days)
    joined = frontier.join(
        edges,
        [
            frontier.node == edges.source,
            edges.at > frontier.last_at,
            edges.at <= frontier.start_at + window,
            edges.amount < frontier.last_amount,
            edges.amount * 10_000 >= frontier.last_amount * p.cycle_keep_bp,
        ],
    )
    visited = [f"v{i}" for i in range(1, hop)]
    fresh: ir.BooleanValue = ibis.literal(True)
    for name in visited:
        fresh = fresh & (joined.target != joined[name])
    joined = joined.filter(fresh)
    return joined.select(
        origin=joined.origin,
        node=joined.target,
        start_at=joined.start_at,
        last_at=joined.at,
        start_amount=joined.start_amount,
        last_amount=joined.amount,
        **{name: joined[name] for name in visited},
    )


def _members(closed: list[ir.Table]) -> ir.Table:
    """One row per account per cycle: the origin scores higher than those it went
    through, and a longer cycle (more layering) higher than a short one. Scores are
    whole basis points divided once, so every engine rounds them alike."""
    rows: list[ir.Table] = []
    for cycles in closed:
        hops = cycles.hops
        rows.append(_member(cycles, cycles.origin, (7_500 + 400 * hops) / 10_000))
        for name in (c for c in cycles.columns if c.startswith("v")):
            rows.append(_member(cycles, cycles[name], (5_000 + 400 * hops) / 10_000))
    return ibis.union(*rows, distinct=False) if len(rows) > 1 else rows[0]


def _member(cycles: ir.Table, account: ir.Value, score: ir.FloatingValue) -> ir.Table:
    return cycles.select(
        account=account,
        score=score,
        hops=cycles.hops,
        start_at=cycles.start_at,
        end_at=cycles.last_at,
        start_amount=cycles.start_amount,
        end_amount=cycles.last_amount,
    )


def _strongest(members: ir.Table) -> ir.Table:
    """Each account's best cycle (the evidence names one whole cycle, not a blend), with
    how many it was on and when the first began and the last closed. The order is total
    on what the evidence shows, so every engine picks the same words."""
    mine = ibis.window(group_by=members.account)
    ranked = ibis.window(
        group_by=members.account,
        order_by=[
            ibis.desc(members.score),
            members.start_at,
            members.end_at,
            ibis.desc(members.start_amount),
            ibis.desc(members.end_amount),
        ],
    )
    ranked_members = members.mutate(
        rank=ibis.row_number().over(ranked),
        cycles=members.hops.count().over(mine),
        transactions=members.hops.sum().over(mine),
        first_seen=members.start_at.min().over(mine),
        last_seen=members.end_at.max().over(mine),
    )
    return ranked_members.filter(ranked_members.rank == 0)


SCENARIOS = (Scenario("cycle", cycle),)
