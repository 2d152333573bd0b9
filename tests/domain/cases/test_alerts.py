"""An alert's path: the money around the account (its counterparties, and the hops
between them), the alert's own window highlighted, the newest kept when there are too
many; an alert seen again keeps the wider window and the stronger score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from guardpay.domain.cases import alerts
from guardpay.domain.cases.alerts import PATH_EDGES, Alert, Movement, money_path

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def mv(n: int, source: str, target: str, amount: int, hours: float) -> Movement:
    return (f"pay_{n}", source, target, amount, T0 + timedelta(hours=hours), None)


def test_a_cycle_is_drawn_whole_with_the_window_highlighted() -> None:
    """Money leaves the hub, goes round two intermediaries and comes back a little
    smaller; a stranger's payment and one long before stay off the path."""
    moves = [
        mv(1, "usr_hub", "usr_b", 100_000, 0),
        mv(2, "usr_b", "usr_c", 98_000, 5),
        mv(3, "usr_c", "usr_hub", 96_000, 10),
        mv(4, "usr_x", "usr_y", 5_000, 6),  # strangers
        mv(5, "usr_b", "usr_hub", 1_000, -200),  # long before the window
        mv(6, "usr_card", "usr_hub", 2_000, -24),  # inside the margin, outside the window
    ]
    path = money_path("usr_hub", "CNY", moves, T0, T0 + timedelta(hours=10))
    assert [e.id for e in path.edges] == ["pay_6", "pay_1", "pay_2", "pay_3"]
    assert [e.fired for e in path.edges] == [False, True, False, True]
    assert path.nodes == ["usr_hub", "usr_card", "usr_b", "usr_c"]
    drawn = path.as_dict()
    assert drawn["edges"][1] == {
        "id": "pay_1",
        "source": "usr_hub",
        "target": "usr_b",
        "amount": 100_000,
        "at": T0.isoformat(),
        "fired": True,
    }
    assert drawn["truncated"] is False


def test_a_busy_account_keeps_the_newest_movements() -> None:
    moves = [mv(i, f"usr_{i}", "usr_shop", 100, i / 100) for i in range(PATH_EDGES + 5)]
    path = money_path("usr_shop", "CNY", moves, T0, T0 + timedelta(hours=3))
    assert path.truncated
    assert len(path.edges) == PATH_EDGES
    assert path.edges[0].id == "pay_5"


def _alert(score: int, first: float, last: float, decisions: tuple[str, ...]) -> Alert:
    return Alert(
        id="alrt_1",
        source=alerts.RISK_REVIEW,
        subject="usr_1",
        kind="large_amount_at_night",
        score_bp=score,
        first_seen=T0 + timedelta(hours=first),
        last_seen=T0 + timedelta(hours=last),
        evidence=f"score {score}",
        path={"edges": [first]},
        case_id="case_1",
        created_at=T0,
        decisions=decisions,
    )


def test_an_alert_seen_again_widens_its_window_and_keeps_every_decision() -> None:
    known = _alert(6_000, 0, 1, ("rsk_1",))
    again = alerts.seen_again(known, _alert(5_000, 5, 6, ("rsk_2",)))
    assert (again.id, again.occurrences, again.score_bp) == ("alrt_1", 2, 6_000)
    assert (again.first_seen, again.last_seen) == (T0, T0 + timedelta(hours=6))
    assert again.decisions == ("rsk_1", "rsk_2")
    assert (again.evidence, again.path) == ("score 5000", {"edges": [5]})
    assert again.dedup_key == "risk_review|usr_1|large_amount_at_night"
