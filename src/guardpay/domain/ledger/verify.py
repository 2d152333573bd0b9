"""The ledger's invariants, as one pure function over accounts and a replay of transfers.

`guardpay ledger verify` feeds it from storage; tests feed it from the reference model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from guardpay.domain.ledger.model import INT64_MAX, Account, AccountFlags

#: (debits_pending, debits_posted, credits_pending, credits_posted)
Counters = tuple[int, int, int, int]
ZERO: Counters = (0, 0, 0, 0)


@dataclass(frozen=True)
class Problem:
    check: str
    message: str
    account_id: int | None = None
    ledger: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def counters(a: Account) -> Counters:
    return (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)


def check_ledger(accounts: Iterable[Account], replay: Mapping[int, Counters]) -> list[Problem]:
    """Debits equal credits per ledger (pending and posted), every account's counters equal
    the replay of its transfers, and no account breaks its limit flag or the 64-bit range."""
    problems: list[Problem] = []
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    seen = set()
    for a in accounts:
        seen.add(a.id)
        c = counters(a)
        for i, v in enumerate(c):
            totals[a.ledger][i] += v
        problems.extend(_check_account(a, c, replay.get(a.id, ZERO)))
    for account_id in replay.keys() - seen:
        problems.append(
            Problem("replay", "transfers name an account that does not exist", account_id)
        )
    for ledger, (dp, dpo, cp, cpo) in sorted(totals.items()):
        if dp != cp:
            problems.append(
                Problem("balanced", f"pending debits {dp} != pending credits {cp}", ledger=ledger)
            )
        if dpo != cpo:
            problems.append(
                Problem("balanced", f"posted debits {dpo} != posted credits {cpo}", ledger=ledger)
            )
    return problems


def _check_account(a: Account, c: Counters, replayed: Counters) -> list[Problem]:
    out = []
    if c != replayed:
        out.append(
            Problem("replay", f"counters {c} but transfers replay to {replayed}", a.id, a.ledger)
        )
    dp, dpo, cp, cpo = c
    if min(c) < 0 or dp + dpo > INT64_MAX or cp + cpo > INT64_MAX:
        out.append(Problem("range", f"counters {c} outside 0..2^63-1", a.id, a.ledger))
    if a.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS and dp + dpo > cpo:
        out.append(Problem("limit", f"debits {dp + dpo} exceed credits {cpo}", a.id, a.ledger))
    if a.flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS and cp + cpo > dpo:
        out.append(Problem("limit", f"credits {cp + cpo} exceed debits {dpo}", a.id, a.ledger))
    if a.flags & AccountFlags.CLOSED and (dp or cp or dpo != cpo):
        out.append(Problem("closed", "a closed account holds money", a.id, a.ledger))
    return out
