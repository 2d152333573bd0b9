"""The bank channel: where top-up and withdrawal instructions go, and what comes back.

`BankChannel` is what the platform needs from a bank: `submit` an instruction and get the
bank's reference; the bank answers later, by callback, which the edge hands to
`services.payments.funding.handle_callback`. A real adapter would detokenize the card inside the
bank connector; instructions only ever carry the card token and last four.

`FakeBank` behaves like a real one so the platform is tested against its worst day: it
answers asynchronously (callbacks queue until `pump`ed, or a thread pumps them), some
late, some twice, some out of order, some with failure, and now and then sends a
contradicting answer after its final one (which the platform must ignore). A delivery
that fails (the callback endpoint answered non-2xx: `deliver` raised) is sent again on
the next tick, up to `max_attempts` times, then given up as a real bank gives up; the
statement still lists the instruction. Everything is drawn from one seeded RNG, so a
failing chaos run replays exactly. Its references are not drawn from that RNG: each
is `bnk_<instance>_<n>`, where the instance id (the time it started, in milliseconds,
and 48 random bits) is new in every process, so a restarted server or a second worker
never repeats a reference the database already holds (the platform's unique key); a
test that replays a day pins `instance` to replay the references too. Its daily statement
(CSV: date, bank_reference, direction, amount, currency, status) states the bank's
final answers: the truth `reconcile statement` checks the platform against.
"""

from __future__ import annotations

import csv
import importlib
import io
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Protocol, cast

from guardpay.config import Settings
from guardpay.errors import InvalidRequest

STATEMENT_FIELDS = ("date", "bank_reference", "direction", "amount", "currency", "status")


@dataclass(frozen=True, slots=True)
class BankInstruction:
    """Move `amount` minor units in (top-up) or out (withdrawal) for this card token."""

    instruction_id: str  # the platform's funding id: the bank dedupes on it
    direction: str  # "in" | "out"
    amount: int
    currency: str
    card_token: str
    card_last4: str
    value_date: date


@dataclass(frozen=True, slots=True)
class BankCallback:
    bank_reference: str
    instruction_id: str
    status: str  # "succeeded" | "failed"
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class StatementRow:
    date: date
    bank_reference: str
    direction: str
    amount: int
    currency: str
    status: str


class BankChannel(Protocol):
    def submit(self, instruction: BankInstruction) -> str:
        """Accept an instruction (idempotent by instruction id); return its reference."""
        ...


#: a deployment's bank adapter: `package.module:factory`, the factory returning a
#: `BankChannel` (it reads its own settings); unset, the server runs `FakeBank`. The
#: variable config.py reads into `Settings.bank_adapter`
ADAPTER_ENV = "GUARDPAY_BANK_ADAPTER"


class BankConfigError(ValueError):
    """GUARDPAY_BANK_ADAPTER names nothing usable (the message says what, never a secret)."""


def bank_from_settings(settings: Settings) -> BankChannel | None:
    """The deployment's bank adapter (`settings.bank_adapter`), loaded by its dotted path
    (the way Django loads a mail backend), or None when none is configured (the server
    then runs the fake)."""
    path = (settings.bank_adapter or "").strip()
    if not path:
        return None
    module_name, _, factory_name = path.partition(":")
    if not module_name or not factory_name:
        raise BankConfigError(f"{ADAPTER_ENV} must be 'package.module:factory'")
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as exc:
        why = type(exc).__name__
        raise BankConfigError(f"{ADAPTER_ENV}: cannot load {path!r} ({why})") from None
    channel = factory()
    if not callable(getattr(channel, "submit", None)):
        raise BankConfigError(f"{ADAPTER_ENV}: {path!r} did not return a bank channel")
    return cast(BankChannel, channel)


@dataclass(frozen=True)
class Chaos:
    """How badly the fake bank behaves; probabilities per instruction."""

    failure: float = 0.2
    duplicate: float = 0.3
    late: float = 0.2
    contradiction: float = 0.15


@dataclass
class _Order:
    reference: str
    instruction: BankInstruction
    status: str


