"""The evaluation report: plain-words summary lines and REPORT/index.html.

The page is self-contained (inline style, no scripts, no network); the plots are PNG
files beside it, shown with <img>. Every value is escaped.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any, Final

from guardpay.evaluate.metrics import MISS_BELOW

_MINOR_PER_MAJOR: Final = 100
_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.met { color: #176317; font-weight: bold; } .unmet { color: #a01515; font-weight: bold; }
.miss { background: #fde8e8; } img { max-width: 100%; margin: 0.5em 0; }
"""

METHOD: Final = """\
The transactions are replayed in time order through the platform's live decision path
(guardpay.services.risk.engine.RiskEngine: features from a fresh in-memory feature state,
the rule set, the model, one decision), each request recorded after its decision as the
payment path records it (accepted unless denied). The first {share:.0%} of the days
(days {t0}..{t1}) run on rules alone and their features train a LightGBM model
(guardpay.ml.train_model, validated on its latest 20 %, seed {seed}); from day {e0} the
model is active and the replay continues to day {e1} with rules and model combined.
Only days {e0}..{e1} are measured. A fraud request is caught when it is denied or held
for review (the replay assumes analysts decline held fraud), or challenged in a typology
where the fraudster cannot pass the step-up ({stops}); in a scam the victim passes the
challenge, so it stops nothing. Recall by count = caught fraud / fraud; by amount =
caught fraud amount / fraud amount. Review rate = reviewed / all requests of the period;
false-deny rate = legitimate denied / legitimate; challenge rate = legitimate challenged
/ legitimate. Per-typology precision of review (deny) = that typology's share of all
reviewed (denied) requests. A typology is missed when its recall by count or by amount is
below {miss:.0%}. Loss prevented = amount of caught fraud; let through = the rest."""


def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def money(minor: int) -> str:
    return f"{minor / _MINOR_PER_MAJOR:,.2f}"


def summary_lines(f: dict[str, Any]) -> list[str]:
    """What the report says in plain words: recall, misses, targets, AML."""
    lines = [
        f"Fraud caught: {pct(f['fraud_recall_by_amount'])} by amount, "
        f"{pct(f['fraud_recall_by_count'])} by count ({f['fraud']} fraud requests among "
        f"{f['requests']}); loss prevented {money(f['loss_prevented'])}, let through "
        f"{money(f['loss_let_through'])}."
    ]
    table = f["per_typology"]
    if f["missed_typologies"]:
        lines.append(
            "The system still misses: "
            + "; ".join(
                f"{name} ({pct(table[name]['recall_by_count'], 0)} by count, "
                f"{pct(table[name]['recall_by_amount'], 0)} by amount)"
                for name in f["missed_typologies"]
            )
            + "."
        )
    elif table:
        lines.append(f"No typology is missed (every recall is at least {pct(MISS_BELOW, 0)}).")
    else:
        lines.append("The evaluated period holds no fraud, so recall cannot be measured.")
    for name, t in f["targets"].items():
        state = {True: "met", False: "NOT met", None: "not measurable"}[t["met"]]
        lines.append(f"Target {name} {t['target']}: {state} ({pct(t['value'], 2)}).")
    lines.append(
        f"AML monitoring per laundering typology: {f['aml']['status']}." if "aml" in f else ""
    )
    return [line for line in lines if line]


