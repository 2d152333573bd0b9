"""The unit of work: one transaction per request, job or CLI command.

Services receive a `UnitOfWork` and use its repositories; they never commit. The edge
that opened it commits when the use case returns, or everything rolls back. Side effects
that must not happen for work that rolls back (log lines about it, for now; the outbox
for webhooks later) are registered with `after_commit` and run only once it committed.

A refusal rolls back too, unless the service said otherwise: `keep()` marks what the
unit of work wrote so far as committing even if the use case then raises (a failure
count, a lockout, a step-up challenge, a spent nonce, a failed payment record, the audit
entry of a refusal: state a retry must meet). The edge that opened it (api/deps.py
`request_unit`) commits a refused unit of work if and only if `kept`, whatever the
error's class, and re-raises. A service calls it right before raising: whatever it
writes after `keep()` commits with the refusal too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Connection

from guardpay.domain.ledger.model import Account
from guardpay.errors import GuardpayError
from guardpay.storage.engine.db import Database
from guardpay.storage.engine.group_commit import Durable
from guardpay.storage.engine.memo import RowMemo
from guardpay.storage.ledger import LedgerRepository
from guardpay.storage.ledger_queries import LedgerQueries
from guardpay.storage.ledger_stage import LedgerStage, Staged

log = structlog.get_logger("guardpay.storage")

if TYPE_CHECKING:
    from guardpay.storage.aml import AmlRepository
    from guardpay.storage.audit import AuditRepository
    from guardpay.storage.auth import AuthRepository
    from guardpay.storage.cases import CaseRepository
    from guardpay.storage.encrypted import EncryptedFields
    from guardpay.storage.escrow import EscrowRepository
    from guardpay.storage.funding import FundingRepository
    from guardpay.storage.idempotency import IdempotencyRepository
    from guardpay.storage.identity import IdentityRepository
    from guardpay.storage.keys import KeyRepository
    from guardpay.storage.merchant_api import MerchantApiRepository
    from guardpay.storage.outbox import OutboxRepository
    from guardpay.storage.payments import PaymentRepository
    from guardpay.storage.red_packets import RedPacketRepository
    from guardpay.storage.refunds import RefundRepository
    from guardpay.storage.reports import ReportRepository
    from guardpay.storage.risk import RiskRepository
    from guardpay.storage.wallets import WalletRepository


class UnitOfWork:
    """A transaction's repositories. Given a connection, it is that transaction; given an
    `opener`, the transaction begins when first used (`lazy_unit_of_work`).

    Every repository is reached here, one property each (`uow.payments`, `uow.risk`, ...),
    never built by hand: a repository is a view of this transaction's connection (and of
    its row memo, for those that keep one), so one made elsewhere could miss either."""

    def __init__(
        self, conn: Connection | None = None, *, opener: Callable[[], Connection] | None = None
    ) -> None:
        if (conn is None) == (opener is None):
            raise ValueError("a unit of work needs a connection or an opener, not both")
        self._conn, self._opener = conn, opener
        self._after_commit: list[Callable[[], None]] = []
        self._kept = False
        self._savepoints = 0  # how many this unit took: each gets a name of its own
        self.memo = RowMemo(conn)
        #: the audit chain's end as this unit extended it (services/platform/audit.py
        #: `record`), its head row locked; written to the head row by `flush`
        self.audit_head: tuple[int, str] | None = None
        #: the ledger clock as this unit moved it (services/ledger/books.py), its row
        #: locked; written to the clock row by `flush`
        self.ledger_clock: int | None = None
        #: since when account rows lag (storage/ledger.py, "Deferred accounts"), read with
        #: the clock; this unit's own writes never defer, so it holds until commit
        self.ledger_lag = 0
        #: the ledger steps this unit computed and has not written (storage/ledger_stage.py)
        self.ledger_stage = LedgerStage()
        #: what a micro-batch read ahead from outside the database (the risk feature
        #: state's snapshots, services/risk/engine.py `read_ahead`), by the asker's key;
        #: a rolled-back savepoint keeps it (nothing in it was written by the unit)
        self.outside: dict[Hashable, object] = {}

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            assert self._opener is not None
            self._conn = self._opener()
            self.memo.watch(self._conn)
        return self._conn

    @property
    def begun(self) -> bool:
        return self._conn is not None

    def after_commit(self, effect: Callable[[], None]) -> None:
        self._after_commit.append(effect)

    def after_commit_each(self, flush: Callable[[list[Any]], None], item: object) -> None:
        """`item` handed to `flush` after commit, in one call with every other item
        registered for the same `flush` (a micro-batch's risk events go to the feature
        state in one round trip). A rolled-back savepoint drops the items it registered."""
        self._after_commit.append(_Each(flush, item))

    def keep(self) -> None:
        """What this unit of work wrote so far (and writes from now on) commits even if
        the request is then refused (module docstring). Call it right before raising the
        refusal whose bookkeeping must survive."""
        self._kept = True

    @property
    def kept(self) -> bool:
        """Whether a refusal of this unit of work commits (`keep`)."""
        return self._kept

    def savepoint(self) -> Savepoint:
        """A point this unit of work can roll back to without ending.

        Issued to the driver as fixed text (`SAVEPOINT gp_N`), not through SQLAlchemy's
        `begin_nested`, which compiles a clause and fires events for each: a batched
        payment takes two savepoints, and measured, `begin_nested` + release cost 52 us a
        pair where the driver takes 1.2 us. SQLAlchemy's own nested transactions (taken
        inside one of these) still work: savepoints nest by name in SQL."""
        self._savepoints += 1
        name = f"gp_{self._savepoints}"
        _driver(self.conn).execute(f"SAVEPOINT {name}")
        return Savepoint(
            self,
            name,
            len(self._after_commit),
            self._kept,
            self.audit_head,
            self.ledger_clock,
            self.ledger_stage.snapshot(),
        )

    def flush(self) -> None:
        """What this unit keeps in memory until it commits: the ledger steps it staged,
        the audit head and the ledger clock, which every payment moves (a batch of
        payments writes each once, not once per payment). The edge that opened the unit
        calls this as its last write (`unit_of_work` and `lazy_unit_of_work` do), so work
        refused and rolled back never writes them."""
        self.staged_ledger.write_staged()
        if self.audit_head is not None:
            self.audit.set_head(*self.audit_head)
        if self.ledger_clock is not None:
            self.ledger.set_clock(self.ledger_clock)

    def run_after_commit(self) -> None:
        """Each effect runs even if an earlier one failed: the work is committed, and a
        failing side effect must neither hide the others nor turn a committed answer into
        an error (a retry would then do the work twice)."""
        effects, self._after_commit = self._after_commit, []
        grouped: dict[Callable[[list[Any]], None], list[Any]] = {}
        for effect in effects:
            if isinstance(effect, _Each):
                grouped.setdefault(effect.flush, []).append(effect.item)
            else:
                _run_effect(effect)
        for flush, items in grouped.items():
            _run_effect(partial(flush, items))

    @property
    def ledger(self) -> LedgerRepository:
        """The ledger's tables as they are: what the unit staged is written first."""
        self.staged_ledger.write_staged()
        return LedgerRepository(self.conn)

    @property
    def staged_ledger(self) -> LedgerRepository:
        """The ledger's tables with this unit's staged steps laid over them, for the
        ledger step that stages (services/ledger/books.py `execute`)."""
        return LedgerRepository(self.conn, self.ledger_stage)

    @property
    def ledger_queries(self) -> LedgerQueries:
        """The ledger's read side: what the unit staged is written first."""
        self.staged_ledger.write_staged()
        return LedgerQueries(self.conn)

    def ledger_account(self, account_id: int) -> Account | None:
        """One account as this unit sees it, staged steps included, without writing
        them (a balance every payment reads, services/risk/screening.py). Kept for the
        unit once read under the ledger lock (the clock locked: nobody else moves it)."""
        known = self.ledger_stage.known(account_id)
        if known is not None:
            return known
        if self.ledger_clock is None:
            return LedgerQueries(self.conn).account(account_id)
        found = self.staged_ledger.accounts_by_id([account_id], self.ledger_lag).get(account_id)
        if found is not None:
            self.ledger_stage.stored[account_id] = found
        return found

    # Repositories of later layers are imported here, not at module level, so the ledger
    # never depends on them.
    @property
    def reports(self) -> ReportRepository:
        from guardpay.storage.reports import ReportRepository

        return ReportRepository(self.conn)

    @property
    def cases(self) -> CaseRepository:
        from guardpay.storage.cases import CaseRepository

        return CaseRepository(self.conn)

    @property
    def aml(self) -> AmlRepository:
        from guardpay.storage.aml import AmlRepository

        return AmlRepository(self.conn)

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

    @property
    def payments(self) -> PaymentRepository:
        from guardpay.storage.payments import PaymentRepository

        return PaymentRepository(self.conn, self.memo)

    @property
    def risk(self) -> RiskRepository:
        from guardpay.storage.risk import RiskRepository

        return RiskRepository(self.conn, self.memo)

    @property
    def outbox(self) -> OutboxRepository:
        from guardpay.storage.outbox import OutboxRepository

        return OutboxRepository(self.conn)

    @property
    def escrow(self) -> EscrowRepository:
        from guardpay.storage.escrow import EscrowRepository

        return EscrowRepository(self.conn)

    @property
    def red_packets(self) -> RedPacketRepository:
        from guardpay.storage.red_packets import RedPacketRepository

        return RedPacketRepository(self.conn)

    @property
    def refunds(self) -> RefundRepository:
        from guardpay.storage.refunds import RefundRepository

        return RefundRepository(self.conn)

    @property
    def funding(self) -> FundingRepository:
        """Reads ledger accounts (its reconciliation): what the unit staged is written
        first."""
        from guardpay.storage.funding import FundingRepository

        self.staged_ledger.write_staged()
        return FundingRepository(self.conn)

    @property
    def merchant_api(self) -> MerchantApiRepository:
        from guardpay.storage.merchant_api import MerchantApiRepository

        return MerchantApiRepository(self.conn)

    @property
    def idempotency(self) -> IdempotencyRepository:
        from guardpay.storage.idempotency import IdempotencyRepository

        return IdempotencyRepository(self.conn)

    @property
    def encrypted_fields(self) -> EncryptedFields:
        from guardpay.storage.encrypted import EncryptedFields

        return EncryptedFields(self.conn)


