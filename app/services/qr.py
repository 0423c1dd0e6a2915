"""QR images (the ``qrcode`` package + Pillow), sized and error-corrected for their use.

Screens (kiosk) use level M; print (posters, plaques, contact cards) Q or H, since paper gets
dirty and folded. ``box_size`` is pixels per module for PNG; SVG scales freely.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import qrcode

# qrcode (with Pillow) is imported when a code is drawn: a worker that draws none keeps ~4 MB.
LEVELS = {"L": 1, "M": 0, "Q": 3, "H": 2}  # qrcode.constants.ERROR_CORRECT_*


def build(data: str, ec: str = "M", border: int = 4, box_size: int = 10) -> qrcode.QRCode:
    """The smallest QR code holding ``data`` at error-correction level ``ec``."""
    import qrcode

    code = qrcode.QRCode(error_correction=LEVELS[ec], border=border, box_size=box_size)
    code.add_data(data)
    code.make(fit=True)
    return code


def version(data: str, ec: str = "M") -> int:
    return build(data, ec).version


# A code is a pure function of its text: cards and plaques keep their token for years, and a
# kiosk's code is the same for its whole 30-second step while the kiosk polls every 5 s.
@lru_cache(maxsize=4096)
def png(data: str, ec: str = "M", box_size: int = 10, border: int = 4) -> bytes:
    image = build(data, ec, border, box_size).make_image(fill_color="black", back_color="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@lru_cache(maxsize=4096)
def svg(data: str, ec: str = "M", border: int = 4) -> str:
    """An SVG document (one path), to be sized by CSS or the print layout."""
    import qrcode.image.svg

    image = build(data, ec, border).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode()


def inline_svg(data: str, ec: str = "M") -> str:
    """An SVG for embedding in HTML (no XML declaration); CSS gives it its size."""
    return svg(data, ec).split("?>", 1)[-1].strip()
