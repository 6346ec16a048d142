"""Profiles rendered: op tables, time by op type, FLOP/s against the peak, profile diffs, cold-start
anatomy — as terminal text, Markdown, HTML fragments and inline SVG. Pure: dicts in, strings out.

The dicts are the ones `infer_core.profiling` produces (op profile, FLOPs breakdown, peak probe,
profile diff, cold-start anatomy); this module only reads their documented keys, so it needs
neither TensorFlow nor infer_core. Every op, tensor or model name is escaped for its medium.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from reports import numbers as fmt
from reports import tables
from reports.escape import html_text, md_text
from reports.plots import batch_axis

WIDTH = 100
TOP = 10
Profile = Mapping[str, Any]


# ----------------------------------------------------------------------------- numbers

def ms_of(seconds: object) -> str:
    return fmt.ms(None if seconds is None else float(seconds) * 1e3)  # type: ignore[arg-type]


def gflops(value: object) -> str:
    return "–" if value is None else f"{float(value) / 1e9:,.2f}"  # type: ignore[arg-type]


def headline(profile: Profile, achieved: Mapping[str, Any] | None = None) -> list[str]:
    """The lines a user reads first: step, ops' share, overhead, top three op types, FLOP/s vs peak."""
    if profile.get("error"):
        return [f"profiling failed: {profile['error']}"]
    lines = [f"{profile.get('variant')} · batch {profile.get('batch_size')} · call path {profile.get('call_path')}",
             str(profile.get("label", ""))]
    lines.append(f"step {ms_of(profile.get('step_s'))} ms (untraced median of {profile.get('step_samples')} calls)")
    if profile.get("ops_total_s") is not None:
        lines.append(f"ops {ms_of(profile['ops_total_s'])} ms = {fmt.pct(profile.get('ops_fraction'))} of the step; "
                     f"framework overhead {ms_of(profile.get('overhead_s'))} ms (median of {profile.get('runs')} "
                     f"traced runs)")
        top = [f"{r['type']} {fmt.pct(r.get('fraction'))}" for r in profile.get("by_type", [])[:3]]
        lines.append("top op types: " + ", ".join(top))
    lines += _achieved_lines(achieved, profile.get("batch_size"))
    lines += _busy_lines(profile)
    return lines


def _busy_lines(profile: Profile) -> list[str]:
    load, cores = profile.get("load_average"), profile.get("cpu_count")
    if not load or not cores or max(load) <= cores:
        return []
    return [f"warning: the machine was busy (load average {max(load):.1f} on {cores} cores): other processes' "
            f"CPU time inflates the step and the overhead"]


def flops_text(flops: int, batch_size: object) -> str:
    """FLOPs per sample and per call: a call runs a whole batch."""
    batch = int(batch_size) if isinstance(batch_size, (int, float)) and batch_size >= 1 else None
    if batch is None:
        return f"{flops:,} FLOPs per call"
    if batch == 1:
        return f"{flops:,} FLOPs per sample (= per call: batch 1)"
    return f"{flops / batch:,.0f} FLOPs per sample, {flops:,} per call (batch {batch})"


def _achieved_lines(achieved: Mapping[str, Any] | None, batch_size: object = None) -> list[str]:
    if not achieved or not achieved.get("flops"):
        return []
    batch = achieved.get("batch_size") or batch_size
    line = f"achieved {gflops(achieved.get('achieved_flops'))} GFLOP/s"
    if achieved.get("peak_flops"):
        line += (f", {fmt.pct(achieved.get('fraction_of_peak'))} of the measured peak "
                 f"{gflops(achieved['peak_flops'])} GFLOP/s")
    return [flops_text(int(achieved["flops"]), batch), line]


def op_rows(profile: Profile, top: int = TOP) -> list[list[str]]:
    """Top ops: name, type, device, ms, % of step, calls."""
    return [[str(op["name"]), str(op["type"]), str(op["device"]), ms_of(op["time_s"]), fmt.pct(op.get("fraction")),
             str(op["calls"])] for op in profile.get("ops", [])[:top]]