def new_instance_id() -> str:
    """A fake bank's id, unique across restarts and processes: the start time in
    milliseconds (12 hex digits, so later instances sort later) and 48 random bits
    (instances started in the same millisecond differ)."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


@dataclass
class FakeBank:
    """An in-process bank. `pump` delivers the callbacks that are due, in shuffled order."""

    seed: int = 0
    chaos: Chaos = field(default_factory=Chaos)
    declined_tokens: set[str] = field(default_factory=set)
    max_attempts: int = 100  # deliveries of one callback before the bank gives up on it
    instance: str = field(default_factory=new_instance_id)  # in every reference

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._orders: dict[str, _Order] = {}  # by instruction id
        self._queue: list[tuple[int, BankCallback, int]] = []  # (due tick, callback, tries)
        self.given_up: list[BankCallback] = []  # never accepted in `max_attempts` tries
        self._tick = 0
        self._lock = threading.Lock()

    def submit(self, instruction: BankInstruction) -> str:
        with self._lock:
            known = self._orders.get(instruction.instruction_id)
            if known is not None:
                return known.reference
            reference = f"bnk_{self.instance}_{len(self._orders) + 1:08d}"
            failed = (
                instruction.card_token in self.declined_tokens
                or self._rng.random() < self.chaos.failure
            )
            order = _Order(reference, instruction, "failed" if failed else "succeeded")
            self._orders[instruction.instruction_id] = order
            self._schedule(order)
            return reference

    def _schedule(self, order: _Order) -> None:
        """Queue the final answer, maybe late, maybe twice, maybe contradicted later."""
        rng, chaos = self._rng, self.chaos
        answer = _callback(order, order.status)
        due = self._tick + (rng.randint(6, 20) if rng.random() < chaos.late else rng.randint(1, 3))
        self._queue.append((due, answer, 0))
        if rng.random() < chaos.duplicate:
            self._queue.append((due + rng.randint(0, 8), answer, 0))
        if rng.random() < chaos.contradiction:
            other = "failed" if order.status == "succeeded" else "succeeded"
            self._queue.append((due + rng.randint(1, 10), _callback(order, other), 0))

    @property
    def idle(self) -> bool:
        return not self._queue

    def pump(self, deliver: Callable[[BankCallback], object], ticks: int = 1) -> int:
        """Advance the bank's clock and deliver what is due; returns how many were
        accepted. A delivery that raises (for the HTTP endpoint: a non-2xx answer) is
        retried on the next tick, as a bank retries, until `max_attempts`."""
        sent = 0
        for _ in range(ticks):
            with self._lock:
                self._tick += 1
                due = [(c, n) for t, c, n in self._queue if t <= self._tick]
                self._queue = [q for q in self._queue if q[0] > self._tick]
                self._rng.shuffle(due)
            for callback, tries in due:
                try:
                    deliver(callback)
                    sent += 1
                except Exception:
                    self._retry(callback, tries + 1)
        return sent

    def _retry(self, callback: BankCallback, tries: int) -> None:
        with self._lock:
            if tries >= self.max_attempts:
                self.given_up.append(callback)
            else:
                self._queue.append((self._tick + 1, callback, tries))

    def drain(self, deliver: Callable[[BankCallback], object], max_ticks: int = 1000) -> None:
        """Pump until nothing is left to deliver."""
        for _ in range(max_ticks):
            if self.idle:
                return
            self.pump(deliver)
        raise RuntimeError("the fake bank could not deliver its callbacks")

    def run_in_thread(
        self,
        deliver: Callable[[BankCallback], object],
        stop: threading.Event,
        interval: float = 0.05,
    ) -> threading.Thread:
        """Pump in the background (for the demo), until `stop` is set."""

        def loop() -> None:
            while not stop.wait(interval):
                self.pump(deliver)

        thread = threading.Thread(target=loop, name="fake-bank", daemon=True)
        thread.start()
        return thread

    def final_status(self, reference: str) -> str | None:
        found = [o.status for o in self._orders.values() if o.reference == reference]
        return found[0] if found else None

    def statement(self, day: date | None = None) -> list[StatementRow]:
        """The bank's final answers (for one value date, or all), in reference order."""
        rows = [
            StatementRow(
                o.instruction.value_date,
                o.reference,
                o.instruction.direction,
                o.instruction.amount,
                o.instruction.currency,
                o.status,
            )
            for o in self._orders.values()
            if day is None or o.instruction.value_date == day
        ]
        return sorted(rows, key=lambda r: r.bank_reference)

    def write_statement(self, path: Path, day: date | None = None) -> Path:
        return write_statement(path, self.statement(day))


def _callback(order: _Order, status: str) -> BankCallback:
    i = order.instruction
    return BankCallback(order.reference, i.instruction_id, status, i.amount, i.currency)


def write_statement(path: Path, rows: Iterable[StatementRow]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(STATEMENT_FIELDS)
        for r in rows:
            writer.writerow(
                [r.date.isoformat(), r.bank_reference, r.direction, r.amount, r.currency, r.status]
            )
    return path


def read_statement(path: Path) -> list[StatementRow]:
    """Parse a statement file; a malformed one is refused whole (`invalid_statement`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise _unreadable(exc) from exc
    return parse_statement(text)


def parse_statement(text: str) -> list[StatementRow]:
    """A statement's text (an upload, a file), refused whole if malformed."""
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if tuple(reader.fieldnames or ()) != STATEMENT_FIELDS:
            raise ValueError(f"expected columns {','.join(STATEMENT_FIELDS)}")
        return [_row(r, n) for n, r in enumerate(reader, start=2)]
    except (csv.Error, ValueError) as exc:
        raise _unreadable(exc) from exc


def _unreadable(exc: Exception) -> InvalidRequest:
    return InvalidRequest(
        f"cannot read the bank statement: {exc}", code="invalid_statement", param="file"
    )


def _row(raw: dict[str, str], line: int) -> StatementRow:
    amount = raw["amount"]
    if not amount.isascii() or not amount.isdigit():
        raise ValueError(f"line {line}: amount must be whole minor units")
    if raw["direction"] not in ("in", "out") or raw["status"] not in ("succeeded", "failed"):
        raise ValueError(f"line {line}: unknown direction or status")
    row = StatementRow(
        date.fromisoformat(raw["date"]),
        raw["bank_reference"],
        raw["direction"],
        int(amount),
        raw["currency"],
        raw["status"],
    )
    return replace(row, currency=row.currency.upper())