def _run_effect(effect: Callable[[], None]) -> None:
    try:
        effect()
    except Exception as exc:  # logged: committed work is never reported failed
        log.error("after_commit_failed", error_type=type(exc).__name__)


@dataclass(frozen=True)
class _Each:
    """An item for a grouped after-commit effect (`UnitOfWork.after_commit_each`); run
    alone, it flushes itself."""

    flush: Callable[[list[Any]], None]
    item: object

    def __call__(self) -> None:
        self.flush([self.item])


@dataclass(frozen=True)
class Savepoint:
    """Work since a point in a unit of work, undone alone by `rollback` together with
    the after-commit effects it registered (they speak of work that will not commit).
    As a context manager: released when the block ends, rolled back if it raises."""

    uow: UnitOfWork
    name: str  # the SQL savepoint's
    effects: int  # how many after-commit effects there were at the point
    kept: bool  # whether the unit of work was kept (`UnitOfWork.keep`) at the point
    audit_head: tuple[int, str] | None  # the unit's audit chain end at the point
    ledger_clock: int | None  # the unit's ledger clock at the point
    ledger_staged: tuple[Staged, ...]  # the ledger steps it had staged (not written)

    @property
    def kept_since(self) -> bool:
        """Whether `keep` was called since the point (a refusal to release it for)."""
        return self.uow.kept and not self.kept

    def release(self) -> None:
        _driver(self.uow.conn).execute(f"RELEASE SAVEPOINT {self.name}")

    def rollback(self) -> None:
        """Undo the work since the point, its after-commit effects and any `keep` since,
        and forget the rows read since (their writes, and any row lock, are undone)."""
        driver = _driver(self.uow.conn)
        driver.execute(f"ROLLBACK TO SAVEPOINT {self.name}")
        driver.execute(f"RELEASE SAVEPOINT {self.name}")
        self.uow.memo.clear()
        # the entries and transfers since are gone (and, on PostgreSQL, the head's and
        # the clock's row locks if they were taken since)
        self.uow.audit_head, self.uow.ledger_clock = self.audit_head, self.ledger_clock
        self.uow.ledger_stage.restore(self.ledger_staged)
        del self.uow._after_commit[self.effects :]
        self.uow._kept = self.kept

    def __enter__(self) -> Savepoint:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.release()
        else:
            self.rollback()


