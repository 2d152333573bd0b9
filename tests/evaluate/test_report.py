"""The report says plainly which typologies are missed and which targets are not met."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from guardpay.evaluate.metrics import compute_metrics
from guardpay.evaluate.report import render_html, summary_lines, write_html
from tests.evaluate.test_metrics import SCAM, table

AML_STATUS = "F1 0.50 (precision 0.50, recall 0.50) at 2.0 alerts per 1,000 accounts a month"


def figures() -> dict[str, Any]:
    f = compute_metrics(table())
    f["model"] = {"trained": False, "error": "single_class: all labels are 0", "pr_auc_eval": None}
    f["period"] = {
        "train_share": 0.5,
        "train_days": [0, 9],
        "eval_days": [10, 11],
        "seed": 7,
        "skipped_kinds": {"refund": 2},
    }
    f["aml"] = {"status": AML_STATUS}
    f["summary"] = summary_lines(f)
    f["plots"] = ["pr_curve.png"]
    return f


def test_summary_names_the_missed_typology_and_unmet_targets() -> None:
    lines = summary_lines(figures())
    assert f"The system still misses: {SCAM} (33% by count, 50% by amount)." in lines
    assert "Target review_rate <= 0.01: NOT met (16.67%)." in lines
    assert lines[-1] == f"AML monitoring per laundering typology: {AML_STATUS}."


def test_html_escapes_and_shows_everything(tmp_path: Path) -> None:
    f = figures()
    f["per_typology"]["<script>"] = dict(f["per_typology"][SCAM])
    html = render_html(f)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert '<tr class="miss"><td>scam_impersonation</td>' in html
    assert "No model could be trained (single_class: all labels are 0)" in html
    assert "refund" in html
    assert '<img src="pr_curve.png"' in html
    assert write_html(f, tmp_path).read_text() == html