def type_rows(profile: Profile, top: int = TOP) -> list[list[str]]:
    """Time by op type: type, ms, % of step, ops, calls."""
    return [[str(r["type"]), ms_of(r["time_s"]), fmt.pct(r.get("fraction")), str(r["ops"]), str(r["calls"])]
            for r in profile.get("by_type", [])[:top]]


def tflite_rows(profile: Profile) -> list[list[str]]:
    """TFLite op list: index, op, where it runs."""
    part = profile.get("tflite") or {}
    return [[str(op["index"]), str(op["op"]), "built-in kernel" if op["delegate"] is None
             else f"delegate node {op['delegate']}"] for op in part.get("ops", [])]


OP_HEAD = ["op", "type", "device", "ms", "% step", "calls"]
TYPE_HEAD = ["op type", "ms", "% step", "ops", "calls"]
TFLITE_HEAD = ["#", "op", "runs on"]
NUMERIC = {"ms", "% step", "calls", "ops", "#", "before ms", "after ms", "after/before", "seconds", "share"}


# ----------------------------------------------------------------------------- terminal

def _table(title: str, head: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for h in head:
        table.add_column(h, justify="right" if h in NUMERIC else "left", overflow="fold")
    for row in rows:
        table.add_row(*[Text(cell) for cell in row])  # Text: names print as themselves, never as markup
    return table


def to_text(parts: Iterable[RenderableType], width: int = WIDTH) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False, no_color=True,
                      highlight=False, emoji=False, soft_wrap=False)
    for part in parts:
        console.print(part)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in output.splitlines()) + "\n"


def _profile_parts(profile: Profile, achieved: Mapping[str, Any] | None, top: int) -> list[RenderableType]:
    parts: list[RenderableType] = [Text(line) for line in headline(profile, achieved)]
    if profile.get("error"):
        return parts
    if profile.get("tflite"):
        parts.append(_table("TFLite ops (no per-op times)", TFLITE_HEAD, tflite_rows(profile)))
    else:
        parts.append(_table(f"top {top} ops", OP_HEAD, op_rows(profile, top)))
        parts.append(_table("time by op type", TYPE_HEAD, type_rows(profile, top)))
    parts += [Text("note: " + n) for n in profile.get("notes", [])]
    return parts


def profile_text(profile: Profile, achieved: Mapping[str, Any] | None = None, top: int = TOP, width: int = WIDTH) -> str:
    """The profile for a terminal (no colour codes)."""
    return to_text(_profile_parts(profile, achieved, top), width)


# ----------------------------------------------------------------------------- Markdown

