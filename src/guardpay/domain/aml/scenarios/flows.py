"""Scenarios over how money flows through accounts: many payers into one account and out
again (fan-in), money just received paid out to many (fan-out), a large sum passed
straight on (rapid pass-through), one source through a row of intermediaries to one sink
(scatter-gather), a hub that gathers and scatters (gather-scatter), and a layer of
intermediaries between several sources and several targets (layering).

Counting distinct counterparties over a sliding window does not run on every engine, so a
window is two consecutive half-width cells of a fixed grid, one starting at every half:
a burst shorter than half a window always falls in one, and an account found in several
is reported once, for its strongest. Any window with `n` moves has a half with `n / 2` of
them, so counting moves per half (cheap) picks the few windows worth counting distinct
counterparties in (dear).

Money passes through an account when what went out over a stretch and what had come in
by the last of it match within a share (`pass_bp`), both ways: a shop that settles weeks
of takings at once, or a firm that gets a large payment and pays a few small bills, does
not pass money through. Joins on a time range also join on the account's time bucket, so
no join pairs a busy account's whole history with every window of it.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from guardpay.domain.aml.findings import finding, said
from guardpay.domain.aml.frame import Params, first_per_account
from guardpay.domain.aml.registry import Scenario

_HOUR = 3_600
_BP = 10_000


def fan_in(tx: ir.Table, p: Params) -> ir.Table:
    """Many payers into one account within hours, and most of it out again within days.

    A busy shop stays quiet: its takings stay, or leave in settlements that carry more
    than the days before them brought in."""
    return _fan(tx, p, "fan_in", into=True)


def fan_out(tx: ir.Table, p: Params) -> ir.Table:
    """One account pays many within hours, with money that arrived just before.

    Payroll stays quiet: the salaries come from revenue gathered over the month, not
    from what arrived in the days before payday."""
    return _fan(tx, p, "fan_out", into=False)


def _fan(tx: ir.Table, p: Params, typology: str, *, into: bool) -> ir.Table:
    """Fan-in (`into`: many pay the account, the money leaves after) or fan-out (the
    account pays many, with money that came in before): the same windows, mirrored."""
    side, other = ("target", "source") if into else ("source", "target")
    cells = _cells(tx, side, other, p.fan_hours, p.fan_degree)
    around = ibis.interval(hours=p.pass_hours)
    if into:
        windows = cells.mutate(start=cells.first, end=cells.last + around)
    else:
        windows = cells.mutate(start=cells.first - around, end=cells.last)
    moved = _moved(windows, tx, p.fan_hours + p.pass_hours, ["account", "cell"])
    hits = _passing(moved, p.pass_bp)
    best = first_per_account(hits, ibis.desc("degree"), ibis.desc("passed_bp"), "cell")
    counterparties, flow = ("sources", best.inflow) if into else ("targets", best.outflow)
    return finding(
        best,
        typology,
        account=best.account,
        score=_above(best.degree, p.fan_degree),
        transactions=best.moves,
        first_seen=best.first_move,
        last_seen=best.last_out,
        evidence=said(
            (counterparties, best.degree),
            ("inflow" if into else "outflow", flow),
            ("passed_bp", best.passed_bp),
            ("hours", best.hours),
        ),
    )


def rapid_pass_through(tx: ir.Table, p: Params) -> ir.Table:
    """A large sum comes in and nearly all of it leaves within a day.

    A salary spent over weeks stays quiet, and so does a shop whose many small sales are
    withdrawn daily: no single inflow is large."""
    large = tx.filter(tx.amount >= p.large_amount)
    windows = large.select(
        account=large.target,
        id=large.id,
        large=large.amount,
        start=large.at,
        end=large.at + ibis.interval(hours=p.rapid_hours),
    )
    hits = _passing(_moved(windows, tx, p.rapid_hours, ["id"]), p.rapid_bp)
    hits = hits.mutate(passes=hits.id.count().over(ibis.window(group_by=hits.account)))
    best = first_per_account(hits, ibis.desc("passed_bp"), ibis.desc("large"), "start", "id")
    return finding(
        best,
        "rapid_pass_through",
        account=best.account,
        score=(best.passes + 5).cast("float64") / 10,
        transactions=best.moves,
        first_seen=best.first_move,
        last_seen=best.last_out,
        evidence=said(
            ("large_inflow", best.large),
            ("passed_bp", best.passed_bp),
            ("hours", best.hours),
            ("large_inflows_passed", best.passes),
        ),
    )


def scatter_gather(tx: ir.Table, p: Params) -> ir.Table:
    """One source pays several intermediaries who each pass it on to the same sink.

    Flags the source and the sink, and the intermediaries at the flagging score, below
    the ends (each alone only passed a payment on, but is part of the pattern). Friends
    splitting a bill stay quiet: many pay one, but no one source sent them the money. A
    sink that is the source itself is a cycle (scenarios/paths.py)."""
    hops = _hops(tx.filter(tx.amount >= p.flow_min_amount), p)
    hops = hops.filter((hops.sink != hops.origin) & _balanced(hops.received, hops.sent, p.pass_bp))
    keys = ["origin", "cell", "sink"]
    routes = hops.group_by(keys).aggregate(
        width=hops.count(),
        received=hops.received.sum(),
        sent=hops.sent.sum(),
        moves=hops.moves.sum(),
        first=hops.first.min(),
        last=hops.last.max(),
    )
    routes = routes.filter(routes.width >= p.scatter_width)
    middles = hops.join(routes.select(*keys, "width"), keys)
    score = _above(routes.width, p.scatter_width)
    roles = [
        _route_role(routes, routes.origin, "source", score),
        _route_role(routes, routes.sink, "sink", score),
        _route_role(middles, middles.middle, "intermediary", ibis.literal(0.5)),
    ]
    return _one_role_each(ibis.union(*roles, distinct=False), "scatter_gather")


def gather_scatter(tx: ir.Table, p: Params) -> ir.Table:
    """A hub takes from several payers and pays several others, passing most of it on.

    Payers and payees count in payments of at least `flow_min_amount`; what passed is
    judged on every payment. A shop that pays a few suppliers weekly stays quiet: each
    payment settles more than the days before it brought in."""
    big = tx.filter(tx.amount >= p.flow_min_amount)
    cells = _cells(big, "target", "source", p.scatter_hours, p.scatter_width)
    windows = cells.mutate(
        start=cells.first, end=cells.first + ibis.interval(hours=p.scatter_hours)
    )
    moved = _moved(windows, tx, p.scatter_hours, ["account", "cell"], p.flow_min_amount)
    hits = _passing(moved.filter(moved.payees >= p.scatter_width), p.pass_bp)
    hits = hits.mutate(strength=ibis.least(hits.degree, hits.payees))
    best = first_per_account(hits, ibis.desc("strength"), ibis.desc("passed_bp"), "cell")
    return finding(
        best,
        "gather_scatter",
        account=best.account,
        score=_above(best.strength, p.scatter_width),
        transactions=best.moves,
        first_seen=best.first_move,
        last_seen=best.last_out,
        evidence=said(
            ("sources", best.degree),
            ("targets", best.payees),
            ("inflow", best.inflow),
            ("passed_bp", best.passed_bp),
            ("hours", best.hours),
        ),
    )


def layering(tx: ir.Table, p: Params) -> ir.Table:
    """Several sources each pay the same few intermediaries, who pass it on to several.

    Flags the intermediaries, and the sources with a lower score; follows payments of at
    least `flow_min_amount`. Two people paying the same two utilities stay quiet: a
    utility does not pass their money on within days."""
    big = tx.filter(tx.amount >= p.flow_min_amount)
    edges = _layer_edges(big, p)
    middles = _passing_middles(edges, tx, p)
    edges = _core(edges.join(middles, ["cell", "middle"]), p.layer_width)
    reach = _reach(edges, big, p)
    reach = reach.filter(reach.targets >= p.layer_width)
    edges = _core(edges.join(reach, ["cell", "source"]), p.layer_width)
    roles = [
        _layer_role(edges, "middle", "intermediary", p.layer_width),
        _layer_role(edges, "source", "source", None),
    ]
    return _one_role_each(ibis.union(*roles, distinct=False), "layering")


# -- windows: where counterparties crowd, the money through an account, one per account


def _cells(tx: ir.Table, account: str, other: str, hours: int, degree: int) -> ir.Table:
    """The windows `hours` wide (`cell`: the first of its two halves) in which `account`
    dealt with at least `degree` distinct `other` accounts: `degree`, `first`, `last`."""
    rows = tx.select(
        account=tx[account],
        other=tx[other],
        at=tx.at,
        half=tx.at.epoch_seconds() // (hours * _HOUR // 2),
    )
    among = _in_windows(rows, degree)
    found = among.group_by(["account", "cell"]).aggregate(
        degree=among.other.nunique(), first=among.at.min(), last=among.at.max()
    )
    return found.filter(found.degree >= degree)


def _in_windows(rows: ir.Table, moves: int) -> ir.Table:
    """`rows` (with their `half`) in each window (`cell`) that holds at least `moves` of
    them, or might: one of a window's two halves holds at least half its moves."""
    if moves <= 2:
        return ibis.union(
            rows.mutate(cell=rows.half - 1), rows.mutate(cell=rows.half), distinct=False
        )
    counts = rows.group_by(["account", "half"]).aggregate(moves=rows.count())
    halves = counts.filter(counts.moves * 2 >= moves)
    starts = ibis.union(
        halves.select("account", cell=halves.half - 1),
        halves.select("account", cell=halves.half),
        distinct=True,
    )
    spans = ibis.union(
        starts.mutate(half=starts.cell), starts.mutate(half=starts.cell + 1), distinct=False
    )
    return rows.join(spans, ["account", "half"])


