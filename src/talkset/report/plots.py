"""Small inline SVG charts: stacked histograms (kept / not kept) and category bars. No plotting library.

Every label is escaped here: languages, speaker ids and resolutions come from inputs.
"""
from __future__ import annotations

import math
from collections import Counter
from html import escape

import numpy as np

W, H = 340, 170
LEFT, RIGHT, TOP, BOTTOM = 38, 10, 10, 34
KEPT_COLOUR, OTHER_COLOUR = "#2f7d4a", "#c96a5a"


def _num(v: float) -> str:
    if v == 0 or 0.01 <= abs(v) < 10000:
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return f"{v:.2g}"


def histogram(kept: list[float], other: list[float], *, unit: str = "", integer: bool = False,
              bins: int | None = None) -> str:
    """A stacked histogram of kept and other (rejected) values; None and non-finite values are left out.

    Args:
        kept: values of kept clips.
        other: values of the other clips.
        unit: shown after the axis numbers (e.g. "s").
        integer: one bar per whole number (frame offsets).
        bins: bar count for real values [default: from the number of values, 6 to 24].
    """
    k = np.array([v for v in kept if _finite(v)], dtype=float)
    o = np.array([v for v in other if _finite(v)], dtype=float)
    both = np.concatenate([k, o])
    if not len(both):
        return _empty()
    lo, hi = float(both.min()), float(both.max())
    if integer:
        edges = np.arange(math.floor(lo) - 0.5, math.ceil(hi) + 1.5)
    else:
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        bins = bins or int(np.clip(2 * math.sqrt(len(both)), 6, 24))
        edges = np.linspace(lo, hi, bins + 1)
    hk, _ = np.histogram(k, edges)
    ho, _ = np.histogram(o, edges)
    top = max(1, int((hk + ho).max()))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    bw = pw / len(hk)
    parts = [_open(), _axes(top)]
    for i, (a, b) in enumerate(zip(hk, ho)):
        x = LEFT + i * bw
        lo_i, hi_i = edges[i], edges[i + 1]
        span = f"{_num((lo_i + hi_i) / 2)}" if integer else f"{_num(lo_i)}–{_num(hi_i)}"
        title = f"{span}{unit}: {a} kept, {b} other"
        ya = TOP + ph * (1 - a / top)
        yb = ya - ph * b / top
        parts.append(f'<g><title>{escape(title)}</title>'
                     f'<rect x="{x + 0.5:.1f}" y="{ya:.1f}" width="{max(bw - 1, 0.5):.1f}" '
                     f'height="{ph * a / top:.1f}" fill="{KEPT_COLOUR}"/>'
                     f'<rect x="{x + 0.5:.1f}" y="{yb:.1f}" width="{max(bw - 1, 0.5):.1f}" '
                     f'height="{ph * b / top:.1f}" fill="{OTHER_COLOUR}"/></g>')
    lo_label = _num((edges[0] + edges[1]) / 2) if integer else _num(edges[0])
    hi_label = _num((edges[-2] + edges[-1]) / 2) if integer else _num(edges[-1])
    parts.append(f'<text x="{LEFT}" y="{H - BOTTOM + 14}" font-size="11">{escape(lo_label + unit)}</text>'
                 f'<text x="{W - RIGHT}" y="{H - BOTTOM + 14}" font-size="11" text-anchor="end">'
                 f'{escape(hi_label + unit)}</text>')
    parts.append(_legend(len(k), len(o)))
    parts.append("</svg>")
    return "".join(parts)


def bars(kept: list[str | None], other: list[str | None], *, missing: str = "unknown", top_n: int = 12) -> str:
    """Horizontal stacked bars per category, the ``top_n`` largest, the rest summed as "other values".

    Args:
        kept: category of each kept clip (None: ``missing``).
        other: category of each other clip.
        missing: the label for None.
        top_n: categories shown.
    """
    ck = Counter(missing if v is None else str(v) for v in kept)
    co = Counter(missing if v is None else str(v) for v in other)
    total = ck + co
    if not total:
        return _empty()
    cats = [c for c, _ in total.most_common(top_n)]
    rest = [c for c in total if c not in cats]
    rows = [(c, ck[c], co[c]) for c in cats]
    if rest:
        rows.append((f"{len(rest)} other values", sum(ck[c] for c in rest), sum(co[c] for c in rest)))
    row_h, left = 18, 110
    height = TOP + row_h * len(rows) + 26
    top = max(a + b for _, a, b in rows)
    pw = W - left - 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" '
             f'viewBox="0 0 {W} {height}" class="chart">']
    for i, (label, a, b) in enumerate(rows):
        y = TOP + i * row_h
        wa, wb = pw * a / top, pw * b / top
        shown = label if len(label) <= 16 else label[:15] + "…"
        parts.append(f'<g><title>{escape(label)}: {a} kept, {b} other</title>'
                     f'<text x="{left - 5}" y="{y + 12}" font-size="11" text-anchor="end">{escape(shown)}</text>'
                     f'<rect x="{left}" y="{y + 2}" width="{wa:.1f}" height="{row_h - 5}" fill="{KEPT_COLOUR}"/>'
                     f'<rect x="{left + wa:.1f}" y="{y + 2}" width="{wb:.1f}" height="{row_h - 5}" '
                     f'fill="{OTHER_COLOUR}"/>'
                     f'<text x="{left + wa + wb + 4:.1f}" y="{y + 12}" font-size="10">{a + b}</text></g>')
    parts.append(_legend(sum(ck.values()), sum(co.values()), y=height - 8))
    parts.append("</svg>")
    return "".join(parts)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _open() -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" class="chart">'


def _axes(top: int) -> str:
    y0 = H - BOTTOM
    return (f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y0}" y2="{y0}" stroke="#889"/>'
            f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{y0}" stroke="#889"/>'
            f'<text x="{LEFT - 4}" y="{TOP + 9}" font-size="11" text-anchor="end">{top}</text>'
            f'<text x="{LEFT - 4}" y="{y0}" font-size="11" text-anchor="end">0</text>')


def _legend(n_kept: int, n_other: int, y: int = H - 4) -> str:
    return (f'<rect x="{LEFT}" y="{y - 9}" width="10" height="10" fill="{KEPT_COLOUR}"/>'
            f'<text x="{LEFT + 14}" y="{y}" font-size="11">kept ({n_kept})</text>'
            f'<rect x="{LEFT + 100}" y="{y - 9}" width="10" height="10" fill="{OTHER_COLOUR}"/>'
            f'<text x="{LEFT + 114}" y="{y}" font-size="11">rejected ({n_other})</text>')


def _empty() -> str:
    return '<p class="note">no values</p>'
