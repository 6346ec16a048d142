"""GitHub-flavoured Markdown report: fits a CI job summary or a PR comment.

Summary and the speedup table first; per-panel tables, failures and the environment in
collapsible <details>. Every string from a file goes through `escape.md_text`.
"""

from __future__ import annotations

import pandas as pd

from reports import hosts, load_render, profiles, startup
from reports import numbers as fmt
from reports.environment import environment_rows
from reports.escape import md_text
from reports.rerun import short_scope
from reports.summary import rerun_scopes, summarize
from reports.tables import md_table
from reports.views import PANEL_KEYS, ReportData, ordered_variants, panel_title, panels, pivot

MAX_ERROR = 300


def details(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


MAX_CHARS = 60_000  # a GitHub PR comment holds 65,536 characters; job summaries hold more


def render_md(data: ReportData, max_chars: int = MAX_CHARS) -> str:
    """The report; over `max_chars`, the per-panel tables go first, then speedup rows are cut,
    each with a note saying where the full numbers are (report.html, --format csv)."""
    sections = {
        "head": "# infer-bench report\n\nRuns: " + ", ".join(f"**{md_text(s)}**" for s in data.sources),
        "summary": _summary(data),
        "serving": load_render.markdown_section(data),  # '' unless the run has serving load data
        "speedup": _speedup_section(data),
        "parity": _parity_section(data),
        "best": _best_section(data),
        "coldstart": _cold_start_section(data),
        "panels": _panels_section(data),
        "failures": _failures_section(data) if not data.failures.empty else "",
        "environment": _environment_section(data),
        "profile": profiles.markdown_section(data),  # '' unless cells were profiled
        "hosts": hosts.markdown_section(data),  # '' unless cells ran on a cluster
    }
    text = _join(sections)
    if len(text) > max_chars:
        sections["panels"] = "## Results\n\n" + OMITTED.format(what="Per-model tables")
        text = _join(sections)
    if len(text) > max_chars and sections["parity"]:
        sections["parity"] = "## Output parity\n\n" + OMITTED.format(what="Parity tables")
        text = _join(sections)
    rows = len(data.speedups)
    while len(text) > max_chars and rows > 10:
        rows //= 2
        sections["speedup"] = _speedup_section(data, limit=rows)
        text = _join(sections)
    return text


OMITTED = "_{what} left out to fit a PR comment: see report.html, or `infer-bench report RUN --format csv`._"


def _join(sections: dict[str, str]) -> str:
    return "\n\n".join(p for p in sections.values() if p) + "\n"


def _summary(data: ReportData) -> str:
    blocks = ["## Summary"]
    for item in summarize(data):
        blocks.append(f"**{md_text(item.heading)}**\n\n" + "\n".join(f"- {md_text(line)}" for line in item.lines))
    return "\n\n".join(blocks)


def _title(data: ReportData, row: pd.Series) -> str:
    return md_text(panel_title(tuple(str(row[k]) for k in PANEL_KEYS), data.many_sources))


def _speedup_section(data: ReportData, limit: int | None = None) -> str:
    if data.speedups.empty:
        return ""
    shown = data.speedups if limit is None else data.speedups.iloc[:limit]
    rows = [
        [
            _title(data, r),
            str(r["batch_size"]),
            md_text(r["variant"]),
            *_speedup_cells(r),
            md_text(r["ci_scope"]),
            fmt.interval(r["rerun_lo"], r["rerun_hi"], "×"),
            short_scope(r["rerun_runs"]),
            _parity_md(r),
        ]
        for _, r in shown.iterrows()
    ]
    header = ["model · device", "batch", "format", f"speedup vs {md_text(data.baseline)}", "95% CI", "interval covers",
              "a rerun", "rerun from", "output parity"]
    scopes = "; ".join(md_text(s) for s in rerun_scopes(data))
    note = (
        f"Speedup = median latency of {md_text(data.baseline)} / median latency of the format "
        "(> 1 is faster); **bold** where the interval excludes 1. *A rerun*: where a next run's speedup is expected"
        + (f" ({scopes})." if scopes else ".")
    )
    cut = len(data.speedups) - len(shown)
    tail = "\n\n" + OMITTED.format(what=f"{cut} more rows") if cut else ""
    return f"## Speedup vs {md_text(data.baseline)}\n\n{note}\n\n" + md_table(header, rows, "llllrlrll") + tail


def _speedup_cells(row: pd.Series) -> tuple[str, str]:
    """The speedup (bold where significant) and its interval, both as `numbers.ratio_texts` prints them."""
    point, interval = fmt.ratio_texts(row["speedup"], row["ci_lo"], row["ci_hi"])
    return (f"**{point}**" if row["significant"] else point), interval


def _parity_md(row: pd.Series) -> str:
    label = str(row["parity"])
    text = _parity_label(label)
    if label in ("same", "differs", "quantised") and pd.notna(row["parity_max_abs"]):
        text += f" (max abs diff {fmt.sci(row['parity_max_abs'])})"
    return text


def _parity_section(data: ReportData) -> str:
    """Every model's parity table, whatever the baseline (quantised pairs shown, never failing)."""
    if data.parity.empty:
        return ""
    rows = [[md_text(r["model"]) + (f" ({md_text(r['source'])})" if data.many_sources else ""), md_text(r["a"]),
             md_text(r["b"]), md_text(r["output"]), fmt.sci(r["max_abs"]), fmt.pct(r["top1_agreement"]),
             _parity_label(str(r["verdict"])) + (f": {md_text(r['note'])}" if r["note"] else "")]
            for _, r in data.parity.iterrows()]
    body = md_table(["model", "format A", "format B", "output", "max abs diff", "top-1", "outputs"], rows, "llllrrl")
    return "## Output parity\n\n" + details(f"Outputs compared pairwise ({len(rows)} pairs)", body)


def _parity_label(label: str) -> str:
    return {"same": "✅ same", "differs": "❌ differs", "error": "⚠️ error"}.get(label, label)


def _best_section(data: ReportData) -> str:
    if data.best.empty:
        return ""
    header, align = ["model · device", "format", "best batch", "samples/s", "p99 ms"], "llrrr"
    if data.slo_ms is not None:
        header, align = [*header, f"best with p99 ≤ {data.slo_ms:g} ms", "samples/s"], align + "rr"
    rows = []
    for _, r in data.best.iterrows():
        cells = [_title(data, r), md_text(r["variant"]), str(r["best_batch"]), fmt.rate(r["best_throughput"]), fmt.ms(r["best_p99_ms"])]
        if data.slo_ms is not None:
            none = r["slo_batch"] is None or pd.isna(r["slo_batch"])
            cells += ["none" if none else str(int(r["slo_batch"])), fmt.rate(r["slo_throughput"])]
        rows.append(cells)
    return "## Best batch size\n\n" + md_table(header, rows, align)


def _cold_start_section(data: ReportData) -> str:
    """One table: per panel, the runtime start (once per worker process) apart from each format's own load and
    first call."""
    cold = startup.cold_starts(data)
    if not cold:
        return ""
    rows = []
    for panel in cold:
        title = md_text(panel_title(panel.key, data.many_sources))
        rows += [[title if i == 0 else "", md_text(row[0]), *row[1:]] for i, row in enumerate(startup.rows(panel))]
    note = startup.note(cold)
    return f"## Cold start\n\n{md_text(note)}\n\n" + md_table(["model · device", *startup.HEADER], rows, "llrrr")


PANEL_HEADER = ["batch", "format", "p50 ms", "95% CI", "p90 ms", "p99 ms", "p99.9 ms", "samples/s", "CV", "outliers", "procs", "call path"]


def _panel_rows(rows: pd.DataFrame) -> list[list[str]]:
    out = []
    for batch in sorted(rows["batch_size"].unique()):
        part = rows[rows["batch_size"] == batch]
        for variant in ordered_variants(part["variant"]):
            r = part[part["variant"] == variant].iloc[0]
            if r["status"] != "ok" or r["count"] == 0:
                out.append([str(batch), md_text(variant), f"**{md_text(r['status'])}**"] + [""] * 9)
                continue
            procs = f"{int(r['reps_ok'])}" + ("" if r["reps_ok"] > 1 else " (within-process CI)")
            out.append([
                str(batch), md_text(variant), fmt.ms(r["p50_ms"]), fmt.interval(r["p50_ci_lo_ms"], r["p50_ci_hi_ms"]),
                fmt.ms(r["p90_ms"]), fmt.ms(r["p99_ms"]), fmt.ms(r["p999_ms"]), fmt.rate(r["throughput"]),
                fmt.pct(r["cv"]), str(int(r["outliers"])), procs, md_text(r["call_path"]),
            ])  # fmt: skip
    return out


def _pivot_md(rows: pd.DataFrame) -> str:
    """Batch size x format: samples/s, the best of each batch size in bold."""
    measured = rows[(rows["status"] == "ok") & (rows["count"] > 0)]
    if measured.empty:
        return "_No measurements._"
    throughput = pivot(measured, "throughput")
    lines = []
    for batch in throughput.index:
        best = throughput.loc[batch].max()
        cells = [
            "–" if pd.isna(v) else (f"**{fmt.rate(v)}**" if v == best else fmt.rate(v)) for v in throughput.loc[batch]
        ]
        lines.append([str(batch), *cells])
    header = ["samples/s at batch", *(md_text(v) for v in throughput.columns)]
    return md_table(header, lines, "r" * len(header))


def _panels_section(data: ReportData) -> str:
    blocks = []
    for key, rows in panels(data.agg):
        title = md_text(panel_title(key, data.many_sources))
        blocks.append(f"### {title}\n\n" + _pivot_md(rows) + "\n\n" + md_table(PANEL_HEADER, _panel_rows(rows), "rlrrrrrrrrll"))
    if not blocks:
        return "## Results\n\nNo cells."
    return "## Results\n\n" + details(f"Latency and throughput per model and device ({len(blocks)} tables)", "\n\n".join(blocks))


def _failures_section(data: ReportData) -> str:
    rows = []
    for _, r in data.failures.iterrows():
        error = " ".join(str(r["error"] or r["stderr_tail"] or "").split())
        if len(error) > MAX_ERROR:
            error = error[: MAX_ERROR - 1] + "…"
        rows.append([md_text(r["status"]), md_text(r["model"]), md_text(r["variant"]), str(r["batch_size"]), str(r["repetition"]), md_text(error)])
    body = md_table(["status", "model", "format", "batch", "rep", "error"], rows, "llllrl")
    return f"## Failed and skipped cells\n\n{len(rows)} cell runs produced no measurement.\n\n" + details("Errors", body)


def _environment_section(data: ReportData) -> str:
    blocks = []
    for source, header in data.runs.headers.items():
        main, extra = environment_rows(header)
        rows = [[md_text(k), md_text(v)] for k, v in main + extra]
        blocks.append(f"**{md_text(source)}**\n\n" + md_table(["key", "value"], rows))
    return "## Environment\n\n" + details("Host, CPU, Python, TensorFlow, environment variables", "\n\n".join(blocks))
