"""The barcode drawn for a payment code reads back as the Code 128 symbol of its digits."""

from __future__ import annotations

import re

from barcode import Code128

from guardpay.api.web.barcodes import QUIET, barcode_svg

BAR = re.compile(r"M(\d+) 0h(\d+)v")


def _modules(svg: str) -> str:
    """The dark and light modules the path draws, quiet zones removed."""
    width = int(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))  # type: ignore[union-attr]
    cells = ["0"] * width
    for x, w in BAR.findall(svg):
        cells[int(x) : int(x) + int(w)] = "1" * int(w)
    return "".join(cells)[QUIET:-QUIET]


def test_the_bars_are_the_symbols_modules() -> None:
    for digits in ("281234567890123456", "280000000000000000", "289999999999999999"):
        svg = str(barcode_svg(digits, "code"))
        assert _modules(svg) == Code128(digits).build()[0]
        assert "style=" not in svg  # the screens' CSP refuses inline styles


def test_the_title_is_escaped() -> None:
    assert "<b>" not in str(barcode_svg("281234567890123456", "<b>"))