def _row(cells: list[str], tag: str = "td", cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<tr{attr}>" + "".join(f"<{tag}>{escape(c)}</{tag}>" for c in cells) + "</tr>"


def headline_table(f: dict[str, Any]) -> str:
    rows = [
        ("Fraud recall by amount", pct(f["fraud_recall_by_amount"])),
        ("Fraud recall by count", pct(f["fraud_recall_by_count"])),
        ("Review rate (of all requests)", pct(f["review_rate"], 2)),
        ("False-deny rate (of legitimate)", pct(f["false_deny_rate"], 3)),
        ("Challenge rate (of legitimate)", pct(f["challenge_rate_legit"], 2)),
        ("Precision of review", pct(f["review_precision"])),
        ("Precision of deny", pct(f["deny_precision"])),
        ("Fraud loss prevented", money(f["loss_prevented"])),
        ("Fraud loss let through", money(f["loss_let_through"])),
        ("Model PR-AUC (evaluated period)", _num(f["model"]["pr_auc_eval"])),
        (
            "Requests evaluated (fraud / legitimate)",
            f"{f['requests']} ({f['fraud']} / {f['legit']})",
        ),
    ]
    body = "".join(_row([name, value]) for name, value in rows)
    return f"<table>{_row(['Figure', 'Value'], 'th')}{body}</table>"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def aml_table(aml: dict[str, Any]) -> str:
    """Accounts caught per laundering typology, then precision per scenario."""
    if not aml.get("per_typology"):
        return ""
    rows = [_row(["Laundering typology", "Accounts", "Caught", "Recall"], "th")]
    for name, t in aml["per_typology"].items():
        cls = "miss" if t["recall"] < MISS_BELOW else ""
        rows.append(_row([name, str(t["accounts"]), str(t["caught"]), pct(t["recall"])], cls=cls))
    rows.append(_row(["Scenario", "Accounts flagged", "Of them laundering", "Precision"], "th"))
    for name, s in aml.get("per_scenario", {}).items():
        rows.append(_row([name, str(s["flagged"]), str(s["laundering"]), pct(s["precision"])]))
    return f"<table>{''.join(rows)}</table>"


def typology_table(f: dict[str, Any]) -> str:
    head = [
        "Typology",
        "Fraud requests",
        "Amount",
        "Recall (count)",
        "Recall (amount)",
        "Denied",
        "Reviewed",
        "Challenged",
        "Allowed",
        "Precision of review",
        "Precision of deny",
        "Challenge stops it",
        "Let through",
    ]
    rows = [_row(head, "th")]
    for name, t in f["per_typology"].items():
        cells = [
            name,
            str(t["count"]),
            money(t["amount"]),
            pct(t["recall_by_count"]),
            pct(t["recall_by_amount"]),
            str(t["denied"]),
            str(t["reviewed"]),
            str(t["challenged"]),
            str(t["allowed"]),
            pct(t["review_precision"]),
            pct(t["deny_precision"]),
            "yes" if t["challenge_counts_as_caught"] else "no",
            money(t["loss_let_through"]),
        ]
        rows.append(_row(cells, cls="miss" if name in f["missed_typologies"] else ""))
    return "<table>" + "".join(rows) + "</table>"


def targets_list(f: dict[str, Any]) -> str:
    items = []
    for name, t in f["targets"].items():
        met = t["met"]
        cls, word = {
            True: ("met", "met"),
            False: ("unmet", "not met"),
            None: ("unmet", "not measurable"),
        }[met]
        items.append(
            f'<li>{escape(name)} {escape(t["target"])}: <span class="{cls}">'
            f"{word}</span> ({escape(pct(t['value'], 3))})</li>"
        )
    return "<ul>" + "".join(items) + "</ul>"


def method_text(f: dict[str, Any]) -> str:
    p = f["period"]
    return METHOD.format(
        share=p["train_share"],
        t0=p["train_days"][0],
        t1=p["train_days"][1],
        e0=p["eval_days"][0],
        e1=p["eval_days"][1],
        seed=p["seed"],
        miss=MISS_BELOW,
        stops=", ".join(f["caught_definition"]["challenge_stops"]) or "none",
    )


def model_text(f: dict[str, Any]) -> str:
    m = f["model"]
    if not m["trained"]:
        return f"No model could be trained ({m['error']}); the evaluated period ran on rules alone."
    return (
        f"Model {m['version']} trained on {m['training_rows']} requests "
        f"({m['training_fraud']} fraud); validation PR-AUC {_num(m['validation_pr_auc'])}, "
        f"PR-AUC on the evaluated period {_num(m['pr_auc_eval'])} (decision score: "
        f"{_num(m['decision_score_pr_auc_eval'])})."
    )


def render_html(f: dict[str, Any]) -> str:
    summary = "".join(f"<li>{escape(line)}</li>" for line in f["summary"])
    images = "".join(
        f'<p><img src="{escape(name)}" alt="{escape(name)}"></p>' for name in f.get("plots", [])
    )
    skipped = f["period"]["skipped_kinds"]
    skipped_text = f"<p>Skipped (kinds the risk engine does not decide): {escape(str(skipped))}</p>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>guardpay evaluation</title>
<style>{_STYLE}</style></head><body>
<h1>guardpay risk evaluation</h1>
<h2>Summary</h2><ul>{summary}</ul>
<h2>Headline</h2>{headline_table(f)}
<h2>Targets</h2>{targets_list(f)}
<h2>Per fraud typology</h2>{typology_table(f)}
<p>Missed typologies (recall below {pct(MISS_BELOW, 0)}) are highlighted.</p>
<h2>AML monitoring per laundering typology</h2><p>{escape(f["aml"]["status"])}.</p>
{aml_table(f["aml"])}
<h2>Model</h2><p>{escape(model_text(f))}</p>
<h2>Method</h2><p>{escape(method_text(f))}</p>{skipped_text if skipped else ""}
<h2>Plots</h2>{images}
</body></html>
"""


def write_html(figures: dict[str, Any], out: Path) -> Path:
    path = out / "index.html"
    path.write_text(render_html(figures), encoding="utf-8")
    return path
