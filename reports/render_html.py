"""ONE self-contained HTML report: inline CSS and SVG plots, no network, no JavaScript libraries.

Order: summary (the answers), plots of throughput and latency, speedup table with intervals and
parity, best batch size, latency distributions, cold start, full tables, failures, environment.

Safety: every string from a file goes through `escape.html_text`; the page itself (CSS, the
Content-Security-Policy that forbids any network access and any script but one inline error hook)
is `reports.page.html_document`, and tables are `reports.tables.html_table`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pandas as pd

from reports import hosts, load_render, plots, profiles, startup
from reports import numbers as fmt
from reports.environment import environment_rows
from reports.escape import html_text as esc
from reports.page import html_document
from reports.summary import summarize
from reports.tables import Row, html_table
from reports.views import (
    PANEL_KEYS,
    ReportData,
    comparison_groups,
    one_process,
    ordered_variants,
    panel_title,
    panels,
    pivot,
)

MAX_ERROR = 4000

def render_html(data: ReportData) -> str:
    """The whole report as one HTML document (str)."""
    body = "\n".join(
        s
        for s in (
            _header(data),
            _summary(data),
            load_render.html_section(data),  # '' unless the run has serving load data
            _overview_plots(data),
            _speedup_section(data),
            _parity_section(data),
            _best_section(data),
            _distribution_section(data),
            _cold_start_section(data),
            _tables_section(data),
            _failures_section(data),
            _environment_section(data),
            profiles.html_section(data),  # '' unless cells were profiled
            hosts.html_section(data),  # '' unless cells ran on a cluster
        )
        if s
    )
    return html_document("infer-bench report — " + " · ".join(data.sources), body)


SECTIONS = (
    ("summary", "Summary"),
    ("throughput", "Throughput & latency"),
    ("speedup", "Speedup"),
    ("parity", "Output parity"),
    ("best", "Best batch size"),
    ("distributions", "Distributions"),
    ("coldstart", "Cold start"),
    ("tables", "All numbers"),
    ("failures", "Failures"),
    ("environment", "Environment"),
)


def _header(data: ReportData) -> str:
    cells = len(data.runs.cells)
    sub = f"{len(data.sources)} run(s): " + ", ".join(f"<b>{esc(s)}</b>" for s in data.sources)
    sub += f" · {cells} cell records · {int(data.agg['count'].sum()) if 'count' in data.agg else 0:,} timed calls"
    links = " ".join(f'<a href="#{anchor}">{name}</a>' for anchor, name in SECTIONS)
    return f"<header><h1>infer-bench report</h1><p class=\"sub\">{sub}</p><nav>{links}</nav></header>"


def _section(anchor: str, title: str, inner: str, note: str = "") -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{note_html}\n{inner}\n</section>'


def _summary(data: ReportData) -> str:
    cards = []
    for item in summarize(data):
        cls = "card problems" if item.heading == "Problems" else "card"
        lines = "".join(f"<li>{esc(line)}</li>" for line in item.lines)
        cards.append(f'<div class="{cls}"><h3>{esc(item.heading)}</h3><ul>{lines}</ul></div>')
    return _section("summary", "Summary", f'<div class="cards">{"".join(cards)}</div>' + _glance(data))


def _grid(data: ReportData, frame: pd.DataFrame, cell: Callable[[pd.Series], str]) -> str:
    """Panels x batch sizes, one formatted cell each."""
    batches = sorted(int(b) for b in frame["batch_size"].unique())
    rows = []
    for key, part in frame.groupby(list(PANEL_KEYS), sort=True):
        by_batch = {int(r["batch_size"]): r for _, r in part.iterrows()}
        title = esc(panel_title(tuple(str(k) for k in key), data.many_sources))
        rows.append([title] + [cell(by_batch[b]) if b in by_batch else "–" for b in batches])
    return html_table([("model · device", False)] + [(f"batch {b}", True) for b in batches], rows)


def _chip(variant: str) -> str:
    return f'<span class="chip" style="border-color:{plots.colour(variant)}">{esc(variant)}</span>'


def _fastest_cell(row: pd.Series) -> str:
    if pd.isna(row["margin"]):
        return _chip(str(row["variant"]))
    if not bool(row.get("tested", True)):  # one worker process: a margin, untested
        margin = f"{fmt.ratio(row['margin'])} (1 proc)"
    else:
        margin = fmt.ratio(row["margin"]) if row["clear"] else "≈"
    return f'{_chip(str(row["variant"]))} <span class="muted">{margin}</span>'


def _significance_class(row: pd.Series) -> str:
    """"good"/"bad" for a speedup whose interval lies above/below 1 (the row's `significant`), else ''."""
    return ("good" if row["speedup"] > 1 else "bad") if row["significant"] else ""


def _headline_cell(row: pd.Series) -> str:
    style = _significance_class(row) or "muted"
    point, ci = fmt.ratio_texts(row["speedup"], row["ci_lo"], row["ci_hi"])
    if one_process(row):  # its own interval says nothing about a rerun
        return (f'<span class="muted" title="within one process: {esc(ci)}">{point}</span> '
                '<span class="muted small">1 proc</span>')
    rerun = fmt.interval(row["rerun_lo"], row["rerun_hi"], "×")
    title = f' title="a rerun: {esc(rerun)} ({esc(str(row["rerun_scope"]))})"' if rerun != "–" else ""
    return f'<span class="{style}"{title}>{point}</span> <span class="muted small">{ci}</span>'


def _glance(data: ReportData) -> str:
    """At a glance: which format wins at each batch size, and the frozen/checkpoint speedup."""
    parts = []
    if not data.fastest.empty and data.fastest["batch_size"].nunique() <= GLANCE_MAX_BATCHES:
        parts.append("<h3>Fastest format at each batch size <span class=\"muted small\">(margin over the runner-up; "
                     "≈ = within noise; 1 proc = one worker process, not tested)</span></h3>" + _grid(data, data.fastest, _fastest_cell))  # fmt: skip
    if not data.headline.empty and data.headline["batch_size"].nunique() <= GLANCE_MAX_BATCHES:
        parts.append("<h3>Frozen graph vs checkpoint <span class=\"muted small\">(speedup of the median, 95% interval; "
                     "green = clearly faster; 1 proc = one worker process, no interval)</span></h3>" + _grid(data, data.headline, _headline_cell))  # fmt: skip
    return '<div class="glance">' + "".join(parts) + "</div>" if parts else ""


GLANCE_MAX_BATCHES = 12


def _figure(kind: str, svg: str, caption: str = "") -> str:
    cap = f"<figcaption class=\"note\">{esc(caption)}</figcaption>" if caption else ""
    return f'<figure class="plot" data-plot="{kind}">{_unique_ids(svg)}{cap}</figure>'


def _unique_ids(svg: str) -> str:
    """Prefix the SVG's element ids with a hash of the figure, so figures cannot share ids."""
    prefix = "f" + hashlib.sha1(svg.encode()).hexdigest()[:8] + "-"
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    if not ids:
        return svg
    pattern = re.compile(r'(\bid="|url\(#|href="#)(' + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)) + r')(?=[")])')
    return pattern.sub(lambda m: m.group(1) + prefix + m.group(2), svg)


