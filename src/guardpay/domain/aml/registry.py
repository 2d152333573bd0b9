"""The registered scenarios: small pure functions from the transaction table (frame.py)
and the settings to findings (findings.py). A scenario is registered by being listed in
its module's `SCENARIOS`; `scenarios/__init__.py` gathers them in a stable order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis.expr.types as ir

from guardpay.domain.aml.frame import Params

Run = Callable[[ir.Table, Params], ir.Table]


@dataclass(frozen=True)
class Scenario:
    """`typology` names what it finds (a finding's `typology`); `needs` the optional
    columns it reads (a scan without them skips it and says so)."""

    typology: str
    run: Run
    needs: frozenset[str] = frozenset()

    @property
    def why(self) -> str:
        """The first line of the function's docstring: what the typology looks like."""
        doc = (self.run.__doc__ or self.typology).strip()
        return doc.splitlines()[0]
