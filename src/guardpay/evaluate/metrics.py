"""What the evaluation reports, as pure functions over a table of decided requests.

The input is one row per request of the evaluated period with `is_fraud` (0/1),
`fraud_typology` (str, "" for legitimate), `amount` (minor units) and `decision` (allow,
challenge, review, deny); `day` (int) too for the per-day losses.

Definitions (all counts and amounts over the evaluated period only):
- caught: deny or review (money stopped, or held until an analyst declines it: the
  replay assumes analysts decline held fraud); a challenge counts as caught only for the
  typologies in `CatchPolicy.challenge_stops` (default: account takeover and card
  testing - the fraudster lacks the victim's second factor; in a scam the victim passes
  the step-up themselves, so a challenge stops nothing).
- fraud recall by count = caught fraud / fraud; by amount = caught fraud amount / fraud
  amount; per typology the same within the typology.
- review_rate = reviewed / all requests; deny_rate = denied / all requests.
- false_deny_rate = legitimate denied / legitimate; challenge_rate_legit = legitimate
  challenged / legitimate; review_rate_legit = legitimate reviewed / legitimate.
- review_precision = fraud reviewed / reviewed, deny_precision = fraud denied / denied;
  per typology, that typology's reviewed (denied) / all reviewed (denied): its share of
  the queue, so the typologies' precisions add up to the overall one.
- loss_prevented = amount of caught fraud; loss_let_through = amount of fraud not caught.
- a typology is missed when its recall by count or by amount is below `MISS_BELOW`.
A ratio with a zero denominator is None (JSON null), never a made-up 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import polars as pl

MISS_BELOW: Final = 0.5
UNLABELLED: Final = "(no typology)"
TARGETS: Final[dict[str, tuple[str, float]]] = {
    "fraud_recall_by_amount": (">=", 0.90),
    "review_rate": ("<=", 0.01),
    "false_deny_rate": ("<=", 0.001),
}
DEFAULT_CHALLENGE_STOPS: Final = ("account_takeover", "card_testing")


@dataclass(frozen=True)
class CatchPolicy:
    """Which typologies a challenge (step-up) stops: a typology named exactly as, or
    starting with `<name>_`, one of `challenge_stops`."""

    challenge_stops: tuple[str, ...] = DEFAULT_CHALLENGE_STOPS

    def challenge_caught(self, typology: str) -> bool:
        return any(typology == s or typology.startswith(f"{s}_") for s in self.challenge_stops)


def ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


def with_caught(outcomes: pl.DataFrame, policy: CatchPolicy) -> pl.DataFrame:
    """`outcomes` plus `typology` (fraud rows without one get UNLABELLED) and `caught`."""
    typology = (
        pl.when(pl.col("is_fraud") == 1)
        .then(pl.col("fraud_typology").fill_null("").replace("", UNLABELLED))
        .otherwise(pl.lit(""))
    )
    frame = outcomes.with_columns(typology.alias("typology"))
    stops = {t for t in frame["typology"].unique().to_list() if t and policy.challenge_caught(t)}
    decision = pl.col("decision")
    caught = decision.is_in(["review", "deny"]) | (
        (decision == "challenge") & pl.col("typology").is_in(sorted(stops))
    )
    return frame.with_columns(((pl.col("is_fraud") == 1) & caught).alias("caught"))


def compute_metrics(outcomes: pl.DataFrame, policy: CatchPolicy | None = None) -> dict[str, Any]:
    """Every headline figure, the per-typology table, the misses and the targets."""
    policy = policy or CatchPolicy()
    frame = with_caught(outcomes, policy)
    out = overall(frame)
    out["per_typology"] = per_typology(frame, policy)
    out["missed_typologies"] = missed(out["per_typology"])
    out["targets"] = targets(out)
    out["caught_definition"] = {"challenge_stops": list(policy.challenge_stops)}
    if "day" in frame.columns:
        out["losses_by_day"] = losses_by_day(frame)
    return out


def _counts(frame: pl.DataFrame) -> dict[str, int]:
    fraud, legit = pl.col("is_fraud") == 1, pl.col("is_fraud") == 0
    dec = pl.col("decision")
    amount = pl.col("amount")
    row = frame.select(
        requests=pl.len(),
        fraud=fraud.sum(),
        legit=legit.sum(),
        fraud_amount=amount.filter(fraud).sum(),
        caught=pl.col("caught").sum(),
        caught_amount=amount.filter(pl.col("caught")).sum(),
        reviewed=(dec == "review").sum(),
        denied=(dec == "deny").sum(),
        challenged=(dec == "challenge").sum(),
        fraud_reviewed=(fraud & (dec == "review")).sum(),
        fraud_denied=(fraud & (dec == "deny")).sum(),
        legit_denied=(legit & (dec == "deny")).sum(),
        legit_reviewed=(legit & (dec == "review")).sum(),
        legit_challenged=(legit & (dec == "challenge")).sum(),
    ).row(0, named=True)
    return {name: int(value or 0) for name, value in row.items()}


def overall(frame: pl.DataFrame) -> dict[str, Any]:
    """The headline figures of a table that already has `caught`."""
    c = _counts(frame)
    return {
        "requests": c["requests"],
        "fraud": c["fraud"],
        "legit": c["legit"],
        "fraud_amount": c["fraud_amount"],
        "fraud_recall_by_count": ratio(c["caught"], c["fraud"]),
        "fraud_recall_by_amount": ratio(c["caught_amount"], c["fraud_amount"]),
        "review_rate": ratio(c["reviewed"], c["requests"]),
        "deny_rate": ratio(c["denied"], c["requests"]),
        "challenge_rate": ratio(c["challenged"], c["requests"]),
        "false_deny_rate": ratio(c["legit_denied"], c["legit"]),
        "challenge_rate_legit": ratio(c["legit_challenged"], c["legit"]),
        "review_rate_legit": ratio(c["legit_reviewed"], c["legit"]),
        "review_precision": ratio(c["fraud_reviewed"], c["reviewed"]),
        "deny_precision": ratio(c["fraud_denied"], c["denied"]),
        "reviewed": c["reviewed"],
        "denied": c["denied"],
        "challenged": c["challenged"],
        "loss_prevented": c["caught_amount"],
        "loss_let_through": c["fraud_amount"] - c["caught_amount"],
    }


def per_typology(frame: pl.DataFrame, policy: CatchPolicy) -> dict[str, dict[str, Any]]:
    """Recall, precision shares and losses of each fraud typology, by name."""
    reviewed = int((frame["decision"] == "review").sum())
    denied = int((frame["decision"] == "deny").sum())
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(t for t in frame["typology"].unique().to_list() if t):
        part = frame.filter(pl.col("typology") == name)
        c = _counts(part)
        out[name] = {
            "count": c["fraud"],
            "amount": c["fraud_amount"],
            "caught": c["caught"],
            "caught_amount": c["caught_amount"],
            "recall_by_count": ratio(c["caught"], c["fraud"]),
            "recall_by_amount": ratio(c["caught_amount"], c["fraud_amount"]),
            "reviewed": c["reviewed"],
            "denied": c["denied"],
            "challenged": c["challenged"],
            "allowed": c["fraud"] - c["reviewed"] - c["denied"] - c["challenged"],
            "review_precision": ratio(c["fraud_reviewed"], reviewed),
            "deny_precision": ratio(c["fraud_denied"], denied),
            "challenge_counts_as_caught": policy.challenge_caught(name),
            "loss_prevented": c["caught_amount"],
            "loss_let_through": c["fraud_amount"] - c["caught_amount"],
        }
    return out


def missed(table: dict[str, dict[str, Any]]) -> list[str]:
    """Typologies with recall by count or by amount below MISS_BELOW."""
    return [
        name
        for name, row in table.items()
        if any(
            row[k] is not None and row[k] < MISS_BELOW
            for k in ("recall_by_count", "recall_by_amount")
        )
    ]


def targets(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target with its value and whether it is met (None: not measurable)."""
    out: dict[str, dict[str, Any]] = {}
    for name, (op, bound) in TARGETS.items():
        value = figures.get(name)
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        out[name] = {"target": f"{op} {bound:g}", "bound": bound, "value": value, "met": met}
    return out


def losses_by_day(frame: pl.DataFrame) -> list[dict[str, int]]:
    """Per evaluated day: fraud amount prevented and let through (minor units)."""
    fraud = pl.col("is_fraud") == 1
    amount = pl.col("amount")
    daily = (
        frame.group_by("day")
        .agg(
            prevented=amount.filter(fraud & pl.col("caught")).sum(),
            let_through=amount.filter(fraud & ~pl.col("caught")).sum(),
        )
        .sort("day")
    )
    return [
        {
            "day": int(r["day"]),
            "prevented": int(r["prevented"] or 0),
            "let_through": int(r["let_through"] or 0),
        }
        for r in daily.iter_rows(named=True)
    ]