def _measured(rows: pd.DataFrame) -> pd.Series:
    return (rows["status"] == "ok") & (rows["count"] > 0)


def _ok_panels(data: ReportData) -> list[tuple[tuple[str, ...], pd.DataFrame]]:
    return [(k, r[_measured(r)]) for k, r in panels(data.agg) if _measured(r).any()]


def _overview_plots(data: ReportData) -> str:
    """One pair of plots per panel; with several runs, per model and device with the runs overlaid."""
    blocks = []
    if data.many_sources:
        groups = [(" · ".join(k for k in key if k), rows[_measured(rows)]) for key, rows in comparison_groups(data.agg)]
    else:
        groups = [(panel_title(key, False), rows) for key, rows in _ok_panels(data)]
    for title, rows in groups:
        if rows.empty:
            continue
        pair = _figure("throughput", plots.throughput_plot(rows, title)) + _figure("latency", plots.latency_plot(rows, title, data.slo_ms))
        tables = "".join(_pivot_html(data, key, part) for key, part in panels(rows))
        blocks.append(f"<h3>{esc(title)}</h3><div class=\"grid2\">{pair}</div>{tables}")
    note = "Throughput = batch size / median latency; error bars are the 95% interval of the median. Higher is better."
    if data.many_sources:
        note += " Runs are overlaid: colour = format, line style and marker = run."
    return _section("throughput", "Throughput and latency vs batch size", "".join(blocks) or "<p>No measurements.</p>", note)


