"""The scrubber every log line and audit entry passes through: long numbers are masked to
their first 3 and last 4 digits whether written unbroken or in groups (card, ID, phone);
timestamps, addresses, amounts and short ids pass whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
import structlog

from guardpay import observability
from guardpay.observability import scrub, scrub_value
from tests.domain.identity.numbers import card, resident_id

PAN = card("622202", 19)
ID_NUMBER = resident_id("310104", "19900307", "123")  # may end in the check letter X


def _grouped(number: str, size: int = 4) -> str:
    return " ".join(number[i : i + size] for i in range(0, len(number), size))


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@pytest.mark.parametrize(
    "written",
    [
        _grouped(PAN),
        PAN[:4] + "-" + PAN[4:8] + "-" + PAN[8:12] + "-" + PAN[12:16] + "-" + PAN[16:],
        ".".join([PAN[:4], PAN[4:8], PAN[8:12], PAN[12:16], PAN[16:]]),
        f"{ID_NUMBER[:6]}-{ID_NUMBER[6:14]}-{ID_NUMBER[14:]}",
        f"{ID_NUMBER[:6]} {ID_NUMBER[6:14]} {ID_NUMBER[14:]}",
        _grouped("62220212345678901"[:16]) + " 12",  # a short last group
        "138 1234 5678",
        "138-1234-5678",
    ],
)
def test_a_number_written_in_groups_keeps_only_its_first_3_and_last_4_digits(
    written: str,
) -> None:
    digits = _digits(written)
    out = scrub_value(f"customer called: {written} (stolen)")
    assert _digits(out) == digits[:3] + digits[-4:], out
    assert out.startswith("customer called: ")
    assert out.endswith(" (stolen)")
    assert out.count("*") == len(digits) - 7


def test_grouping_is_kept_and_an_id_check_letter_stays_as_after_an_unbroken_number() -> None:
    assert scrub_value("ID 310104-19900307-123X") == "ID 310***-*******7-123X"
    assert scrub_value("ID 31010419900307123X") == "ID 310**********7123X"
    assert scrub_value("card 6222 0277 7777 7777 778") == "card 622* **** **** ***7 778"


def test_the_unbroken_rule_is_unchanged() -> None:
    assert scrub_value("6222021234567890123") == "622************0123"
    assert scrub_value(4611686018427387911) == "461************7911"
    assert scrub_value("usr_12345678901 paid 12345678901.50") == (
        "usr_123****8901 paid 123****8901.50"
    )


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22 02:53:59",
        "2026-11-22 02:53:59.123456+08:00",
        "2026-11-22T02:53:59Z",
        "from 192.168.100.200 and 203.0.113.9",
        "amount 123456789.50 CNY",
        "1 234 567 890 123",  # thousands, spaced
        "signed_at 1763779999.123456",
        "ord_ab12 500.00 CNY, usr_3f9a2c 1234 5678",
        "request 9f1c-4e2b-8a7d took 12.5 ms",
        "10-digit 1234567890",
    ],
)
def test_timestamps_addresses_amounts_and_short_ids_pass_whole(text: str) -> None:
    assert scrub_value(text) == text


def test_nested_fields_are_scrubbed_and_secret_names_redacted() -> None:
    note = f"card {_grouped(PAN)}, ID {ID_NUMBER[:6]}-{ID_NUMBER[6:14]}-{ID_NUMBER[14:]}"
    out = scrub({"reason": note, "items": [{"note": note}], "password": "x"})
    text = json.dumps(out)
    assert PAN not in _digits(text)
    assert ID_NUMBER[:17] not in _digits(text)
    assert PAN[4:12] not in _digits(text)
    assert out["password"] == observability.REDACTED


def test_a_grouped_card_number_never_reaches_a_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    observability.configure(json=True)
    structlog.get_logger().warning("chargeback", note=f"card {_grouped(PAN)}")
    line: dict[str, Any] = json.loads(capsys.readouterr().err.strip())
    assert PAN[3:-4] not in _digits(line["note"])
    assert line["note"] == f"card {scrub_value(_grouped(PAN))}"


def test_a_hash_in_hex_stays_whole_and_an_id_number_does_not() -> None:
    """A filed report's SHA-256 goes into the audit log exactly: its digits are inside a
    word, not a number someone wrote (this one has eleven in a row)."""
    digest = "cd30c0cf39ecfc4ef682c1c81d470da6724d398d09429f3aa55422921066a99d"
    assert scrub({"sha256_csv": digest}) == {"sha256_csv": digest}
    assert scrub({"note": "ID 31010419900307123X"}) == {"note": "ID 310**********7123X"}
    assert scrub({"note": "tel:13812345678"}) == {"note": "tel:138****5678"}
