"""The history dashboard: one self-contained, offline HTML page (pure: series in, text out).

Per series an inline SVG chart of the metric over commits: each point is the median of the commit's
processes with a bar from the fastest to the slowest process, and each change point a marker with its
commit range, size and p-value. A list of regressions and improvements comes first; selects filter the
charts by model, format, batch size and machine. No network: a Content-Security-Policy allows nothing but
inline styles and the one inline script (by its hash). The page is bounded: each chart shows at most
`points_cap` points — the newest commits one by one, older ones merged into buckets (median of their
commit values, bar over their range) — with a cap chosen from the number of series so the page stays
under `MAX_BYTES` however long the history.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reports.escape import html_text as esc
from reports.history import Finding, Point, Series, describe

MAX_BYTES = 4_000_000
BYTES_PER_POINT = 190  # a circle with its title and its bar, measured on generated pages
MIN_CAP, MAX_CAP = 24, 400
WIDTH, HEIGHT, PAD = 720, 170, 34

SCRIPT = """document.addEventListener('DOMContentLoaded',function(){
var sels=document.querySelectorAll('select[data-filter]');
function apply(){var shown=0;document.querySelectorAll('section.series').forEach(function(s){
var ok=true;sels.forEach(function(e){if(e.value&&s.getAttribute('data-'+e.dataset.filter)!==e.value)ok=false;});
s.hidden=!ok;if(ok)shown++;});document.getElementById('shown').textContent=shown;}
sels.forEach(function(e){e.addEventListener('change',apply);});apply();});"""

CSS = """body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}
section.series{margin:1em 0;border-top:1px solid #ddd;padding-top:.5em}h2{font-size:1em;margin:.2em 0}
.meta{color:#666;font-size:12px}svg{background:#fafafa}.pt{fill:#1f5fa8}.bar{stroke:#8fb3de;stroke-width:1.5}
.line{fill:none;stroke:#1f5fa8;stroke-width:1}.cp-regression{stroke:#c0392b;stroke-width:2}
.cp-improvement{stroke:#27ae60;stroke-width:2}.bucket{fill:#999}table{border-collapse:collapse}
td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}.regression{color:#c0392b}
.improvement{color:#27ae60}select{margin-right:1em}"""


@dataclass(frozen=True)
class Shown:
    """A point as drawn: one commit, or a bucket of older commits."""

    label: str
    value: float
    low: float
    high: float
    first: int  # index of its first commit in the series
    bucket: bool = False


def points_cap(n_series: int, max_bytes: int = MAX_BYTES) -> int:
    return int(min(MAX_CAP, max(MIN_CAP, max_bytes // max(n_series, 1) // BYTES_PER_POINT)))


def downsample(points: Sequence[Point], cap: int) -> list[Shown]:
    """Every commit when they fit; else the newest 3/4 of the cap one by one, older ones in buckets."""
    def one(i: int, p: Point) -> Shown:
        return Shown(f"{p.commit[:12]} ({len(p.values)} processes)", p.median, min(p.values), max(p.values), i)
    if len(points) <= cap:
        return [one(i, p) for i, p in enumerate(points)]
    recent = cap * 3 // 4
    old = len(points) - recent
    edges = np.linspace(0, old, cap - recent + 1).astype(int)
    shown = []
    for a, b in zip(edges[:-1], edges[1:]):
        meds = [p.median for p in points[a:b]]
        shown.append(Shown(f"{points[a].commit[:10]}..{points[b - 1].commit[:10]} ({b - a} commits)",
                           float(np.median(meds)), min(meds), max(meds), int(a), True))
    return shown + [one(old + i, p) for i, p in enumerate(points[old:])]


def _shown_index(shown: Sequence[Shown], commit_index: int) -> int:
    """Which drawn point a commit falls in."""
    return max(i for i, s in enumerate(shown) if s.first <= commit_index)


def chart(series: Series, found: Sequence[Finding], cap: int) -> str:
    shown = downsample(series.points, cap)
    lo = min(s.low for s in shown)
    hi = max(s.high for s in shown)
    span = (hi - lo) or max(hi, 1.0) * 0.01
    step = (WIDTH - 2 * PAD) / max(len(shown) - 1, 1)

    def x(i: float) -> float:
        return PAD + i * step

    def y(v: float) -> float:
        return HEIGHT - PAD / 2 - (v - lo) / span * (HEIGHT - PAD)
    bars = "".join(f"M{x(i):.1f} {y(s.low):.1f}V{y(s.high):.1f}" for i, s in enumerate(shown))
    line = " ".join(f"{x(i):.1f},{y(s.value):.1f}" for i, s in enumerate(shown))
    dots = "".join(f'<circle class="pt{" bucket" if s.bucket else ""}" cx="{x(i):.1f}" cy="{y(s.value):.1f}" r="2.5">'
                   f"<title>{esc(s.label)}: {s.value / 1e6:.4g} ms [{s.low / 1e6:.4g}, {s.high / 1e6:.4g}]</title></circle>"
                   for i, s in enumerate(shown))
    marks = "".join(_marker(x(_shown_index(shown, f.change.index) - 0.5), f) for f in found)
    return (f'<svg width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">'
            f'<text x="2" y="12" font-size="10">{hi / 1e6:.4g} ms</text>'
            f'<text x="2" y="{HEIGHT - 4}" font-size="10">{lo / 1e6:.4g} ms</text>'
            f'<path class="bar" d="{bars}"/><polyline class="line" points="{line}"/>{dots}{marks}</svg>')


def _marker(xpos: float, f: Finding) -> str:
    return (f'<line class="cp cp-{f.kind}" data-before="{esc(f.before)}" data-after="{esc(f.after)}" '
            f'x1="{xpos:.1f}" x2="{xpos:.1f}" y1="4" y2="{HEIGHT - 4}"><title>{esc(describe(f))}</title></line>')


def _section(series: Series, found: Sequence[Finding], cap: int) -> str:
    i = series.identity
    shown = min(len(series.points), cap)
    attrs = (f'data-model="{esc(i.get("model"))}" data-format="{esc(i.get("variant"))}" '
             f'data-batch="{esc(i.get("batch_size"))}" data-machine="{esc(series.host)}" '
             f'data-points="{shown}" data-commits="{len(series.points)}" data-changepoints="{len(found)}"')
    notes = "".join(f'<li class="{f.kind}">{esc(describe(f))}</li>' for f in found)
    return (f'<section class="series" {attrs}><h2>{esc(series.label)}</h2>'
            f'<div class="meta">{esc(series.host)} · branch {esc(series.branch or "-")} · {len(series.points)} commits'
            f'{" (older ones merged)" if shown < len(series.points) else ""} · points: median of processes, bar: '
            f'fastest to slowest process</div>{chart(series, found, cap)}'
            f'{f"<ul>{notes}</ul>" if notes else ""}</section>')


def _filters(all_series: Sequence[Series]) -> str:
    def select(key: str, label: str, values: set[str]) -> str:
        options = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in sorted(values))
        return f'<label>{label} <select data-filter="{key}"><option value="">all</option>{options}</select></label>'
    return "<p>" + "".join((
        select("model", "model", {str(s.identity.get("model")) for s in all_series}),
        select("format", "format", {str(s.identity.get("variant")) for s in all_series}),
        select("batch", "batch", {str(s.identity.get("batch_size")) for s in all_series}),
        select("machine", "machine", {s.host for s in all_series}),
    )) + f' showing <span id="shown">{len(all_series)}</span> of {len(all_series)} series</p>'


def _summary(found: Sequence[Finding]) -> str:
    if not found:
        return '<p id="changes">No change points.</p>'
    rows = "".join(f'<tr class="{f.kind}"><td>{esc(f.kind)}</td><td>{esc(f.series.label)}</td><td>{esc(f.series.host)}</td>'
                   f"<td>{esc(describe(f))}</td></tr>"
                   for f in sorted(found, key=lambda f: (f.kind != "regression", -abs(f.change.ratio - 1))))
    return f'<table id="changes"><tr><th></th><th>series</th><th>machine</th><th>change</th></tr>{rows}</table>'


def render(all_series: Sequence[Series], found: dict[int, list[Finding]], title: str = "infer-bench history",
           max_bytes: int = MAX_BYTES) -> str:
    """The page: `found[i]` holds the change points of `all_series[i]`."""
    cap = points_cap(len(all_series), max_bytes)
    every = [f for i in range(len(all_series)) for f in found.get(i, [])]
    body = (f"<h1>{esc(title)}</h1><h2>Regressions and improvements</h2>{_summary(every)}"
            f"{_filters(all_series)}"
            + "".join(_section(s, found.get(i, []), cap) for i, s in enumerate(all_series)))
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{digest}'"
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
            f"<title>{esc(title)}</title>\n<script>{SCRIPT}</script>\n<style>{CSS}</style>\n</head>\n"
            f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")
