"""The codes a till or a phone scans, drawn as inline SVG on the server: a QR code
(segno) and a Code 128 barcode (python-barcode encodes it; the bars are drawn here as
one path with plain attributes, because the screens' Content-Security-Policy refuses
the inline `style` the library's own SVG writer puts on every bar)."""

from __future__ import annotations

import re

import segno
from barcode import Code128
from markupsafe import Markup

BAR_HEIGHT = 60  # in modules: tall enough for a till's laser at a phone's width
QUIET = 10  # blank modules either side, as Code 128 asks


def qr_svg(payload: str, title: str) -> Markup:
    """A full QR code (never a Micro QR, which many tills and phones cannot read), sized by
    the page's CSS through its viewBox."""
    return Markup(segno.make_qr(payload, error="m").svg_inline(title=title, omitsize=True))


def barcode_svg(digits: str, title: str) -> Markup:
    """`digits` as Code 128, one dark run of modules to each rectangle of the path."""
    modules = Code128(digits).build()[0]
    runs = [(m.start() + QUIET, len(m.group())) for m in re.finditer("1+", modules)]
    path = "".join(f"M{x} 0h{w}v{BAR_HEIGHT}h-{w}z" for x, w in runs)
    width = len(modules) + 2 * QUIET
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="barcode" role="img" '
        'viewBox="0 0 {w} {h}" preserveAspectRatio="none"><title>{t}</title>'
        '<rect width="{w}" height="{h}" fill="#fff"/><path d="{p}" fill="#000"/></svg>'
    ).format(w=width, h=BAR_HEIGHT, t=title, p=path)
