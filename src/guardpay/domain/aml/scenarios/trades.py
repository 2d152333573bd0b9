"""Scenarios over what merchants take: false trade, a merchant account that books sales
nobody made (cashing out a credit line, passing a payer's money off as takings).

Round prices alone prove nothing (a barber charges ¥100, a tutor ¥200 a lesson), so they
are the base, scored below the flagging score: round takings from a handful of payers,
where a real shop's come from many people. What turns them into false trade is the money
going back to those same payers, so much of it that nothing was sold: nearly all of a
payment sent back soon after it was paid, or paid in from the merchant's own device
(self-dealing); or refunds, after the merchant settled to its bank, of much of what it
took (a shop refunds before it settles; a tutor refunds one cancelled lesson). Families
and couples pay each other round sums too, and send a little back (a child paying for
the groceries out of pocket money): small sums back, and a refund of one sale among
several, are ordinary. Either way back, with the base, reaches the flagging score; one
payment back is one kind of evidence, never two (a refund after settlement is not also
money sent back), so one payment cannot make a finding certain.

The window is a sliding `trade_days`, as structuring's. Counting distinct payers over a
window frame does not run on every engine, so payers are counted as a running sum: a
payer arrives with a payment when it had paid nothing in the `trade_days` before, and
leaves `trade_days` after its last payment. Only accounts with enough round takings for
any window to fire are ordered at all: a few among the many that take payments.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from guardpay.domain.aml.findings import finding, said
from guardpay.domain.aml.frame import OUTSIDE, Params, first_per_account, is_round
from guardpay.domain.aml.registry import Scenario

_BP = 10_000
_DAY = 86_400
#: what a running sum adds up over a window, per account (`takings`: the trades' amounts;
#: `refunded_amount`: the refunds' after settlement)
_COUNTS = (
    "trades",
    "rounds",
    "payers",
    "own_device",
    "returned",
    "refunded",
    "takings",
    "refunded_amount",
)


def false_trade(tx: ir.Table, p: Params) -> ir.Table:
    """Round takings from a few payers, most of it sent back to them or refunded after settling.

    Round takings (`trade_count` within `trade_days`, `trade_round_bp` of them round, from
    at most `trade_payers` payers) score 0.4; self-dealing (one payment back to one of
    those payers, within `pass_hours` of a round payment from it, of at least `pass_bp`
    of it; or a payer paying from the account's own device) adds 0.3, and so do refunds
    after settlement (a payment to a card, then amounts payers had paid before, paid back
    to them) of at least `refund_bp` of the window's takings. A refund after settlement
    is never also money back. A barber paid ¥100 by many stays quiet, and so does a
    tutor paid by one parent who refunds one lesson, or a family sending a little back:
    the base alone is not flagged."""
    moves = _sellers_moves(tx, p)
    trades = _trades(moves, p)
    paid = _paid_by_sellers(moves)
    refunds = _refunded_after_settlement(trades, paid)
    backs = _sent_back(trades, paid, p)
    backs = backs.anti_join(refunds, backs.id == refunds.id)
    best = _strongest(_windows(trades, backs, refunds, p), p)
    hits = _seen(best, trades, backs, refunds, p)
    return finding(
        hits,
        "false_trade",
        account=hits.account,
        score=hits.tenths / 10,
        transactions=hits.trades,
        first_seen=hits.first_seen,
        last_seen=hits.last_seen,
        evidence=said(
            ("round_trades", hits.rounds),
            ("payers", hits.payers),
            ("round_share", hits.rounds * _BP // hits.trades),
            ("returned_to_payers", hits.returned),
            ("payer_on_own_device", hits.own_device),
            ("refunds_after_settlement", hits.refunded),
            ("refunded_share", hits.refunded_amount * _BP // ibis.greatest(hits.takings, 1)),
        ),
    )


def _sellers_moves(tx: ir.Table, p: Params) -> ir.Table:
    """Every movement into (`into`) or out of the accounts that could hold a false
    trade; one between two of them is there twice, once each way. The table is read
    here and nowhere else: what follows reads these few."""
    sellers = _sellers(tx, p)
    into = tx.semi_join(sellers, tx.target == sellers.seller).mutate(into=True)
    out = tx.semi_join(sellers, tx.source == sellers.seller).mutate(into=False)
    return ibis.union(into, out, distinct=False)


def _sellers(tx: ir.Table, p: Params) -> ir.Table:
    """The accounts (`seller`) paid enough round amounts for a window to fire: round
    sums are few, so they are picked out before anything is grouped (unless a window
    needs none, when every account paid `trade_count` times is one)."""
    fewest = _fewest_round(p)
    paid = tx.filter(tx.source != tx.target)
    if fewest > 0:
        paid = paid.filter(is_round(paid.amount, p))
    sellers = paid.group_by(seller=paid.target).aggregate(paid=paid.count())
    sellers = sellers.filter(sellers.paid >= (fewest or p.trade_count))
    return sellers.filter(~sellers.seller.startswith(OUTSIDE)).select("seller")


def _trades(moves: ir.Table, p: Params) -> ir.Table:
    """The payments into the sellers: `round` (a multiple of `round_unit`) and
    `own_device` (paid from a device the account itself pays from; a null device is
    nobody's), 1 or 0. A top-up from a card is no sale, and a payment to oneself none
    either."""
    paid = moves.filter(
        moves.into & ~moves.source.startswith(OUTSIDE) & (moves.source != moves.target)
    )
    paid = paid.select(
        "id",
        "amount",
        "at",
        "device",
        account=paid.target,
        payer=paid.source,
        secs=paid.at.epoch_seconds().cast("int64"),
        round=is_round(paid.amount, p).cast("int64"),
    )
    return _with_own_device(paid, moves)


def _fewest_round(p: Params) -> int:
    """The fewest round takings any window that fires holds (a share of `trade_count`,
    rounded up)."""
    return -(-p.trade_count * p.trade_round_bp // _BP)


def _with_own_device(paid: ir.Table, moves: ir.Table) -> ir.Table:
    """`paid` with `own_device`: each (account, device) the account paid from is one row,
    so the left join adds no rows."""
    used = moves.filter(~moves.into & moves.device.notnull())
    own = used.select(owner=used.source, own=used.device).distinct()
    joined = paid.left_join(own, [paid.account == own.owner, paid.device == own.own])
    return joined.mutate(own_device=joined.owner.notnull().cast("int64")).drop("owner", "own")


def _paid_by_sellers(moves: ir.Table) -> ir.Table:
    """Every payment out of the sellers, to anyone (a card too)."""
    out = moves.filter(~moves.into)
    return out.select(
        seller=out.source,
        to=out.target,
        sent=out.amount,
        sent_secs=out.at.epoch_seconds().cast("int64"),
        sent_at=out.at,
        sent_id=out.id,
    )


def _sent_back(trades: ir.Table, paid: ir.Table, p: Params) -> ir.Table:
    """The payments back to a payer within `pass_hours` of a round payment from it, of
    at least `pass_bp` of that payment: the payer got (nearly) all of it back, where a
    family's or a flatmate's small sums back are ordinary."""
    rounds = trades.filter(trades.round == 1)
    back = rounds.join(
        paid,
        [
            rounds.account == paid.seller,
            rounds.payer == paid.to,
            paid.sent_secs >= rounds.secs,
            paid.sent_secs <= rounds.secs + 3_600 * p.pass_hours,
            paid.sent * _BP >= rounds.amount * p.pass_bp,
        ],
    )
    return _answering(back)


def _refunded_after_settlement(trades: ir.Table, paid: ir.Table) -> ir.Table:
    """The payments back to a payer of an amount it had paid, after the account paid
    out to a card since that payment (`settled`: its latest payment to a card up to
    then; a tie in time counts as before)."""
    to_card = ibis.ifelse(paid.to.startswith(OUTSIDE), paid.sent_secs, ibis.null("int64"))
    history = ibis.window(group_by=paid.seller, order_by=paid.sent_secs, range=(None, 0))
    paid = paid.mutate(settled=to_card.max().over(history))
    refunds = paid.filter(~paid.to.startswith(OUTSIDE) & paid.settled.notnull())
    refunded = trades.join(
        refunds,
        [
            trades.account == refunds.seller,
            trades.payer == refunds.to,
            trades.amount == refunds.sent,
            trades.secs <= refunds.settled,
        ],
    )
    return _answering(refunded)


def _answering(pairs: ir.Table) -> ir.Table:
    """Each payment back once (`id`, `at`, `amount`: its own), at the time (`secs`) of
    the latest trade it answers: it counts in the windows that hold that trade."""
    keys = ["seller", "sent_id", "sent_at", "sent"]
    back = pairs.group_by(keys).aggregate(secs=pairs.secs.max())
    return back.select(
        account=back.seller, id=back.sent_id, at=back.sent_at, amount=back.sent, secs=back.secs
    )


def _windows(trades: ir.Table, backs: ir.Table, refunds: ir.Table, p: Params) -> ir.Table:
    """Each trade as the last of a window `trade_days` long, with what the window holds
    (`_COUNTS`), where the round takings alone already fire.

    Every count is a running sum of events: a trade counts from its time and stops
    `trade_days` and a second later (the window takes both ends, as structuring's);
    a payer counts from a payment after `trade_days` without one, until `trade_days`
    after its last. Ties in time sum whole (a range frame), so every engine agrees."""
    span = _DAY * p.trade_days
    by_payer = ibis.window(group_by=[trades.account, trades.payer], order_by=trades.secs)
    before = trades.secs.lag().over(by_payer)
    after = trades.secs.lead().over(by_payer)
    arrives = before.isnull() | (trades.secs - before > span)
    leaves = after.isnull() | (after > trades.secs + span)
    counted = {
        "trades": 1,
        "rounds": trades.round,
        "own_device": trades.own_device,
        "takings": trades.amount,
    }
    events = [
        _events(trades, True, trades.secs, payers=arrives.cast("int64"), **counted),
        _events(
            trades, False, trades.secs + span + 1, payers=-leaves.cast("int64"), **_neg(counted)
        ),
    ]
    for found, name in ((backs, "returned"), (refunds, "refunded")):
        events.append(_events(found, False, found.secs, **{name: 1}))
        events.append(_events(found, False, found.secs + span + 1, **{name: -1}))
    refunded = {"refunded_amount": refunds.amount}
    events.append(_events(refunds, False, refunds.secs, **refunded))
    events.append(_events(refunds, False, refunds.secs + span + 1, **_neg(refunded)))
    every = ibis.union(*events, distinct=False)
    history = ibis.window(group_by=every.account, order_by=every.secs, range=(None, 0))
    running = every.mutate(**{c: every[c].sum().over(history) for c in _COUNTS})
    ends = running.filter(running.last)
    return ends.filter(
        (ends.trades >= p.trade_count)
        & (ends.rounds * _BP >= ends.trades * p.trade_round_bp)
        & (ends.payers <= p.trade_payers)
    )


def _neg(counts: dict[str, ir.IntegerValue | int]) -> dict[str, ir.IntegerValue | int]:
    return {name: -value for name, value in counts.items()}


def _events(
    t: ir.Table, last: bool, secs: ir.IntegerValue, **deltas: ir.IntegerValue | int
) -> ir.Table:
    """One event per row of `t` at `secs`: what it adds to each count (0 unless given);
    `last`: whether a window ends there (at a trade; not at its expiry, nor evidence)."""
    values = {}
    for name in _COUNTS:
        delta = deltas.get(name, 0)
        values[name] = (ibis.literal(delta) if isinstance(delta, int) else delta).cast("int64")
    return t.select("account", "id", "at", secs=secs, last=ibis.literal(last), **values)


def _strongest(windows: ir.Table, p: Params) -> ir.Table:
    """One window per account: the highest scored (`tenths`: 4 for the round takings, 3
    more for each way back; refunds only as `refunds_scored`, when they add up to
    `refund_bp` of the takings), the most round of those, then the latest; whole tenths
    and whole-number shares, so every engine ranks and divides alike."""
    self_dealt = (windows.returned + windows.own_device > 0).cast("int64")
    material = windows.refunded_amount * _BP >= windows.takings * p.refund_bp
    windows = windows.mutate(refunds_scored=(windows.refunded > 0) & material)
    scored = windows.mutate(tenths=4 + 3 * self_dealt + 3 * windows.refunds_scored.cast("int64"))
    order = [
        ibis.desc(scored.tenths),
        ibis.desc(scored.rounds),
        ibis.desc(scored.trades),
        ibis.desc(scored.at),
        scored.id,
    ]
    return first_per_account(scored, *order)


def _seen(
    best: ir.Table, trades: ir.Table, backs: ir.Table, refunds: ir.Table, p: Params
) -> ir.Table:
    """`best` with `first_seen` (its window's first trade) and `last_seen` (its last, or
    the latest payment back for a trade in it that adds to its score, if later: a refund
    of one sale among many is no part of the story)."""
    span = _DAY * p.trade_days
    ends = best.select(seller=best.account, end=best.secs, refunds_scored=best.refunds_scored)
    evidence = ibis.union(
        backs.select("account", "at", "secs", refund=ibis.literal(False)),
        refunds.select("account", "at", "secs", refund=ibis.literal(True)),
        distinct=False,
    )
    inside = trades.join(
        ends,
        [trades.account == ends.seller, trades.secs >= ends.end - span, trades.secs <= ends.end],
    )
    first = inside.group_by(seller=inside.account).aggregate(first_seen=inside.at.min())
    told = evidence.join(
        ends,
        [
            evidence.account == ends.seller,
            evidence.secs >= ends.end - span,
            evidence.secs <= ends.end,
            ~evidence.refund | ends.refunds_scored,
        ],
    )
    later = told.group_by(backer=told.account).aggregate(back_at=told.at.max())
    hits = best.join(first, best.account == first.seller)
    hits = hits.left_join(later, hits.account == later.backer)
    return hits.mutate(last_seen=ibis.greatest(hits.at, hits.back_at.fill_null(hits.at)))


SCENARIOS = (Scenario("false_trade", false_trade),)
