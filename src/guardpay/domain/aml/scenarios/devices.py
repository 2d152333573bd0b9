"""Scenarios over the devices payers use: an account farm, many accounts opened and run
from one phone by one operator (rented or bought identities, money mules) to move money
to the one account that collects it.

A device alone proves little (a family shares a tablet, a shop a till), so a farm takes
both halves: `farm_size` or more paying accounts on one device, and most of them paying
the same collector from that device. Both halves are counted over the payments made
from the device, so a scan is a few group-bys, never a join that fans out.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from guardpay.domain.aml.findings import finding, said
from guardpay.domain.aml.frame import Params, first_per_account
from guardpay.domain.aml.registry import Scenario


def account_farm(tx: ir.Table, p: Params) -> ir.Table:
    """Many accounts paying from one device, most of them to one collector account.

    A family of two or three on one tablet paying different shops stays quiet; so do
    many people paying one popular shop from their own phones. The collector (whoever
    the device's accounts pay) is flagged higher than each farm account."""
    crowded = _crowded(tx, p)
    pairs = _pairs(tx, crowded)
    collectors = _collectors(pairs, crowded, p)
    farm = pairs.join(
        collectors, [pairs.device == collectors.device, pairs.target == collectors.collector]
    )
    found = _farm_rows(farm).union(_collector_rows(collectors), distinct=False)
    best = _strongest(found)
    return finding(
        best,
        "account_farm",
        account=best.account,
        score=best.score,
        transactions=best.transactions,
        first_seen=best.first_seen,
        last_seen=best.last_seen,
        evidence=best.evidence,
    )


def _crowded(tx: ir.Table, p: Params) -> ir.Table:
    """The devices that `farm_size` or more accounts paid from, and how many."""
    used = tx.filter(tx.device.notnull())
    sizes = used.group_by("device").aggregate(accounts=used.source.nunique())
    return sizes.filter(sizes.accounts >= p.farm_size)


def _pairs(tx: ir.Table, crowded: ir.Table) -> ir.Table:
    """Who paid whom from each crowded device, one row per payer and payee. Only what
    was paid from the device counts: an account with thousands of payees (a merchant
    that once logged in on a shared till) then adds one row per payee it paid from
    there, not its whole history once for every device it ever touched."""
    paid = tx.semi_join(crowded, tx.device == crowded.device)
    paid = paid.filter(paid.target != paid.source)
    return paid.group_by(["device", "source", "target"]).aggregate(
        payments=paid.count(), first_seen=paid.at.min(), last_seen=paid.at.max()
    )


def _collectors(pairs: ir.Table, crowded: ir.Table, p: Params) -> ir.Table:
    """Per device, the payees that more than `farm_share_bp` of its accounts paid."""
    payees = pairs.group_by(["device", "target"]).aggregate(
        payers=pairs.count(),
        payments=pairs.payments.sum(),
        first_seen=pairs.first_seen.min(),
        last_seen=pairs.last_seen.max(),
    )
    payees = payees.join(crowded, "device")
    common = payees.filter(payees.payers * 10_000 > payees.accounts * p.farm_share_bp)
    return common.rename(collector="target")


def _farm_rows(farm: ir.Table) -> ir.Table:
    """A farm account: one mule among many, so it scores less than the collector; more
    so the larger the farm (whole basis points divided once, alike on every engine)."""
    return _rows(farm, farm.source, 5_000, 200, "paid_collector")


def _collector_rows(collectors: ir.Table) -> ir.Table:
    """The collector: where the farm's money ends up, so the one to look at first."""
    return _rows(collectors, collectors.collector, 6_000, 400, "payers")


def _rows(
    t: ir.Table, account: ir.Value, base_bp: int, per_payer_bp: int, said_payers: str
) -> ir.Table:
    return t.select(
        account=account,
        score=(base_bp + per_payer_bp * t.payers) / 10_000,
        transactions=t.payments,
        first_seen=t.first_seen,
        last_seen=t.last_seen,
        evidence=said(
            ("device", t.device),
            ("accounts", t.accounts),
            (said_payers, t.payers),
            ("collector", t.collector),
        ),
    )


def _strongest(found: ir.Table) -> ir.Table:
    """One row per account (it may sit on several farms, or collect for one and pay into
    another): its strongest, the tie broken by the words so every engine says the same."""
    return first_per_account(found, ibis.desc(found.score), found.evidence)


SCENARIOS = (Scenario("account_farm", account_farm, needs=frozenset({"device"})),)
