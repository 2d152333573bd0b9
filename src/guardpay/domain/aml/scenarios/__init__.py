"""Every AML scenario, in a stable order: one account's own history (structuring,
dormancy), flows (fan-in, fan-out, pass-through, scatter-gather, gather-scatter,
layering), paths (cycles), shared devices (account farms), merchants' takings (false
trade)."""

from __future__ import annotations

from guardpay.domain.aml.registry import Scenario
from guardpay.domain.aml.scenarios import accounts, devices, flows, paths, trades

SCENARIOS: tuple[Scenario, ...] = (
    *accounts.SCENARIOS,
    *flows.SCENARIOS,
    *paths.SCENARIOS,
    *devices.SCENARIOS,
    *trades.SCENARIOS,
)


def by_typology(names: list[str] | None = None) -> tuple[Scenario, ...]:
    """The registered scenarios, or those named (an unknown name is a ValueError)."""
    if not names:
        return SCENARIOS
    known = {s.typology: s for s in SCENARIOS}
    unknown = sorted(set(names) - known.keys())
    if unknown:
        raise ValueError(f"unknown scenarios: {', '.join(unknown)} (known: {', '.join(known)})")
    return tuple(known[n] for n in names)
