"""The second look: the accounts around what the scenarios flagged.

A scenario sees a pattern at its centre: the mule that gathers and scatters, the sleeper
that wakes, the account money rushes through. The accounts around it are often made for
the case too (the senders recruited to feed a mule, the account the money leaves to),
and each of them alone did nothing unusual: one payment. What gives them away is that
nearly everything they moved, they moved with a flagged account while it was active.

So an account is flagged as `network` when, over the scan, at least `network_bp` of the
money it moved went to or came from flagged accounts within `pass_hours` of their
flagged activity, and it dealt with at most `network_counterparties` accounts in all. A
customer of a shop that was flagged stays quiet: people pay many shops and friends, so
the flagged one is a small share of what they moved.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from guardpay.domain.aml.findings import finding, said
from guardpay.domain.aml.frame import OUTSIDE, Params
from guardpay.domain.aml.frame import legs as both_ends

#: the typologies whose counterparties are part of the scheme: the feeders and the
#: receivers of a mule, a sleeper, a pass-through. Not structuring (who takes a payment
#: just below the threshold is anyone) nor cycles (every account on one is flagged).
SPREADS = frozenset(
    {
        "fan_in",
        "fan_out",
        "gather_scatter",
        "scatter_gather",
        "layering",
        "rapid_pass_through",
        "dormant_reactivation",
        "account_farm",
    }
)


def counterparties(tx: ir.Table, core: ir.Table, p: Params) -> ir.Table:
    """`network` findings for the accounts around `core` (columns `account`,
    `first_seen`, `last_seen`: what the scenarios flagged, and when)."""
    legs = both_ends(tx)
    around = ibis.interval(hours=p.pass_hours)
    near = legs.join(
        core,
        [
            legs.other == core.account,
            legs.at >= core.first_seen - around,
            legs.at <= core.last_seen + around,
        ],
    )
    with_core = near.group_by(near.account).aggregate(
        amount_with=near.amount.sum(),
        flagged=near.other.max(),
        first_seen=near.at.min(),
        last_seen=near.at.max(),
        moves_with=near.count(),
    )
    with_core = with_core.anti_join(core, with_core.account == core.account)
    mine = legs.semi_join(with_core, legs.account == with_core.account)
    totals = mine.group_by(mine.account).aggregate(
        amount=mine.amount.sum(), counterparties=mine.other.nunique()
    )
    hits = with_core.join(totals, "account")
    hits = hits.filter(
        (hits.amount_with * 10_000 >= hits.amount * p.network_bp)
        & (hits.counterparties <= p.network_counterparties)
        & ~hits.account.startswith(OUTSIDE)
    )
    return finding(
        hits,
        "network",
        account=hits.account,
        score=ibis.literal(0.5),
        transactions=hits.moves_with,
        first_seen=hits.first_seen,
        last_seen=hits.last_seen,
        evidence=said(
            ("flagged_counterparty", hits.flagged),
            ("share_bp", hits.amount_with * 10_000 // hits.amount),
            ("counterparties", hits.counterparties),
        ),
    )