def _pivot_html(data: ReportData, key: tuple[str, ...], rows: pd.DataFrame) -> str:
    """Batch size x format table of samples/s (p50 ms beneath); the best of each row in bold."""
    throughput, p50, p99 = pivot(rows, "throughput"), pivot(rows, "p50_ms"), pivot(rows, "p99_ms")
    header = [("batch", True)] + [(_chip(str(v)), True) for v in throughput.columns]
    out = []
    for batch in throughput.index:
        best = throughput.loc[batch].max()
        cells = [str(batch)]
        for variant in throughput.columns:
            value = throughput.loc[batch, variant]
            if pd.isna(value):
                cells.append("–")
                continue
            text = fmt.rate(value)
            text = f"<b>{text}</b>" if value == best else text
            cells.append(f'{text}<br><span class="muted small">{fmt.ms(p50.loc[batch, variant])} / {fmt.ms(p99.loc[batch, variant])} ms</span>')
        out.append(cells)
    caption = "samples/s (p50 / p99 latency per batch)" + (f" — {esc(key[0])}" if data.many_sources else "")
    return f'<p class="note">{caption}</p>' + html_table(header, out)


def _title_of(data: ReportData, row: pd.Series) -> str:
    return esc(panel_title(tuple(str(row[k]) for k in PANEL_KEYS), data.many_sources))


def _speedup_section(data: ReportData) -> str:
    if data.speedups.empty:
        why = "No speedup table: " + (
            esc(data.notes[-1]) if data.baseline_requested and data.baseline is None else "the baseline format (checkpoint by default) has no measurements."
        )
        return _section("speedup", "Speedup", f"<p>{why}</p>")
    header = [("model · device", False), ("batch", True), ("format", False), (f"speedup vs {esc(data.baseline)}", True),
              ("95% CI", True), ("interval covers", False), ("a rerun", True), ("rerun interval covers", False),
              ("output parity", False), ("max abs diff", True), ("top-1 agreement", True)]  # fmt: skip
    rows = []
    last = None
    for _, r in data.speedups.iterrows():
        group = (r["source"], r["model"], r["device"], r["setting"], r["batch_size"])
        cls, last = ("group" if last is not None and group != last else ""), group
        point, ci = fmt.ratio_texts(r["speedup"], r["ci_lo"], r["ci_hi"])
        rows.append(Row([
            _title_of(data, r), str(r["batch_size"]), esc(r["variant"]),
            f'<span class="{_significance_class(r)}">{point}</span>', ci,
            esc(r["ci_scope"]), fmt.interval(r["rerun_lo"], r["rerun_hi"], "×"), esc(str(r["rerun_scope"])),
            _parity_html(str(r["parity"])), fmt.sci(r["parity_max_abs"]), fmt.pct(r["parity_top1"]),
        ], cls))  # fmt: skip
    note = (
        f"Speedup = median latency of <b>{esc(data.baseline)}</b> / median latency of the format; above 1 is faster. "
        "Coloured where the 95% interval excludes 1. “A rerun”: where a next run's speedup is expected — from the "
        "runs of the history database on this machine once it holds 5 earlier runs of both cells, else from this "
        "run's processes only (its column says which). Output parity was checked by the run before timing: "
        "a faster format that gives different answers shows “differs”."
    )
    return _section("speedup", f"Speedup vs {data.baseline}", html_table(header, rows), note)


def _parity_html(label: str) -> str:
    cls = {"same": "good", "differs": "bad", "error": "bad"}.get(label, "muted")
    return f'<span class="{cls}">{esc(label)}</span>'


PARITY_HEADER = [("model", False), ("format A", False), ("format B", False), ("output", False), ("max abs diff", True),
                 ("max rel diff", True), ("top-1 agreement", True), ("outputs", False)]  # fmt: skip