def _driver(conn: Connection) -> Any:
    """The DB-API connection under `conn` (sqlite3's and psycopg's both `execute`)."""
    return conn.connection.dbapi_connection


@contextmanager
def member(uow: UnitOfWork) -> Iterator[UnitOfWork]:
    """One request among several sharing `uow` (a micro-batch of payments,
    api/batching.py), under the commit policy of a request alone: its work stays on
    success and, when it raises a `GuardpayError`, if it kept what it wrote (`keep`);
    otherwise it is rolled back to a savepoint taken first, leaving the others' work
    alone. Either way the error is re-raised for the request's answer."""
    uow._kept = False  # another member's keep says nothing of this one
    point = uow.savepoint()
    try:
        yield uow
    except GuardpayError:
        if point.kept_since:
            point.release()
        else:
            point.rollback()
        raise
    except BaseException:
        point.rollback()
        raise
    else:
        point.release()
    finally:
        uow._kept = False


@contextmanager
def unit_of_work(db: Database, durable: Durable | None = None) -> Iterator[UnitOfWork]:
    """A write unit of work: commits when the block ends normally; given `durable`, the
    block may end before the commit is on disk, and `durable` is told once it is (or
    why it is not), never before the after-commit effects ran: for the payment batcher,
    whose thread goes on to the next batch meanwhile."""
    told = None if durable is None else _Durably(durable)
    with db.begin(None if told is None else told.synced) as conn:
        uow = UnitOfWork(conn)
        yield uow
        uow.flush()
    uow.run_after_commit()
    if told is not None:
        told.effects_ran()


