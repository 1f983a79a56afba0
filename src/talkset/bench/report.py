"""The subgroup report as JSON, CSV (one row per clip) and one static HTML page with inline SVG plots.

The page opens offline (no script, no external file); every string that comes from inputs is escaped.
"""
from __future__ import annotations

import csv
import html
import json
from pathlib import Path

from talkset.bench.scoring import EvalResult

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;background:#fafbfc}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.2rem .6rem;border-bottom:1px solid #e4e6eb;
text-align:right}th:first-child,td:first-child{text-align:left}.low{color:#b35c00}.worst{font-weight:600}
.card{display:inline-block;vertical-align:top;margin:.4rem 1rem .8rem 0;padding:.6rem .8rem;background:#fff;
border:1px solid #e4e6eb;border-radius:6px}.note{color:#667}
"""


def write_report(result: EvalResult, out_dir: str | Path) -> dict[str, Path]:
    """Writes ``report.json``, ``clips.csv`` and ``report.html`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "csv": out / "clips.csv", "html": out / "report.html"}
    paths["json"].write_text(json.dumps(result.to_dict(), indent=1, allow_nan=True, default=str))
    keys = sorted({k for r in result.clips for k in r if k != "notes"})
    with open(paths["csv"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id"] + [k for k in keys if k != "id"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(result.clips)
    paths["html"].write_text(render_html(result))
    return paths


def _bar_chart(dim: dict) -> str:
    """Horizontal bars of each group's mean with its 95% interval as a whisker."""
    groups = dim["groups"]
    lo = min(min(g["ci_low"] for g in groups), 0.0)
    hi = max(max(g["ci_high"] for g in groups), 1e-9)
    width, row_h, left = 360, 22, 110
    scale = (width - left - 20) / (hi - lo)
    x = lambda v: left + (v - lo) * scale
    parts = [f'<svg width="{width}" height="{row_h * len(groups) + 10}" role="img" '
             f'aria-label="{html.escape(dim["metric"])} by {html.escape(dim["dim"])}">']
    for i, g in enumerate(groups):
        y = 5 + i * row_h
        colour = "#c0392b" if g["group"] == dim["worst_group"] else "#3b6fb6"
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
                     f'{html.escape(str(g["group"]))}</text>')
        parts.append(f'<rect x="{x(min(0, g["mean"])):.1f}" y="{y + 4}" width="{abs(g["mean"]) * scale:.1f}" '
                     f'height="12" fill="{colour}" opacity="{0.45 if g["low_power"] else 0.85}"/>')
        parts.append(f'<line x1="{x(g["ci_low"]):.1f}" x2="{x(g["ci_high"]):.1f}" y1="{y + 10}" y2="{y + 10}" '
                     'stroke="#222" stroke-width="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(result: EvalResult) -> str:
    e = html.escape
    body = [f"<h1>talkset benchmark report</h1><p class=note>{len(result.clips)} clips scored, "
            f"{len(result.missing)} without a generated video; bootstrap seed {result.seed}. Bars: group means; "
            "whiskers: 95% bootstrap intervals; red: the worst group; pale: fewer than 30 clips (low power)."
            "</p>"]
    for name, d in result.dataset.items():
        shown = f"skipped: {e(d['reason'])}" if d.get("skipped") else f"{d.get('value'):.3f}"
        body.append(f"<span class=card><b>{e(name.upper())}</b> {shown}</span>")
    by_dim: dict[str, list[dict]] = {}
    for d in result.dimensions:
        by_dim.setdefault(d["dim"], []).append(d)
    for dim, stats in by_dim.items():
        body.append(f"<h2>{e(dim)}</h2>")
        for s in stats:
            rows = "".join(
                f"<tr class='{'low' if g['low_power'] else ''} {'worst' if g['group'] == s['worst_group'] else ''}'>"
                f"<td>{e(str(g['group']))}</td><td>{g['n']}</td><td>{g['mean']:.4g}</td>"
                f"<td>[{g['ci_low']:.4g}, {g['ci_high']:.4g}]</td></tr>" for g in s["groups"])
            body.append(
                f"<div class=card><b>{e(s['metric'])}</b> <span class=note>({'higher' if s['higher_is_better'] else 'lower'}"
                f" is better)</span><br>gap {s['gap']:.4g} [{s['gap_ci_low']:.4g}, {s['gap_ci_high']:.4g}], worst: "
                f"{e(str(s['worst_group']))}<br>{_bar_chart(s)}<table><tr><th>group</th><th>n</th><th>mean</th>"
                f"<th>95% CI</th></tr>{rows}</table></div>")
    return ("<!doctype html><html lang=en><meta charset=utf-8><title>talkset benchmark report</title>"
            f"<style>{_CSS}</style><body>{''.join(body)}</body></html>")