def _during(windows: ir.Table, rows: ir.Table, hours: int) -> ir.Table:
    """`windows` (`account`, `start`, `end`, at most `hours` apart) joined to the `rows`
    of the same `account` with `at` between them: the equality on a bucket `hours` wide
    bounds the pairs a busy account makes."""
    size = hours * _HOUR
    keyed = ibis.union(
        *(windows.mutate(bucket=windows.start.epoch_seconds() // size + i) for i in (0, 1)),
        distinct=False,
    )
    rows = rows.mutate(bucket=rows.at.epoch_seconds() // size)
    joined = keyed.join(
        rows,
        [
            keyed.account == rows.account,
            keyed.bucket == rows.bucket,
            rows.at >= keyed.start,
            rows.at <= keyed.end,
        ],
    )
    return joined.drop("bucket")


def _moved(
    windows: ir.Table, tx: ir.Table, hours: int, keys: list[str], floor: int | None = None
) -> ir.Table:
    """Each window (one per `keys`) with the money its account sent (`outflow`, the last
    at `last_out`; with a `floor`, also to how many `payees` in payments of at least
    that) and received up to `last_out` (`inflow`): what came in after the last payment
    out cannot have funded it. A window with nothing out or in drops out."""
    paying = tx.select(account=tx.source, payee=tx.target, amount=tx.amount, at=tx.at)
    out = _during(windows, paying, hours)
    counted: dict[str, ir.Value] = {}
    if floor is not None:  # counting distinct payees is dear: only where asked
        payee = ibis.ifelse(out.amount >= floor, out.payee, ibis.null("string"))
        counted = {"payees": payee.nunique()}
    sent = out.group_by(keys).aggregate(
        outflow=out.amount.sum(),
        out_moves=out.count(),
        first_out=out.at.min(),
        last_out=out.at.max(),
        **counted,
    )
    sent = windows.join(sent, keys)
    sent = sent.mutate(end=sent.last_out)
    paid = tx.select(account=tx.target, amount=tx.amount, at=tx.at)
    into = _during(sent, paid, hours)
    got = into.group_by(keys).aggregate(
        inflow=into.amount.sum(), in_moves=into.count(), first_in=into.at.min()
    )
    got = sent.join(got, keys)
    return got.mutate(
        moves=got.in_moves + got.out_moves, first_move=ibis.least(got.first_in, got.first_out)
    )


def _passing(moved: ir.Table, bp: int) -> ir.Table:
    """The windows whose money passed through (`_balanced`), with `passed_bp` (the
    smaller of in and out in basis points of the larger) and `hours` it took."""
    hits = moved.filter(_balanced(moved.inflow, moved.outflow, bp))
    took = hits.last_out.epoch_seconds() - hits.first_move.epoch_seconds()
    return hits.mutate(
        passed_bp=_share_bp(hits.inflow, hits.outflow), hours=(took // _HOUR).cast("int64")
    )


def _balanced(inflow: ir.IntegerValue, outflow: ir.IntegerValue, bp: int) -> ir.BooleanValue:
    """Whether in and out are both positive and each at least `bp` of the other: most of
    what came in left, and most of what left had come in."""
    small = ibis.least(inflow, outflow)
    big = ibis.greatest(inflow, outflow)
    return (small > 0) & (small * _BP >= big * bp)


def _share_bp(inflow: ir.IntegerValue, outflow: ir.IntegerValue) -> ir.IntegerValue:
    """The smaller of two positive sums in basis points of the larger."""
    share = ibis.least(inflow, outflow) * _BP // ibis.greatest(inflow, outflow)
    return share.cast("int64")


def _above(count: ir.IntegerValue, floor: int) -> ir.FloatingValue:
    """0.5 at the floor that makes a scenario fire, 1.0 at twice it (one division, which
    every engine rounds alike)."""
    return (count + floor).cast("float64") / (2 * floor)


def _hours(first: ir.TimestampValue, last: ir.TimestampValue) -> ir.IntegerValue:
    """Whole hours from `first` to `last`, as evidence reads them."""
    return ((last.epoch_seconds() - first.epoch_seconds()) // _HOUR).cast("int64")


def _one_role_each(roles: ir.Table, typology: str) -> ir.Table:
    """One finding per account: its highest-scored role, the widest of that, then the
    earliest (and so on, until every engine would pick the same)."""
    order = (ibis.desc("score"), ibis.desc("strength"), "first", "last", "moves", "evidence")
    best = first_per_account(roles, *order)
    return finding(
        best,
        typology,
        account=best.account,
        score=best.score,
        transactions=best.moves,
        first_seen=best.first,
        last_seen=best.last,
        evidence=best.evidence,
    )


# -- scatter-gather: one source, through intermediaries, to one sink


def _hops(tx: ir.Table, p: Params) -> ir.Table:
    """Each (`origin`, `middle`, `sink`) in a window where `origin` paid at least
    `scatter_width` accounts: what `middle` `received` from `origin` and `sent` on to
    `sink` within `scatter_hours` of it."""
    fans = _cells(tx, "source", "target", p.scatter_hours, p.scatter_width)
    paying = tx.select(account=tx.source, middle=tx.target, amount=tx.amount, at=tx.at)
    paid = _during(fans.rename(start="first", end="last"), paying, p.scatter_hours)
    received = paid.group_by(["account", "cell", "middle"]).aggregate(
        received=paid.amount.sum(), in_moves=paid.count(), first=paid.at.min(), last=paid.at.max()
    )
    windows = received.select(
        "cell",
        "received",
        "in_moves",
        account=received.middle,
        origin=received.account,
        start=received.first,
        end=received.last + ibis.interval(hours=p.scatter_hours),
    )
    passing = tx.select(account=tx.source, sink=tx.target, amount=tx.amount, at=tx.at)
    sent = _during(windows, passing, 2 * p.scatter_hours)
    hops = sent.group_by([*windows.columns, "sink"]).aggregate(
        sent=sent.amount.sum(), out_moves=sent.count(), last=sent.at.max()
    )
    return hops.select(
        "origin",
        "sink",
        "cell",
        "received",
        "sent",
        "last",
        middle=hops.account,
        moves=hops.in_moves + hops.out_moves,
        first=hops.start,
    )


def _route_role(routes: ir.Table, account: ir.Value, role: str, score: ir.Value) -> ir.Table:
    """A scatter-gather's routes as one role's findings."""
    return routes.select(
        account=account,
        score=score.cast("float64"),
        strength=routes.width,
        moves=routes.moves,
        first=routes.first,
        last=routes.last,
        evidence=said(
            ("role", ibis.literal(role)),
            ("source", routes.origin),
            ("sink", routes.sink),
            ("intermediaries", routes.width),
            ("amount", routes.received),
            ("passed_bp", _share_bp(routes.received, routes.sent)),
            ("hours", _hours(routes.first, routes.last)),
        ),
    )


# -- layering: sources, a layer of intermediaries, targets


def _layer_edges(big: ir.Table, p: Params) -> ir.Table:
    """Who paid whom (`source`, `middle`: one row each) in each window `scatter_hours`
    wide (`cell`), pruned to the layer's core. A source with fewer than `layer_width`
    payments in a window cannot pay that many intermediaries: counting them first
    (cheap) leaves few to count distinct (dear)."""
    half = p.scatter_hours * _HOUR // 2
    rows = big.select(
        "source",
        "amount",
        "at",
        middle=big.target,
        half=big.at.epoch_seconds() // half,
    )
    rows = ibis.union(rows.mutate(cell=rows.half - 1), rows.mutate(cell=rows.half), distinct=False)
    payers = rows.group_by(["cell", "source"]).aggregate(moves=rows.count())
    payers = payers.filter(payers.moves >= p.layer_width).select("cell", "source")
    rows = rows.join(payers, ["cell", "source"])
    edges = rows.group_by(["cell", "source", "middle"]).aggregate(
        paid=rows.amount.sum(), moves=rows.count(), first=rows.at.min(), last=rows.at.max()
    )
    return _core(edges, p.layer_width)


def _passing_middles(edges: ir.Table, tx: ir.Table, p: Params) -> ir.Table:
    """The intermediaries (`cell`, `middle`) that passed on what came in (on all their
    payments) within `scatter_hours` of the layer's payments into them."""
    windows = edges.group_by(["cell", "middle"]).aggregate(
        start=edges.first.min(), last=edges.last.max()
    )
    windows = windows.select(
        "cell",
        "start",
        account=windows.middle,
        end=windows.last + ibis.interval(hours=p.scatter_hours),
    )
    moved = _moved(windows, tx, 2 * p.scatter_hours, ["account", "cell"], p.flow_min_amount)
    middles = _passing(moved, p.pass_bp)
    return middles.select(
        "cell", "first_move", "last_out", "passed_bp", "payees", middle=middles.account
    )


def _core(edges: ir.Table, width: int) -> ir.Table:
    """Two rounds of pruning towards the layer's core: each source paying at least
    `width` of the intermediaries, each intermediary paid by at least `width` sources
    (an edge is one row, so counting rows counts distinct accounts)."""
    columns = edges.columns
    for _ in range(2):
        for side in ("source", "middle"):
            count = edges.count().over(ibis.window(group_by=["cell", side]))
            edges = edges.mutate(degree=count)
            edges = edges.filter(edges.degree >= width).select(*columns)
    return edges


def _reach(edges: ir.Table, big: ir.Table, p: Params) -> ir.Table:
    """For each source in a window, how many distinct targets its intermediaries paid
    while passing its money on."""
    windows = edges.select(
        "cell", account=edges.middle, start=edges.first_move, end=edges.last_out
    ).distinct()
    onward = big.select(account=big.source, target=big.target, at=big.at)
    paid = _during(windows, onward, 2 * p.scatter_hours)
    paid = paid.select("cell", "target", middle=paid.account).distinct()
    reached = edges.select("cell", "source", "middle").join(paid, ["cell", "middle"])
    return reached.group_by(["cell", "source"]).aggregate(targets=reached.target.nunique())


def _layer_role(edges: ir.Table, side: str, role: str, floor: int | None) -> ir.Table:
    """The layer's accounts on one `side` as findings of `role`: intermediaries score
    more the more sources beyond `floor` paid them (evidence: whom each paid on);
    sources score 0.4 (evidence: how many targets their intermediaries reached)."""
    other, counted = ("source", "sources") if side == "middle" else ("middle", "intermediaries")
    targets = edges.payees if side == "middle" else edges.targets
    per = edges.group_by(["cell", side]).aggregate(
        count=edges[other].nunique(),
        targets=targets.max(),
        paid=edges.paid.sum(),
        passed_bp=edges.passed_bp.min(),
        moves=edges.moves.sum(),
        first=edges.first_move.min(),
        last=edges.last_out.max(),
    )
    score = ibis.literal(0.4) if floor is None else _above(per["count"], floor)
    return per.select(
        account=per[side],
        score=score,
        strength=per["count"],
        moves=per.moves,
        first=per.first,
        last=per.last,
        evidence=said(
            ("role", ibis.literal(role)),
            (counted, per["count"]),
            ("targets", per.targets),
            ("amount", per.paid),
            ("passed_bp", per.passed_bp),
            ("hours", _hours(per.first, per.last)),
        ),
    )


SCENARIOS = (
    Scenario("fan_in", fan_in),
    Scenario("fan_out", fan_out),
    Scenario("rapid_pass_through", rapid_pass_through),
    Scenario("scatter_gather", scatter_gather),
    Scenario("gather_scatter", gather_scatter),
    Scenario("layering", layering),
)
