"""The few SVG pieces every figure uses. Figures are hand-written SVG (no plotting library): small,
deterministic, and with no font or script from another host."""

from __future__ import annotations

from html import escape

MONO = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace"
SANS = "system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif"
#: One colour pair (fill, stroke) per group: head, matrix, role…
FILLS = ("#c7dcf7", "#fbd9b0", "#d4eccd", "#ecd1ef", "#f6d5d5", "#e4e4c4")
STROKES = ("#3b6fb6", "#c46a12", "#3f8a3a", "#8a3f94", "#b04848", "#7a7a2a")
#: No text is drawn smaller: a phone shows figures at their natural size (1 unit = 1 CSS px), where
#: 11 px is the smallest legible text (tests/test_reading.py measures every figure).
MIN_FONT_SIZE = 11


def text(x: float, y: float, s, size: int = 13, anchor: str = "start", weight: str = "normal",
         fill: str = "#222", mono: bool = False) -> str:
    style = f' style="{MONO}"' if mono else ""
    size = max(size, MIN_FONT_SIZE)
    return (
        f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" text-anchor="{anchor}" '
        f'font-weight="{weight}" fill="{fill}"{style}>{escape(str(s))}</text>'
    )


def cell(x: float, y: float, value, fill: str, stroke: str, size: float = 34, font_size: int = 14,
         height: float | None = None, rx: int = 3) -> str:
    """A filled square (or rectangle) with its value centred in a monospace font."""
    height = size if height is None else height
    return (
        f'<rect x="{x:.0f}" y="{y:.0f}" width="{size:.0f}" height="{height:.0f}" rx="{rx}" '
        f'fill="{fill}" stroke="{stroke}"/>'
        + text(x + size / 2, y + height / 2 + font_size * 0.35, value, font_size, "middle", fill="#111", mono=True)
    )


def document(width: float, height: float, parts: list[str]) -> str:
    body = "\n".join(parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" font-family="{SANS}" '
        f'style="background:#fff">\n{body}\n</svg>\n'
    )
