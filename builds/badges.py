"""The build badge: a small flat SVG, like the ones READMEs show for CI."""

from __future__ import annotations

from django.utils.html import escape

COLOURS = {
    "passing": "#1a7f37",
    "failing": "#cf222e",
    "building": "#9a6700",
    "unknown": "#6e7781",
}
LABEL = "docker build"


def _width(text: str) -> int:
    # Verdana 11px averages about 6.5 px a character; padding of 10 px around.
    return int(len(text) * 6.5) + 10


def render_badge(state: str) -> str:
    """The SVG for ``state`` (passing, failing, building, unknown)."""
    if state not in COLOURS:
        state = "unknown"
    left, right = _width(LABEL), _width(state)
    total = left + right
    label, value = escape(LABEL), escape(state)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{label}: {value}">'
        f"<title>{label}: {value}</title>"
        f'<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        f'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{COLOURS[state]}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        f'font-size="11">'
        f'<text x="{left / 2}" y="14">{label}</text>'
        f'<text x="{left + right / 2}" y="14">{value}</text></g></svg>'
    )
