"""Reading ahead for a micro-batch of payments (api/batching.py): one statement per table
for the whole batch, before its payments run.

Each payment of a batch runs the pipeline alone (pipeline.py), and each step reads the
rows it needs through the unit of work's repositories. Alone, that is a statement per row:
the session of the bearer token, the payer (locked) and the payee, the payer's other
accounts as the same person, the session's device, the payer's credentials (locked), both
wallets and their ledger accounts, what the payer has paid that the limits count, and
the risk list entries naming the payer, the payee, the device or the client's address.
Here the batch reads each of those once, for every payment it holds, into the unit of
work's row memo (storage/engine/memo.py) and, for the ledger accounts, its ledger stage
(storage/ledger_stage.py: read under the ledger lock, taken here as the batch's first
payment would take it); the steps then find their rows there. Nothing else changes: a
payment that finds no row (a token that matches no session, a payee named by phone
number) reads it as it would alone, and every write forgets the rows it changes (a
payment written forgets the sums that count its payer), so a payment never sees a row
older than the payments before it in the batch wrote.

Payers' rows are locked in id order (PostgreSQL), all at once, before any payment runs:
two workers' batches with payers in common then queue on the first one they share,
instead of each locking one and waiting for the other's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from guardpay.domain.auth.sessions import USER, Session
from guardpay.domain.ledger.chart import AccountCode
from guardpay.domain.risk.features import StateProbe
from guardpay.security.tokens import token_hash
from guardpay.services.identity import facade as identity
from guardpay.services.ledger import books as ledger
from guardpay.services.payments import limits
from guardpay.services.risk.engine import RiskEngine
from guardpay.storage.uow import UnitOfWork

WALLET = AccountCode.CUSTOMER_WALLET.name.lower()


@dataclass(frozen=True)
class Ahead:
    """What a payment request shows before it runs: its bearer token, the client's
    address and, for a transfer, the payee it names (a user id or a phone number) and the
    currency. Not in reprs: the token is a credential."""

    token: str
    payee: str | None = None
    currency: str | None = None
    ip: str | None = None

    def __repr__(self) -> str:
        return "Ahead(***)"


def read_ahead(
    uow: UnitOfWork, requests: Sequence[Ahead], now: datetime, risk: RiskEngine | None = None
) -> None:
    """The rows the batch's payments will read, one statement per table; `now` is the
    time their limits will count from (a payment whose day began since reads its own).
    With `risk`, the feature state's snapshots too (`RiskEngine.read_ahead`)."""
    hashes = [token_hash(r.token.strip()) for r in requests]
    by_token = uow.auth.read_sessions_ahead(hashes)
    sessions = list(by_token.values())
    payers = sorted({s.subject_id for s in sessions if s.subject_kind == USER})
    if not payers:
        return
    named = {r.payee for r in requests if r.payee is not None and r.payee.startswith("usr_")}
    payees = sorted(named - set(payers))
    paying = uow.identity.read_users_ahead(payers, for_update=True)
    found = paying + (uow.identity.read_users_ahead(payees) if payees else [])
    people = sorted({u.person_index for u in found if u.person_index is not None})
    if people:
        uow.identity.read_persons_ahead(people)
    accounts = {u.id: identity.person_accounts(uow, u) for u in paying}
    uow.payments.read_spend_ahead(accounts, *limits.spend_window(now))
    devices = sorted({s.device_id for s in sessions if s.device_id is not None})
    if devices:
        uow.auth.read_devices_ahead(devices)
    uow.auth.read_credentials_ahead(payers)
    _read_wallets_ahead(uow, requests, payers + payees)
    ips = [r.ip for r in requests if r.ip is not None]
    uow.risk.read_lists_ahead([*payers, *payees, *devices, *ips], now)
    if risk is not None:
        sessions_asked = [by_token.get(h) for h in hashes]
        risk.read_ahead(uow, _probes(requests, sessions_asked, now))


def _probes(
    requests: Sequence[Ahead], sessions: Sequence[Session | None], now: datetime
) -> list[StateProbe]:
    """What risk control will ask the feature state about each transfer to a user named
    by id (a payee named by phone, or a merchant, is known only once the payment runs)."""
    return [
        StateProbe(session.subject_id, now, session.device_id, r.ip, r.payee)
        for r, session in zip(requests, sessions, strict=True)
        if session is not None
        and session.subject_kind == USER
        and r.payee is not None
        and r.payee.startswith("usr_")
    ]


def _read_wallets_ahead(uow: UnitOfWork, requests: Sequence[Ahead], users: list[str]) -> None:
    """The users' wallets in the batch's currencies, and their ledger accounts."""
    wallets: list[int] = []
    for currency in sorted({r.currency for r in requests if r.currency is not None}):
        wallets += uow.wallets.read_ahead("user", users, currency, WALLET)
    if wallets:
        ledger.read_ahead(uow, wallets)
