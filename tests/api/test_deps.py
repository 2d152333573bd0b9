"""The request's reported location (`Geo-Position`): a hint for the risk features that is
parsed leniently and never refuses a request."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from guardpay.api.deps import geo_position


def _request(value: str | None) -> Request:
    headers = [] if value is None else [(b"geo-position", value.encode())]
    return Request({"type": "http", "headers": headers, "method": "GET", "path": "/"})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("31.2304;121.4737", (31.2304, 121.4737)),
        ("31.2304,121.4737", (31.2304, 121.4737)),
        ("-33.9;18.4;epu=20", (-33.9, 18.4)),
        (None, None),
        ("north", None),
        ("91;0", None),
        ("0;181", None),
        ("12", None),
    ],
)
def test_geo_position(header: str | None, expected: tuple[float, float] | None) -> None:
    assert geo_position(_request(header)) == expected
