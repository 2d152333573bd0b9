"""`guardpay demo`: a ledger walkthrough in plain words, then the API on :8000.

Until the payment flows land this shows the ledger they will stand on: the chart of
accounts, a top-up, a transfer, a refused overdraft, a hold posted in part, a linked
payment-plus-fee, an idempotent retry and the invariant check.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer
from rich.table import Table

from guardpay.cli.context import console
from guardpay.config import DEFAULT_DATA_DIR
from guardpay.domain.ledger.chart import FLAGS, AccountCode, TransferCode
from guardpay.domain.ledger.model import Account, Event, Transfer, TransferFlags
from guardpay.domain.ledger.results import Result
from guardpay.domain.money import Money, currency
from guardpay.services.ledger import verify
from guardpay.services.ledger_writer import LedgerWriter
from guardpay.storage.db import Database
from guardpay.storage.migrate import upgrade
from guardpay.storage.uow import read_only

CNY = currency("CNY").numeric
NAMES = {
    1: ("Reserve (custodian bank)", AccountCode.RESERVE),
    2: ("Fee revenue", AccountCode.FEE_REVENUE),
    10: ("Alice's wallet", AccountCode.CUSTOMER_WALLET),
    11: ("Bob's wallet", AccountCode.CUSTOMER_WALLET),
    20: ("Tea House (merchant)", AccountCode.MERCHANT_SETTLEMENT),
}
RESERVE, FEES, ALICE, BOB, SHOP = 1, 2, 10, 11, 20


def _yuan(minor: int) -> str:
    return f"¥{Money(minor, 'CNY').to_decimal_string()}"


def _t(tid: int, dr: int, cr: int, amount: int, code: TransferCode, flags: int = 0) -> Transfer:
    return Transfer(tid, dr, cr, amount, ledger=CNY, code=code, flags=flags)


STEPS: list[tuple[str, list[Event]]] = [
    ("Open the chart of accounts: reserve, fee revenue, two wallets, a merchant",
     [Account(i, CNY, code, FLAGS[code]) for i, (_, code) in NAMES.items()]),
    ("Alice tops up ¥500.00 from her bank card (reserve up, her wallet up)",
     [_t(101, RESERVE, ALICE, 50_000, TransferCode.TOP_UP)]),
    ("Alice sends Bob ¥120.00", [_t(102, ALICE, BOB, 12_000, TransferCode.P2P)]),
    ("Alice tries to send Bob ¥1,000.00 — more than she has",
     [_t(103, ALICE, BOB, 100_000, TransferCode.P2P)]),
    ("Alice orders at the Tea House: ¥200.00 is held (pending), not yet paid",
     [_t(104, ALICE, SHOP, 20_000, TransferCode.MERCHANT_PAYMENT, TransferFlags.PENDING)]),
    ("The order ships short: ¥150.00 of the hold is posted, ¥50.00 goes back to Alice",
     [Transfer(105, amount=15_000, pending_id=104, flags=TransferFlags.POST_PENDING)]),
    ("Bob pays the Tea House ¥30.00 and the shop's ¥0.18 fee, linked: both or neither",
     [_t(106, BOB, SHOP, 3_000, TransferCode.MERCHANT_PAYMENT, TransferFlags.LINKED),
      _t(107, SHOP, FEES, 18, TransferCode.FEE)]),
    ("Bob's phone retries the same payment (same ids): nothing moves twice",
     [_t(106, BOB, SHOP, 3_000, TransferCode.MERCHANT_PAYMENT, TransferFlags.LINKED),
      _t(107, SHOP, FEES, 18, TransferCode.FEE)]),
]  # fmt: skip


def _describe(results: Sequence[Result]) -> str:
    words = {Result.ok: "[green]done[/]", Result.exists: "[yellow]already done[/]"}
    return ", ".join(words.get(r, f"[red]refused: {r.value}[/]") for r in results)


def _balances(db: Database) -> Table:
    table = Table("account", "balance", "held", title="Balances (from the ledger)")
    with read_only(db) as uow:
        q = uow.ledger_queries
        for account_id, (name, _) in NAMES.items():
            a = q.account(account_id)
            assert a is not None
            bal = a.debits_posted - a.credits_posted if a.code == AccountCode.RESERVE else a.balance
            held = a.debits_pending + a.credits_pending
            table.add_row(name, _yuan(bal), _yuan(held) if held else "")
    return table


def run_walkthrough(db: Database) -> bool:
    """Run the story against `db`; returns whether `ledger verify` is clean."""
    upgrade(db)
    with LedgerWriter(db) as writer:
        for n, (title, events) in enumerate(STEPS, 1):
            console.print(f"{n}. {title}: {_describe(writer.apply(events))}")
    console.print(_balances(db))
    with read_only(db) as uow:
        report = verify(uow)
    status = "[green]clean[/]" if report.ok else f"[red]{len(report.problems)} problems[/]"
    console.print(
        f"ledger verify: {status} ({report.accounts} accounts, {report.transfers} transfers)"
    )
    return report.ok


def demo(
    ctx: typer.Context,
    serve: bool = typer.Option(True, help="Serve the API on http://127.0.0.1:8000 afterwards."),
    port: int = typer.Option(8000, help="Port for the API."),
) -> None:
    """Run the guided demo on a fresh embedded database, then serve the API."""
    path = Path(DEFAULT_DATA_DIR) / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    console.rule("[bold]guardpay demo: the ledger")
    ok = run_walkthrough(db)
    if not ok:
        raise typer.Exit(1)
    if serve:
        import uvicorn

        from guardpay.api.app import create_app

        console.print(
            f"\nAPI: http://127.0.0.1:{port}/docs — try /v1/ledger/accounts/10/transfers "
            "(Ctrl-C to stop)"
        )
        uvicorn.run(create_app(db), host="127.0.0.1", port=port, log_level="warning")
