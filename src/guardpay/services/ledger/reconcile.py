"""Reconciliation: the reserve invariant, and the bank's statement against our records.

Reserve (per currency ledger, posted balances; see `domain/payments/funding.py` for the postings):

    reserve (debits - credits)
      == liabilities (customer, merchant, escrow, red packet: credits - debits)
       + platform funds (fee revenue, loss reserve: credits - debits)
       + bank in flight, posted (credits - debits; 0 when every settlement is whole)

and, for the money the bank has not confirmed yet, the in-flight account's pending
counters must equal the fundings still processing: debits_pending == top-ups in flight,
credits_pending == withdrawals in flight. Any difference is a break.

Statement: every row of the bank's statement is matched by bank reference with our
funding; breaks are `missing_on_platform`, `missing_at_bank` (a funding with a
reference, valued on a statement date, that the bank does not list), `duplicate`,
`amount_mismatch` (amount, currency or direction) and `status_mismatch` (including a
funding still processing that the bank already finished).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from guardpay.adapters.bank import StatementRow
from guardpay.domain.ledger.chart import LIABILITIES, AccountCode
from guardpay.domain.money import BY_LEDGER
from guardpay.domain.payments.funding import DIRECTION, Kind
from guardpay.storage.funding import AccountTotals, FundingRow
from guardpay.storage.uow import UnitOfWork

_PLATFORM_FUNDS = (AccountCode.FEE_REVENUE, AccountCode.LOSS_RESERVE)


@dataclass(frozen=True)
class ReserveLine:
    """One currency's figures, in minor units, and what does not add up."""

    currency: str
    reserve: int
    liabilities: int
    platform_funds: int
    in_flight_posted: int
    top_ups_in_flight: int
    withdrawals_in_flight: int
    expected_top_ups_in_flight: int
    expected_withdrawals_in_flight: int
    breaks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReserveReport:
    lines: list[ReserveLine]

    @property
    def ok(self) -> bool:
        return all(not line.breaks for line in self.lines)

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "currencies": [asdict(line) for line in self.lines]}


def reserve(uow: UnitOfWork) -> ReserveReport:
    """Prove the reserve invariant per currency, in one snapshot."""
    store = uow.funding
    by_ledger: dict[int, dict[int, AccountTotals]] = {}
    for t in store.account_totals():
        by_ledger.setdefault(t.ledger, {})[t.code] = t
    in_flight = store.in_flight()
    return ReserveReport(
        [_reserve_line(codes, ledger, in_flight) for ledger, codes in sorted(by_ledger.items())]
    )


def _reserve_line(
    codes: dict[int, AccountTotals], ledger: int, in_flight: dict[tuple[str, str], int]
) -> ReserveLine:
    cur = BY_LEDGER[ledger].code if ledger in BY_LEDGER else str(ledger)
    zero = AccountTotals(ledger, 0, 0, 0, 0, 0)

    def owed(code_set: Sequence[AccountCode] | frozenset[AccountCode]) -> int:
        return sum(
            codes.get(c, zero).credits_posted - codes.get(c, zero).debits_posted for c in code_set
        )

    res, bif = codes.get(AccountCode.RESERVE, zero), codes.get(AccountCode.BANK_IN_FLIGHT, zero)
    line = ReserveLine(
        cur,
        res.debits_posted - res.credits_posted,
        owed(LIABILITIES),
        owed(_PLATFORM_FUNDS),
        bif.credits_posted - bif.debits_posted,
        bif.debits_pending,
        bif.credits_pending,
        in_flight.get((cur, Kind.TOP_UP.value), 0),
        in_flight.get((cur, Kind.WITHDRAWAL.value), 0),
    )
    covered = line.liabilities + line.platform_funds + line.in_flight_posted
    if line.reserve != covered:
        line.breaks.append(f"reserve {line.reserve} != liabilities and in flight {covered}")
    if line.in_flight_posted:
        line.breaks.append(f"suspense not clear: {line.in_flight_posted} posted in flight")
    if line.top_ups_in_flight != line.expected_top_ups_in_flight:
        line.breaks.append(
            f"top-ups in flight {line.top_ups_in_flight} != fundings "
            f"{line.expected_top_ups_in_flight}"
        )
    if line.withdrawals_in_flight != line.expected_withdrawals_in_flight:
        line.breaks.append(
            f"withdrawals in flight {line.withdrawals_in_flight} != fundings "
            f"{line.expected_withdrawals_in_flight}"
        )
    return line


@dataclass(frozen=True)
class Break:
    kind: str
    bank_reference: str
    detail: str
    funding_id: str | None = None


@dataclass(frozen=True)
class StatementReport:
    rows: int
    matched: int
    breaks: list[Break]

    @property
    def ok(self) -> bool:
        return not self.breaks

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "matched": self.matched,
            "breaks": [asdict(b) for b in self.breaks],
        }


def statement(uow: UnitOfWork, rows: list[StatementRow]) -> StatementReport:
    """Match the bank's statement against our fundings and list every break."""
    fundings = uow.funding.all()
    return match_statement(rows, fundings)


def match_statement(rows: list[StatementRow], fundings: list[FundingRow]) -> StatementReport:
    """Pure matching, so each kind of break is easy to test on its own."""
    ours = {f.bank_reference: f for f in fundings if f.bank_reference}
    counts = Counter(r.bank_reference for r in rows)
    breaks = [
        Break("duplicate", ref, f"listed {n} times", _fid(ours.get(ref)))
        for ref, n in sorted(counts.items())
        if n > 1
    ]
    matched, seen = 0, set()
    for row in rows:
        if row.bank_reference in seen:
            continue
        seen.add(row.bank_reference)
        found = _compare(row, ours.get(row.bank_reference))
        breaks += found
        matched += not found
    days = {r.date for r in rows}
    breaks += [
        Break("missing_at_bank", ref, f"{f.kind} {f.amount} {f.currency} {f.state}", f.id)
        for ref, f in sorted(ours.items())
        if ref not in seen and f.created_at.date() in days
    ]
    return StatementReport(len(rows), matched, breaks)


def _compare(row: StatementRow, f: FundingRow | None) -> list[Break]:
    ref = row.bank_reference
    if f is None:
        return [
            Break(
                "missing_on_platform",
                ref,
                f"{row.direction} {row.amount} {row.currency} {row.status}",
            )
        ]
    out: list[Break] = []
    theirs = (row.amount, row.currency, row.direction)
    mine = (f.amount, f.currency, DIRECTION[Kind(f.kind)])
    if theirs != mine:
        out.append(Break("amount_mismatch", ref, f"bank {theirs}, ours {mine}", f.id))
    if row.status != f.state:
        out.append(Break("status_mismatch", ref, f"bank {row.status}, ours {f.state}", f.id))
    return out


def _fid(f: FundingRow | None) -> str | None:
    return f.id if f else None