def md_table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Plain-text head and cells, escaped here, through the one Markdown table writer."""
    align = "".join("r" if h in NUMERIC else "l" for h in head)
    return tables.md_table([md_text(h) for h in head], [[md_text(c) for c in row] for row in rows], align)


def profile_markdown(profile: Profile, achieved: Mapping[str, Any] | None = None, top: int = 5) -> str:
    """A compact top-ops table for a Markdown report."""
    out = [md_text(line) + "  " for line in headline(profile, achieved)]
    if profile.get("error"):
        pass
    elif profile.get("tflite"):
        out.append("\n" + md_table(TFLITE_HEAD, tflite_rows(profile)))
    else:
        out.append("\n" + md_table(OP_HEAD, op_rows(profile, top)))
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- HTML

def html_table(head: Sequence[str], rows: Iterable[Sequence[str]], caption: str = "") -> str:
    """Plain-text head, cells and caption, escaped here, through the one HTML table writer (numeric
    columns get the report's right-aligned class)."""
    header = [(html_text(h), h in NUMERIC) for h in head]
    cells = [[html_text(c) for c in row] for row in rows]
    return tables.html_table(header, cells, html_text(caption), css_class="profile")


def profile_html(profile: Profile, achieved: Mapping[str, Any] | None = None, top: int = TOP,
                 title: str | None = None) -> str:
    """An op-breakdown section (top ops and time by op type) as an HTML fragment."""
    heading = title if title is not None else f"Op breakdown — {profile.get('variant')}, batch {profile.get('batch_size')}"
    parts = [f'<section class="op-profile"><h3>{html_text(heading)}</h3>']
    parts.append("<p>" + "<br>".join(html_text(line) for line in headline(profile, achieved)) + "</p>")
    if profile.get("error"):
        pass
    elif profile.get("tflite"):
        parts.append(html_table(TFLITE_HEAD, tflite_rows(profile), "TFLite ops (no per-op times)"))
    else:
        parts.append(html_table(OP_HEAD, op_rows(profile, top), f"top {top} ops"))
        parts.append(html_table(TYPE_HEAD, type_rows(profile, top), "time by op type"))
    parts += [f'<p class="note">{html_text(n)}</p>' for n in profile.get("notes", [])]
    return "".join(parts) + "</section>"


# ----------------------------------------------------------------------------- diff

DIFF_HEAD = ["name", "before ms", "after ms", "after/before", "only in"]
OP_DIFF_HEAD = ["op", "type", *DIFF_HEAD[1:]]
TYPE_DIFF_HEAD = ["op type", *DIFF_HEAD[1:]]


def diff_rows(rows: Sequence[Mapping[str, Any]], keys: Sequence[str], diff: Mapping[str, Any], top: int
              ) -> list[list[str]]:
    labels = {"before": diff.get("before"), "after": diff.get("after"), "both": ""}
    return [[*[str(r[k]) for k in keys], ms_of(r["before_s"]), ms_of(r["after_s"]), fmt.ratio(r["ratio"]),
             str(labels[r["side"]] or "")] for r in rows[:top]]


def _processes(diff: Mapping[str, Any]) -> list[str]:
    n = diff.get("processes")
    return [f"each side: median over {n} worker processes, interleaved"] if n and n > 1 else []


def diff_lines(diff: Mapping[str, Any]) -> list[str]:
    step, ops = diff.get("step", {}), diff.get("ops_total", {})
    lines = [f"before: {diff.get('before')}   after: {diff.get('after')}", *_processes(diff),
             f"step {ms_of(step.get('before_s'))} → {ms_of(step.get('after_s'))} ms ({fmt.ratio(step.get('ratio'))}); "
             f"ops {ms_of(ops.get('before_s'))} → {ms_of(ops.get('after_s'))} ms"]
    for side in ("before", "after"):
        only = diff.get(f"types_only_{side}") or []
        if only:
            lines.append(f"op types only in {diff.get(side)}: " + ", ".join(only))
    for side in ("before", "after"):
        lines += [f"{diff.get(side)}: {line}" for line in _achieved_lines((diff.get("achieved") or {}).get(side))]
    return lines + [f"note: {n}" for n in diff.get("notes", [])]


def _diff_sections(diff: Mapping[str, Any], top: int) -> list[tuple[str, list[str], list[list[str]]]]:
    sections = [("time by op type", TYPE_DIFF_HEAD, diff_rows(diff["by_type"], ("type",), diff, top)),
                (f"top {top} ops", OP_DIFF_HEAD, diff_rows(diff["ops"], ("name", "type"), diff, top))]
    for side in ("before", "after"):
        rows = diff.get(f"only_{side}") or []
        if rows:
            sections.append((f"ops only in {diff.get(side)}", OP_DIFF_HEAD, diff_rows(rows, ("name", "type"), diff, top)))
    return sections


def diff_text(diff: Mapping[str, Any], top: int = TOP, width: int = WIDTH) -> str:
    parts: list[RenderableType] = [Text(line) for line in diff_lines(diff)]
    parts += [_table(title, head, rows) for title, head, rows in _diff_sections(diff, top)]
    return to_text(parts, width)


def diff_markdown(diff: Mapping[str, Any], top: int = TOP) -> str:
    out = [md_text(line) + "  " for line in diff_lines(diff)]
    out += [f"\n**{md_text(title)}**\n\n" + md_table(head, rows) for title, head, rows in _diff_sections(diff, top)]
    return "\n".join(out) + "\n"


def diff_html(diff: Mapping[str, Any], top: int = TOP) -> str:
    parts = ['<section class="profile-diff"><p>' + "<br>".join(html_text(x) for x in diff_lines(diff)) + "</p>"]
    parts += [html_table(head, rows, title) for title, head, rows in _diff_sections(diff, top)]
    return "".join(parts) + "</section>"


# ----------------------------------------------------------------------------- cold start

COLD_HEAD = ["phase", "ms", "share", "note"]


def coldstart_rows(anatomy: Mapping[str, Any]) -> list[list[str]]:
    total = anatomy.get("total_s") or 0.0
    return [[str(p["name"]), ms_of(p["seconds"]), fmt.pct(p["seconds"] / total if total else None), str(p["note"])]
            for p in anatomy.get("phases", [])]


def coldstart_text(anatomies: Sequence[Mapping[str, Any]], width: int = WIDTH) -> str:
    parts: list[RenderableType] = []
    for a in anatomies:
        parts.append(_table(f"cold start — {a.get('variant')}: {a.get('total_s', 0.0):.3f} s to the first answer",
                            COLD_HEAD, coldstart_rows(a)))
    return to_text(parts, width)


def coldstart_markdown(anatomies: Sequence[Mapping[str, Any]]) -> str:
    return "\n\n".join(f"**cold start — {md_text(a.get('variant'))}: {a.get('total_s', 0.0):.3f} s**\n\n"
                       + md_table(COLD_HEAD, coldstart_rows(a)) for a in anatomies) + "\n"


def coldstart_html(anatomies: Sequence[Mapping[str, Any]]) -> str:
    """Stacked bars (one per format) and a table per format."""
    tables = [html_table(COLD_HEAD, coldstart_rows(a), f"{a.get('variant')}: {a.get('total_s', 0.0):.3f} s")
              for a in anatomies]
    return '<section class="coldstart"><h3>Cold start anatomy</h3>' + coldstart_svg(anatomies) + "".join(tables) + "</section>"


# ----------------------------------------------------------------------------- figures (inline SVG)

PHASE_COLOURS = ("#7f7f7f", "#bcbd22", "#1f77b4", "#aec7e8", "#17becf", "#9edae5", "#9467bd", "#c5b0d5",
                 "#ff7f0e", "#ffbb78", "#d62728", "#2ca02c", "#98df8a", "#8c564b")


def _phase_colours(anatomies: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    names: list[str] = []
    for a in anatomies:
        names += [p["name"] for p in a.get("phases", []) if p["name"] not in names]
    return {n: PHASE_COLOURS[i % len(PHASE_COLOURS)] for i, n in enumerate(names)}


# phases every format pays alike, shown only in the left panel: process start, the runtime's start ("runtime"; "import"
# in anatomies recorded before the runtime start had steps of its own)
STARTUP_KINDS = ("process", "import", "runtime")


def coldstart_svg(anatomies: Sequence[Mapping[str, Any]]) -> str:
    """One horizontal stacked bar per format: every phase of its cold start, in order (left), and
    the same without process start and the runtime's start, zoomed (right): the part a format changes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from reports.plots import RC, to_svg

    colours = _phase_colours(anatomies)
    labels = [str(a.get("variant")) for a in anatomies]
    with plt.rc_context(dict(RC)):  # type: ignore[arg-type]
        fig, (whole, zoom) = plt.subplots(1, 2, figsize=(10, 1.4 + 0.5 * len(anatomies)), layout="constrained")
        try:
            for y, a in enumerate(anatomies):
                _stack(whole, y, a.get("phases", []), colours, "s", 1.0)
                _stack(zoom, y, [p for p in a.get("phases", []) if p["kind"] not in STARTUP_KINDS], colours, "ms", 1e3)
            for ax in (whole, zoom):
                ax.set_yticks(range(len(anatomies)), labels)
                ax.invert_yaxis()
            whole.set_xlabel("seconds from process spawn to the first answer")
            zoom.set_xlabel("ms after the runtime's start (zoomed)")
            whole.set_title("Cold start anatomy", loc="left")
            zoom.set_title("Load and first call", loc="left")
            handles = [Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
            zoom.legend(handles, list(colours), loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
            return to_svg(fig)
        finally:
            plt.close(fig)


def _stack(ax: Any, y: int, phases: Sequence[Mapping[str, Any]], colours: Mapping[str, str], unit: str,
           scale: float) -> None:
    left = 0.0
    for p in phases:
        ax.barh(y, p["seconds"] * scale, left=left, color=colours[p["name"]], height=0.6)
        left += p["seconds"] * scale
    ax.text(left, y, f"  {left:,.2f} {unit}" if unit == "s" else f"  {left:,.0f} {unit}", va="center", fontsize=8)
    ax.margins(x=0.18)


def roofline_svg(points: Sequence[Mapping[str, Any]], peak_flops: float | None) -> str:
    """Achieved GFLOP/s per format and batch size under the measured compute roof.

    `points`: {"variant", "batch_size", "achieved_flops"}. Only the compute roof is drawn: memory
    bandwidth is not measured, so no slanted memory roof is invented.
    """
    import matplotlib.pyplot as plt

    from reports.plots import RC, colour, to_svg

    with plt.rc_context(dict(RC)):  # type: ignore[arg-type]
        fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
        try:
            _roofline_axes(ax, points, peak_flops, colour)
            return to_svg(fig)
        finally:
            plt.close(fig)


def _roofline_axes(ax: Any, points: Sequence[Mapping[str, Any]], peak_flops: float | None, colour: Any) -> None:
    by_variant: dict[str, list[tuple[int, float]]] = {}
    for p in points:
        if p.get("achieved_flops"):
            by_variant.setdefault(str(p["variant"]), []).append((int(p["batch_size"]), float(p["achieved_flops"]) / 1e9))
    for variant, xy in by_variant.items():
        xy.sort()
        ax.plot([x for x, _ in xy], [v for _, v in xy], marker="o", ms=4, color=colour(variant), label=variant)
    if peak_flops:
        ax.axhline(peak_flops / 1e9, color="black", linestyle="--", linewidth=1)
        ax.annotate(f"measured peak {peak_flops / 1e9:,.1f} GFLOP/s", (0.01, peak_flops / 1e9), xycoords=("axes fraction", "data"),
                    va="bottom", fontsize=8)
    batch_axis(ax, sorted({x for xy in by_variant.values() for x, _ in xy}))
    ax.set_yscale("log")
    ax.set_ylabel("achieved GFLOP/s (log scale)")
    ax.set_title("Achieved FLOP/s against the measured peak", loc="left")
    if by_variant:
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), title="format")


def roofline_html(points: Sequence[Mapping[str, Any]], peak_flops: float | None) -> str:
    """The roofline figure with a caption, as an HTML fragment ('' when no point has FLOPs)."""
    if not any(p.get("achieved_flops") for p in points):
        return ""
    caption = ("achieved FLOP/s = FLOPs per call (per sample × batch size) ÷ median step; the dashed line is the machine's measured "
               "matmul peak (memory roof not measured)")
    return f'<figure class="roofline">{roofline_svg(points, peak_flops)}<figcaption>{html_text(caption)}</figcaption></figure>'


# ----------------------------------------------------------------------------- results records (sweeps)

def _median_s(cell: Mapping[str, Any]) -> float | None:
    import statistics

    lat = cell.get("latencies_ns")
    return float(statistics.median(lat)) / 1e9 if lat is not None and len(lat) else None


def cell_achieved(cell: Mapping[str, Any], peak_flops: float | None = None) -> dict[str, Any]:
    """Achieved FLOP/s of a results cell (flops_per_sample × batch ÷ median latency) and % of peak."""
    per_sample, step = cell.get("flops_per_sample"), _median_s(cell)
    flops = int(per_sample * cell.get("batch_size", 1)) if per_sample else None
    rate = flops / step if flops and step else None
    return {"flops": flops, "step_s": step, "achieved_flops": rate, "peak_flops": peak_flops,
            "fraction_of_peak": rate / peak_flops if rate and peak_flops else None, "batch_size": cell.get("batch_size")}


def measured_peak(cells: Iterable[Mapping[str, Any]]) -> float | None:
    """The best peak probe any profiled cell carries (profile["peak"]["peak_flops"])."""
    peaks = [((c.get("profile") or {}).get("peak") or {}).get("peak_flops") for c in cells]
    return max((p for p in peaks if p), default=None)


def roofline_points(cells: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One point per ok cell with known FLOPs (for `roofline_svg`)."""
    return [{"variant": c.get("variant"), "batch_size": c.get("batch_size"),
             "achieved_flops": cell_achieved(c)["achieved_flops"]}
            for c in cells if c.get("status") == "ok" and c.get("flops_per_sample")]


def _cell_title(cell: Mapping[str, Any]) -> str:
    return (f"Op breakdown — {cell.get('model')} · {cell.get('variant')} · {cell.get('device')} · "
            f"batch {cell.get('batch_size')} (repetition {cell.get('repetition', 0)})")


def _profiled(cells: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [c for c in cells if c.get("profile")]


def coldstarts(cells: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Cold-start anatomies attached to profiled cells (profile["coldstart"]), one per model and format."""
    seen: dict[tuple[str, str], Mapping[str, Any]] = {}
    for c in _profiled(cells):
        anatomy = c["profile"].get("coldstart")
        if anatomy:
            seen.setdefault((str(c.get("model")), str(anatomy.get("variant"))), anatomy)
    return list(seen.values())


def cells_html(cells: Sequence[Mapping[str, Any]], top: int = TOP) -> str:
    """The HTML report's profiling section for a run's cell records: the roofline figure (every ok
    cell with FLOPs), cold-start stacked bars (where cells carry them) and an op breakdown per
    profiled cell. '' when there is nothing to show."""
    peak = measured_peak(cells)
    cold = coldstarts(cells)
    parts = [roofline_html(roofline_points(cells), peak), coldstart_html(cold) if cold else ""]
    parts += [profile_html(c["profile"], cell_achieved(c, peak), top, _cell_title(c)) for c in _profiled(cells)]
    body = "".join(p for p in parts if p)
    return f'<section id="profiles" class="profiling"><h2>Profiles</h2>{body}</section>' if body else ""


def cells_markdown(cells: Sequence[Mapping[str, Any]], top: int = 5) -> str:
    """The Markdown report's compact top-ops table per profiled cell ('' when none was profiled)."""
    peak = measured_peak(cells)
    blocks = [f"### {md_text(_cell_title(c))}\n\n" + profile_markdown(c["profile"], cell_achieved(c, peak), top)
              for c in _profiled(cells)]
    return "## Profiles\n\n" + "\n".join(blocks) if blocks else ""


# ----------------------------------------------------------------------------- report hooks

def _number(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v == v and v > 0 else None  # NaN (pandas' missing value) and 0 are "unknown"


def report_cells(data: Any) -> list[dict[str, Any]]:
    """Cell dicts (with their latencies) from a report's `ReportData` (`data.runs.cells` frame and
    `data.runs.latencies`), only those with a profile or a FLOP count."""
    out = []
    for row, latencies in zip(data.runs.cells.to_dict("records"), data.runs.latencies, strict=True):
        profile = row.get("profile") if isinstance(row.get("profile"), dict) else None
        flops = _number(row.get("flops_per_sample"))
        if profile or flops:
            out.append({**row, "profile": profile, "flops_per_sample": flops, "latencies_ns": latencies})
    return out


def html_section(data: Any) -> str:
    """The profiling section of the HTML report ('' when no cell was profiled)."""
    return cells_html(report_cells(data))


def markdown_section(data: Any) -> str:
    """Compact top-ops tables for the Markdown report ('' when no cell was profiled)."""
    return cells_markdown(report_cells(data))