def _parity_section(data: ReportData) -> str:
    """Every model's parity table, whatever the baseline (quantised pairs shown, never failing)."""
    if data.parity.empty:
        return _section("parity", "Output parity", "<p>Not checked: the run stored no parity (one format per model).</p>")
    rows = []
    for _, r in data.parity.iterrows():
        model = esc(r["model"]) + (f' <span class="muted small">{esc(r["source"])}</span>' if data.many_sources else "")
        verdict = _parity_html(str(r["verdict"])) + (f"<pre>{esc(r['note'])}</pre>" if r["note"] else "")
        rows.append([model, esc(r["a"]), esc(r["b"]), esc(r["output"]), fmt.sci(r["max_abs"]), fmt.sci(r["max_rel"]),
                     fmt.pct(r["top1_agreement"]), verdict])
    note = ("The same inputs through every format of a model before timing, outputs compared pairwise. fp32 formats must "
            "agree within the tolerance (“same”); pairs with a quantised variant show their differences and top-1 "
            "agreement but never fail (“quantised”).")
    return _section("parity", "Output parity", html_table(PARITY_HEADER, rows), note)


def _best_section(data: ReportData) -> str:
    if data.best.empty:
        return ""
    header = [("model · device", False), ("format", False), ("best batch", True), ("samples/s", True), ("p99 ms", True)]
    if data.slo_ms is not None:
        header += [(f"best batch with p99 ≤ {data.slo_ms:g} ms", True), ("samples/s", True), ("p99 ms", True)]
    rows: list[list[str]] = []
    for _, r in data.best.iterrows():
        cells = [_title_of(data, r), esc(r["variant"]), str(r["best_batch"]), fmt.rate(r["best_throughput"]), fmt.ms(r["best_p99_ms"])]
        if data.slo_ms is not None:
            none = r["slo_batch"] is None or pd.isna(r["slo_batch"])
            cells += ["none" if none else str(int(r["slo_batch"])), fmt.rate(r["slo_throughput"]), fmt.ms(r["slo_p99_ms"])]
        rows.append(cells)
    note = "The batch size with the most samples/s per format" + (
        f", and the best one whose p99 latency stays at or under the SLO of {data.slo_ms:g} ms." if data.slo_ms is not None else "; give --slo-ms to also pick the best batch size under a p99 latency target."
    )
    return _section("best", "Best batch size", html_table(header, rows), note)


def _distribution_section(data: ReportData) -> str:
    blocks = []
    for key, rows in _ok_panels(data):
        title = panel_title(key, data.many_sources)
        blocks.append(_figure("distribution", plots.distribution_plot(rows, data.runs.latencies, title)))
    note = (
        "Every timed call of every cell, pooled over worker processes: a curve further left is faster, a long tail to "
        f"the right means slow outliers. Panels with more than {plots.MAX_ECDF_BATCHES} batch sizes show box plots."
    )
    return _section("distributions", "Latency distributions", "".join(blocks) or "<p>No measurements.</p>", note)


def _cold_start_section(data: ReportData) -> str:
    """Per panel: the chart (the runtime start apart from the formats' own load and first call) and its table."""
    blocks = []
    found = startup.cold_starts(data)
    header = [(name, i > 0) for i, name in enumerate(startup.HEADER)]
    for panel in found:
        title = panel_title(panel.key, data.many_sources)
        rows = [[esc(c) for c in row] for row in startup.rows(panel)]
        blocks.append(_figure("coldstart", plots.cold_start_plot(panel, title)) + html_table(header, rows, esc(title)))
    note = startup.note(found)
    return _section("coldstart", "Cold start", "".join(blocks) or "<p>No load times recorded.</p>", esc(note))


TABLE_HEADER = [("batch", True), ("format", False), ("status", False), ("p50 ms", True), ("95% CI", True), ("p90 ms", True),
                ("p99 ms", True), ("p99 95% CI", True), ("p99.9 ms", True), ("samples/s", True), ("CV", True), ("IQR ms", True),
                ("outliers", True), ("procs", True), ("spread of process medians", True), ("load s", True),
                ("first call s", True), ("peak RSS", True), ("GPU peak", True), ("call path", False)]  # fmt: skip


