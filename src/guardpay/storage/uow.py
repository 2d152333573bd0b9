"""The unit of work: one transaction per request, job or CLI command.

Services receive a `UnitOfWork` and use its repositories; they never commit. The edge
that opened it commits when the use case returns, or everything rolls back. Side effects
that must not happen for work that rolls back (log lines about it, for now; the outbox
for webhooks later) are registered with `after_commit` and run only once it committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import Connection

from guardpay.storage.db import Database
from guardpay.storage.ledger import LedgerRepository
from guardpay.storage.ledger_queries import LedgerQueries
from guardpay.storage.memo import RowMemo

log = structlog.get_logger("guardpay.storage")

if TYPE_CHECKING:
    from guardpay.storage.audit import AuditRepository
    from guardpay.storage.auth import AuthRepository
    from guardpay.storage.identity import IdentityRepository
    from guardpay.storage.keys import KeyRepository
    from guardpay.storage.wallets import WalletRepository


@dataclass
class UnitOfWork:
    conn: Connection
    _after_commit: list[Callable[[], None]] = field(default_factory=list)
    memo: RowMemo = field(init=False)

    def __post_init__(self) -> None:
        self.memo = RowMemo(self.conn)

    def after_commit(self, effect: Callable[[], None]) -> None:
        self._after_commit.append(effect)

    def run_after_commit(self) -> None:
        """Each effect runs even if an earlier one failed: the work is committed, and a
        failing side effect must neither hide the others nor turn a committed answer into
        an error (a retry would then do the work twice)."""
        effects, self._after_commit = self._after_commit, []
        for effect in effects:
            try:
                effect()
            except Exception as exc:  # logged: committed work is never reported failed
                log.error("after_commit_failed", error_type=type(exc).__name__)

    @property
    def ledger(self) -> LedgerRepository:
        return LedgerRepository(self.conn)

    @property
    def ledger_queries(self) -> LedgerQueries:
        return LedgerQueries(self.conn)

    # Repositories of later layers are imported here, not at module level, so the ledger
    # never depends on them.
    @property
    def keys(self) -> KeyRepository:
        from guardpay.storage.keys import KeyRepository

        return KeyRepository(self.conn)

    @property
    def audit(self) -> AuditRepository:
        from guardpay.storage.audit import AuditRepository

        return AuditRepository(self.conn)

    @property
    def identity(self) -> IdentityRepository:
        from guardpay.storage.identity import IdentityRepository

        return IdentityRepository(self.conn, self.memo)

    @property
    def wallets(self) -> WalletRepository:
        from guardpay.storage.wallets import WalletRepository

        return WalletRepository(self.conn, self.memo)

    @property
    def auth(self) -> AuthRepository:
        from guardpay.storage.auth import AuthRepository

        return AuthRepository(self.conn, self.memo)


@contextmanager
def unit_of_work(db: Database) -> Iterator[UnitOfWork]:
    """A write unit of work: commits when the block ends normally."""
    with db.begin() as conn:
        uow = UnitOfWork(conn)
        yield uow
    uow.run_after_commit()


@contextmanager
def read_only(db: Database) -> Iterator[UnitOfWork]:
    """A read unit of work that never blocks the ledger writer on SQLite."""
    with db.read() as conn:
        yield UnitOfWork(conn)
