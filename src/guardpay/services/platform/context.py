"""What every identity, auth and payment use case receives: one request's context.

`Context` bundles the unit of work (one transaction), the keyring that unlocks personal
data, the clock, who is acting from where, and the settings, so a service can encrypt,
audit and decide without reaching for globals. Edges build one per request, job or CLI
command.

Settings travel here: a service that needs a setting while it runs (the review window,
the webhook destination opt-in, the default risk engine's rules and Redis) reads
`ctx.settings`, which the edge fills with the `Settings` it built once at start (the
app's `app.state.settings`, the job scheduler's, `guardpay jobs run`'s). A context built
without them (a test, a CLI command that needs none) gets `Settings()`: the documented
defaults, never the environment, which only config.py reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from guardpay.clock import utc_now
from guardpay.config import Settings
from guardpay.services.platform import audit
from guardpay.storage.uow import UnitOfWork

if TYPE_CHECKING:
    from guardpay.security.keys import Keyring
    from guardpay.security.vault import Vault


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: a context's settings when its edge gives none: the defaults (frozen, so shared)
DEFAULT_SETTINGS = Settings()


@dataclass(frozen=True)
class Actor:
    """Who acts: `kind` is user, operator, merchant or system; `id` theirs; `ip` and
    `device_id` where from (for the audit log and the risk features)."""

    kind: str = "system"
    id: str = "system"
    ip: str | None = None
    device_id: str | None = None
    location: tuple[float, float] | None = None  # (lat, lon) the client reported, if any

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}"


SYSTEM = Actor()


@dataclass
class Context:
    uow: UnitOfWork
    keyring: Keyring
    actor: Actor = SYSTEM
    clock: Callable[[], datetime] = utc_now
    _vault: Vault | None = field(default=None, repr=False)
    #: the engine deciding this request (the app's); None: the process default, which
    #: services/risk/engine.py `engine_of` supplies
    #: (typed `object`: the platform layer sits below risk and cannot name its class;
    #: `engine_of` checks it)
    risk_engine: object | None = field(default=None, repr=False)
    #: the edge's settings (config.py), built once at its start
    settings: Settings = field(default=DEFAULT_SETTINGS, repr=False)

    def now(self) -> datetime:
        return self.clock()

    def ledger_clock(self) -> int:
        """This request's clock in the ledger's nanoseconds (exact: no float on the way),
        so the ledger and the use case agree, fake clocks in tests included."""
        return (self.clock() - _EPOCH) // timedelta(microseconds=1) * 1_000

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            from guardpay.security.vault import Vault

            self._vault = Vault(self.uow.keys, self.keyring)
        return self._vault

    def audit(
        self,
        action: str,
        *,
        subject: str | None = None,
        outcome: str = "ok",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Append to the hash-chained audit log, in this unit of work."""
        actor = self.actor
        audit.record(
            self.uow,
            self.now(),
            actor.label,
            actor.ip,
            action,
            subject=subject,
            outcome=outcome,
            details=details or {},
        )

    def as_actor(self, actor: Actor) -> Context:
        return Context(
            self.uow, self.keyring, actor, self.clock, self._vault, self.risk_engine, self.settings
        )


__all__ = ["SYSTEM", "Actor", "Context", "utc_now"]