class _Durably:
    """Tells `durable` once both happened: the commit was synced (or failed to be), and
    the unit's after-commit effects ran (an answer released before them would race
    what they record, such as an Idempotency-Key's claim being seen committed)."""

    def __init__(self, durable: Durable) -> None:
        self._durable, self._lock = durable, threading.Lock()
        self._synced: tuple[str | None] | None = None
        self._ran = False

    def synced(self, failure: str | None) -> None:
        with self._lock:
            self._synced = (failure,)
            ready = self._ran
        if ready:
            self._durable(failure)

    def effects_ran(self) -> None:
        with self._lock:
            self._ran = True
            synced = self._synced
        if synced is not None:
            self._durable(synced[0])


@contextmanager
def lazy_unit_of_work(db: Database) -> Iterator[UnitOfWork]:
    """A write unit of work whose transaction begins at its first use, in whichever
    thread that is, and commits when the block ends normally (if it began at all).

    An API request's unit of work is opened before its dependencies and endpoint run,
    each in a worker thread of its own with the event loop in between; begun eagerly,
    SQLite's write lock was held across all those hand-overs (storage/engine/db.py)."""
    with ExitStack() as stack:
        uow = UnitOfWork(opener=lambda: stack.enter_context(db.begin()))
        yield uow
        if uow.begun:
            uow.flush()
    uow.run_after_commit()


@contextmanager
def read_only(db: Database) -> Iterator[UnitOfWork]:
    """A read unit of work that never blocks the ledger writer on SQLite."""
    with db.read() as conn:
        yield UnitOfWork(conn)
