"""Messy CSV exports parse to exactly the numbers a person would read in them."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from guardpay.errors import InvalidRequest
from guardpay.ml.csvdata import load_scoring_csv, load_training_csv

MESSY = (
    "\ufeffid_text, amount ,rate,Label,ts,note\n"
    'a1,1.5e3,"1,234.5", Fraud ,2024-03-01T10:00:00Z,hello\n'
    'a2,"42",7,legit,2024-03-01,x\n'
    "a3,NA,-2.5E-1,TRUE,1709287200,y\n"
    "a4,N/A,,false,1709287200000,z\n"
    "a5,null,nan,yes,2024-03-01 12:00:00+02:00,w\n"
    "a6,-,3,No,2024-03-01T11:00:00,v\n"
    'a7,"12,000",1.0,1.0,1709290800,u\n'
    "a8,  7 ,NaN,0,1709290800.5,t\n"
    "a9,8,N/a,T,1709290800,s\n"
    "a10,9,5,f,1709290800,r\n"
)


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_messy_values_parse_to_the_exact_numbers(tmp_path: Path) -> None:
    data = load_training_csv(write(tmp_path, MESSY), "Label", "ts")
    assert data.feature_names == ["amount", "rate"]  # BOM and spaces gone from headers
    nan = math.nan
    amount = [1500.0, 42.0, nan, nan, nan, nan, 12000.0, 7.0, 8.0, 9.0]
    rate = [1234.5, 7.0, -0.25, nan, nan, 3.0, 1.0, nan, nan, 5.0]
    np.testing.assert_array_equal(data.X, np.array([amount, rate]).T)
    assert data.X.dtype == np.float64
    assert data.y.tolist() == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    base = datetime(2024, 3, 1, 10, tzinfo=UTC).timestamp()  # 1709287200
    expected_times = [
        base,
        base - 36000,
        base,
        base,
        base,
        base + 3600,
        base + 3600,
        base + 3600.5,
        base + 3600,
        base + 3600,
    ]
    assert data.times is not None
    assert data.times.tolist() == expected_times
    assert data.skipped == {
        "id_text": "not numeric (0% of values are numbers)",
        "note": "not numeric (0% of values are numbers)",
    }
    assert data.coerced == {}


def test_numeric_columns_tolerate_five_percent_junk(tmp_path: Path) -> None:
    one_bad = ["x"] + [str(i) for i in range(19)]  # 95 % numbers: a feature
    two_bad = ["x", "y"] + [str(i) for i in range(18)]  # 90 %: skipped
    rows = [f"{a},{b},{i % 2},,," for i, (a, b) in enumerate(zip(one_bad, two_bad, strict=True))]
    path = write(tmp_path, "ok,junk,label,empty,dash,na\n" + "\n".join(rows) + "\n")
    data = load_training_csv(path, "label")
    assert data.feature_names == ["ok"]
    assert math.isnan(data.X[0, 0])
    assert data.X[1:, 0].tolist() == [float(i) for i in range(19)]
    assert data.coerced == {"ok": 1}
    assert data.skipped["junk"] == "not numeric (90% of values are numbers)"
    assert data.skipped["empty"] == "no values"
    assert data.times is None


def test_unrecognised_labels_are_all_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "x,label\n1,yes\n2,maybe\n3,\n4,2\n5,maybe\n")
    with pytest.raises(InvalidRequest) as caught:
        load_training_csv(path, "label")
    assert caught.value.code == "invalid_label"
    assert "'maybe' (2x)" in caught.value.message
    assert "<missing> (1x)" in caught.value.message
    assert "'2' (1x)" in caught.value.message


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("x,label,ts\n1,1,2024-01-01\n2,0,yesterday\n", "invalid_time"),
        ("x,label,ts\n1,1,2024-01-01\n2,0,\n", "invalid_time"),
        ("x,label\n", "empty_csv"),
        ("name,label\nbob,1\nann,0\n", "no_features"),
    ],
)
def test_unusable_files_fail_with_a_code(tmp_path: Path, text: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        load_training_csv(write(tmp_path, text), "label", "ts" if "ts" in text else None)
    assert caught.value.code == code


def test_unknown_label_or_time_column(tmp_path: Path) -> None:
    path = write(tmp_path, "x,label\n1,1\n")
    with pytest.raises(InvalidRequest) as caught:
        load_training_csv(path, "fraud")
    assert (caught.value.code, caught.value.param) == ("unknown_column", "label")
    with pytest.raises(InvalidRequest) as caught:
        load_training_csv(path, "label", "when")
    assert caught.value.param == "time_column"
    with pytest.raises(InvalidRequest) as caught:
        load_training_csv(tmp_path / "absent.csv", "label")
    assert caught.value.code == "file_not_found"


def test_scoring_columns_follow_the_model_order(tmp_path: Path) -> None:
    path = write(tmp_path, '\ufeffextra,b,a\nzz,"1,000",1e2\nyy,NA,-\n')
    X = load_scoring_csv(path, ["a", "b"])
    np.testing.assert_array_equal(X, np.array([[100.0, 1000.0], [math.nan, math.nan]]))
    with pytest.raises(InvalidRequest) as caught:
        load_scoring_csv(path, ["a", "c", "d"])
    assert caught.value.code == "missing_feature_columns"
    assert "c, d" in caught.value.message
