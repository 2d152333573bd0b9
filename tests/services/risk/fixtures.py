"""A risk engine that allows everything, for tests of mechanics that are not risk
control's (bank-callback chaos, escrow timing): their traffic (many tiny top-ups a
minute, one buyer emptying a wallet twice) is exactly what the default rules question.
Risk control itself is tested with the default rules (tests/services/test_risk.py,
tests/api/test_risk_api.py, and every payments test)."""

from __future__ import annotations

from guardpay.domain.risk.rules import load_rule_set
from guardpay.services.risk.engine import RiskEngine, RuleSource

ALLOW_ALL = """
name: allow_all
version: 1
thresholds: {challenge: 40, review: 70, deny: 90}
rules: []
"""


def quiet_risk() -> RiskEngine:
    return RiskEngine(rules=RuleSource.fixed(load_rule_set(ALLOW_ALL, source="allow_all")))
