"""The one shape of transaction every scenario reads, whatever it came from (the
platform's ledger and payments, or somebody's CSV file), and the settings scenarios
share.

A row is one movement of money from `source` to `target` at `at` (UTC, no zone),
`amount` in minor units of one currency (a scan never mixes currencies: amounts are
compared with thresholds). `device` (which device the payer used) may be null; the
account-farm scenario needs it, and false trade reads it where it is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

#: the columns a transaction table has, in this order
SCHEMA = ibis.schema(
    {
        "id": dt.String(nullable=False),
        "source": dt.String(nullable=False),
        "target": dt.String(nullable=False),
        "amount": dt.Int64(nullable=False),
        "at": dt.Timestamp(nullable=False),
        "device": dt.String(nullable=True),
    }
)
COLUMNS = tuple(SCHEMA.names)
#: accounts named so stand for money outside the platform (a bank card): nodes of the
#: graph that paths run through, never flagged themselves
OUTSIDE = "card:"


#: reporting thresholds per currency, in minor units: the PBOC's ¥50,000 for an
#: individual's cash (2016 No. 3) and FinCEN's $10,000 (DESIGN.md "Risk control")
THRESHOLDS: dict[str, tuple[int, ...]] = {"CNY": (5_000_000,), "USD": (1_000_000,)}


@dataclass(frozen=True)
class Params:
    """What the scenarios count as suspicious. Amounts in minor units; the defaults are
    the PBOC's large-value threshold for an individual's cash (¥50,000, DESIGN.md
    "Risk control") and windows that match how laundering moves on a wallet platform.

    `thresholds`: the reporting thresholds that structuring stays under; `near_bp`: how
    far below one (in basis points of it) still counts as "just below"."""

    thresholds: tuple[int, ...] = (5_000_000,)
    near_bp: int = 1_000
    structuring_count: int = 3
    structuring_days: int = 7
    # -- flows (scenarios/flows.py) --
    #: sources, intermediaries and targets (each at least) that make a layering
    layer_width: int = 2
    #: the smallest payment that scatter-gather, gather-scatter and layering follow
    flow_min_amount: int = 100_000
    #: distinct counterparties in `fan_hours` that make a fan-in or fan-out
    fan_degree: int = 8
    fan_hours: int = 24
    #: how soon money counts as passed on, and what share of it must be
    pass_hours: int = 72
    pass_bp: int = 8_000
    #: the smallest single inflow that rapid pass-through looks at
    large_amount: int = 1_000_000
    rapid_hours: int = 24
    rapid_bp: int = 9_000
    #: intermediaries a scatter-gather needs, and its window
    scatter_width: int = 3
    scatter_hours: int = 72
    # -- paths and devices (scenarios/paths.py, accounts.py, devices.py) --
    #: cycles: hops, the window from first to last hop, how much each hop may shrink
    cycle_hops: int = 6
    cycle_days: int = 7
    cycle_keep_bp: int = 8_000
    cycle_min_amount: int = 100_000
    #: accounts with more counterparties (in transfers of at least `cycle_min_amount`)
    #: are hubs, left out of cycles
    cycle_max_counterparties: int = 500
    #: dormancy before a reactivation, and what must move in the week after it
    dormant_days: int = 180
    reactivated_amount: int = 2_000_000
    reactivated_days: int = 7
    #: accounts on one device that make a farm
    farm_size: int = 4
    #: the share of them (basis points) that must pay one collector: more than half
    farm_share_bp: int = 5_000
    # -- merchants (scenarios/trades.py) --
    #: round takings: at least `trade_count` payments into an account within
    #: `trade_days`, at least `trade_round_bp` of them multiples of `round_unit` (¥100),
    #: from at most `trade_payers` payers (a real shop's takings come from many people)
    trade_count: int = 5
    trade_days: int = 7
    trade_round_bp: int = 6_000
    round_unit: int = 10_000
    trade_payers: int = 3
    #: refunds after settlement count only when they add up to this share (basis points)
    #: of the window's takings: a shop refunds one sale in many, a false trade most of them
    refund_bp: int = 5_000

    # -- around the flagged (network.py) --
    #: the share of what an account moved (basis points) that went to or came from
    #: flagged accounts, and the most counterparties it may have had, to be flagged too
    network_bp: int = 8_000
    network_counterparties: int = 3

    def __post_init__(self) -> None:
        if not self.thresholds or min(self.thresholds) <= 0:
            raise ValueError("thresholds must be positive amounts in minor units")
        if not 0 < self.near_bp < 10_000:
            raise ValueError("near_bp must be between 1 and 9,999 basis points")
        if self.round_unit <= 0:
            raise ValueError("round_unit must be a positive amount in minor units")

    @property
    def lookback(self) -> timedelta:
        """The longest any scenario looks back from the newest movement it judges: a
        periodic run reads this far before its last watermark (a dormancy is only seen
        against the months before it)."""
        return max(
            timedelta(days=self.structuring_days),
            timedelta(days=self.cycle_days),
            timedelta(days=self.dormant_days + self.reactivated_days),
            timedelta(hours=self.fan_hours + self.pass_hours),
            timedelta(hours=self.scatter_hours * 2),
            timedelta(days=self.trade_days, hours=self.pass_hours),
        )


def is_round(amount: ir.IntegerValue, p: Params) -> ir.BooleanValue:
    """Whether `amount` is a round sum (positive, a whole number of `round_unit`s): what
    a made-up payment is, and a fixed price too, so a hint and never proof alone."""
    return (amount > 0) & (amount % p.round_unit == 0)


def first_per_account(rows: ir.Table, *order: ir.Value | str) -> ir.Table:
    """One row per account: the first by `order` (which must leave no ties, so that
    every engine keeps the same): a scenario reports an account's strongest window."""
    rank = ibis.row_number().over(ibis.window(group_by=rows.account, order_by=list(order)))
    ranked = rows.mutate(rank=rank)
    return ranked.filter(ranked.rank == 0).drop("rank")


def legs(tx: ir.Table) -> ir.Table:
    """Each movement from both ends: the account, the other end, the amount, when."""
    return sides(tx).select("account", "other", "amount", "at")


def sides(tx: ir.Table) -> ir.Table:
    """`legs` with the direction (`outgoing`: the account paid) and the payer's device,
    on the payer's side only (the payee did not use it)."""
    out = tx.select(
        account=tx.source,
        other=tx.target,
        amount=tx.amount,
        at=tx.at,
        device=tx.device,
        outgoing=ibis.literal(True),
    )
    into = tx.select(
        account=tx.target,
        other=tx.source,
        amount=tx.amount,
        at=tx.at,
        device=ibis.null().cast("string"),
        outgoing=ibis.literal(False),
    )
    return out.union(into, distinct=False)