def _cell_row(r: pd.Series) -> list[str]:
    status = esc(r["status"])
    if r["status"] != "ok" or r["count"] == 0:
        return [str(r["batch_size"]), esc(r["variant"]), f'<span class="status {status}">{status}</span>'] + ["–"] * (len(TABLE_HEADER) - 3)
    procs = f"{int(r['reps_ok'])}" + ("" if r["reps_ok"] > 1 else " *")
    spread = f"{fmt.ms(r['rep_p50_min_ms'])}–{fmt.ms(r['rep_p50_max_ms'])} ({fmt.ratio(r['rep_spread'])})" if r["reps_ok"] > 1 else "–"
    return [
        str(r["batch_size"]), esc(r["variant"]), "ok", fmt.ms(r["p50_ms"]), fmt.interval(r["p50_ci_lo_ms"], r["p50_ci_hi_ms"]),
        fmt.ms(r["p90_ms"]), fmt.ms(r["p99_ms"]), fmt.interval(r["p99_ci_lo_ms"], r["p99_ci_hi_ms"]), fmt.ms(r["p999_ms"]),
        fmt.rate(r["throughput"]), fmt.pct(r["cv"]), fmt.ms(r["iqr_ms"]), str(int(r["outliers"])), procs, spread,
        fmt.seconds(r["load_s"]).replace(" s", ""), fmt.seconds(r["first_call_s"]).replace(" s", ""), fmt.mib(r["peak_rss_mb"]),
        fmt.mib(r["gpu_peak_mb"]), esc(r["call_path"]),
    ]  # fmt: skip


def _tables_section(data: ReportData) -> str:
    blocks = []
    for key, rows in panels(data.agg):
        out: list[Row] = []
        last = None
        for batch in sorted(rows["batch_size"].unique()):
            part = rows[rows["batch_size"] == batch]
            for variant in ordered_variants(part["variant"]):
                cls, last = ("group" if last is not None and batch != last else ""), batch
                out.append(Row(_cell_row(part[part["variant"] == variant].iloc[0]), cls))
        title = esc(panel_title(key, data.many_sources))
        blocks.append(f"<details><summary>{title} ({len(rows)} cells)</summary>{html_table(TABLE_HEADER, out)}</details>")
    note = (
        "Statistics from all raw samples pooled over worker processes (never averaged percentiles). Intervals: exact "
        "order-statistic interval for one process (* = covers only that process's noise; medians move by up to ~2× between "
        "processes), for several a Student-t interval on the logs of the per-process medians (p99s), placed around the "
        "pooled value. Outliers: Tukey's 1.5×IQR fences."
    )
    return _section("tables", "All numbers", "".join(blocks) or "<p>No cells.</p>", note)


def _failures_section(data: ReportData) -> str:
    if data.failures.empty:
        none = "No cells." if data.no_cells else "None: every cell produced measurements."
        return _section("failures", "Failed and skipped cells", f"<p>{none}</p>")
    header = [("status", False), ("model", False), ("format", False), ("device", False), ("batch", True), ("rep", True), ("exit", True), ("error", False)]
    rows = []
    for _, r in data.failures.iterrows():
        error = str(r["error"] or "")
        tail = str(r["stderr_tail"] or "")
        text = f"<pre>{esc(error[:MAX_ERROR])}</pre>" if error else ""
        if tail:
            text += f"<details><summary>stderr</summary><pre>{esc(tail[-MAX_ERROR:])}</pre></details>"
        exit_text = "–" if pd.isna(r["exit_code"]) else str(int(r["exit_code"]))
        if pd.notna(r["signal"]):
            exit_text += f" (signal {int(r['signal'])})"
        status = esc(r["status"])
        rows.append([f'<span class="status {status}">{status}</span>', esc(r["model"]), esc(r["variant"]), esc(r["device"]),
                     str(r["batch_size"]), str(r["repetition"]), exit_text, text])  # fmt: skip
    return _section("failures", f"Failed and skipped cells ({len(rows)})", html_table(header, rows))


KEY_VALUE = [("key", False), ("value", False)]


def _environment_section(data: ReportData) -> str:
    blocks = []
    for source, header in data.runs.headers.items():
        main, extra = environment_rows(header)
        block = f"<h3>{esc(source)}</h3>" + html_table(KEY_VALUE, [[esc(k), esc(v)] for k, v in main])
        if extra:
            block += "<details><summary>packages and build</summary>" + html_table(KEY_VALUE, [[esc(k), esc(v)] for k, v in extra]) + "</details>"
        blocks.append(block)
    warn = "".join(f'<div class="warnbox">{esc(n)}</div>' for n in data.notes)
    return _section("environment", "Environment", warn + "".join(blocks))
