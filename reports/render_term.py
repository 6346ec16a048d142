"""Terminal report (rich): summary, one table per panel, best batch sizes, failures. Fits 100 columns.

Every string from a file goes in as `rich.text.Text`, never as markup, so `[bold]` in a model
name prints as itself.
"""

from __future__ import annotations

import io

import pandas as pd
from rich import box
from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from reports import load_render, startup
from reports import numbers as fmt
from reports.summary import summarize
from reports.views import PANEL_KEYS, ReportData, ordered_variants, panel_title, panels

WIDTH = 100
MAX_ERROR = 300  # the failure table wraps it: the run prints failed cells only there


def render_term(data: ReportData, width: int = WIDTH, color: bool = True) -> str:
    """The report as terminal text; ANSI colour only when `color`."""
    console = Console(
        file=io.StringIO(),
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        legacy_windows=False,
        soft_wrap=False,
    )
    for part in _parts(data):
        console.print(part)
        console.print()
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in output.splitlines()) + "\n"


def _parts(data: ReportData) -> list[RenderableType]:
    parts: list[RenderableType] = [Text("infer-bench report: " + ", ".join(data.sources), style="bold")]
    parts.append(_summary(data))
    serving = load_render.term_section(data)  # '' unless the run has serving load data
    if serving:
        parts.append(Text(serving))
    for key, rows in panels(data.agg):
        parts.append(_panel_table(data, key, rows))
    if not data.parity.empty:
        parts.append(_parity_table(data))
    if not data.best.empty:
        parts.append(_best_table(data))
    cold = startup.cold_starts(data)
    if cold:
        parts.append(_cold_start_table(data, cold))
    if not data.failures.empty:
        parts.append(_failure_table(data))
    return parts


def _summary(data: ReportData) -> RenderableType:
    lines: list[RenderableType] = [Rule("Summary", style="dim")]
    for item in summarize(data):
        lines.append(Text(item.heading, style="bold"))
        bullets = Table.grid(padding=(0, 1), pad_edge=True)
        bullets.add_column(width=3, justify="right")
        bullets.add_column(ratio=1)
        for line in item.lines:
            bullets.add_row(Text("•"), Text(line))
        lines.append(bullets)
    lines.append(Rule(style="dim"))
    return Group(*lines)


def _panel_table(data: ReportData, key: tuple[str, ...], rows: pd.DataFrame) -> Table:
    title = Text(panel_title(key, data.many_sources), style="bold")
    if data.baseline:
        title += Text(f"  (speedup = {data.baseline} median / format median; procs = worker processes, * = one)")
    speed = _speedup_lookup(data, key)
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, show_edge=False,
                  padding=(0, 1, 0, 0), caption=_rerun_caption(speed), caption_justify="left")
    sections = []
    for batch in sorted(rows["batch_size"].unique()):
        part = rows[rows["batch_size"] == batch]
        sections.append([_panel_cells(part[part["variant"] == variant].iloc[0], speed.get((int(batch), variant)),
                                      variant == data.baseline) for variant in ordered_variants(part["variant"])])
    for (name, justify), width in zip(PANEL_COLUMNS, _widths(sections), strict=True):
        _add_fitting_column(table, name, justify, width)
    for section in sections:
        for cells in section:
            table.add_row(*cells)
        table.add_section()
    return table


WRAPPING = ("format", "parity")  # text columns that may wrap onto a second line when the table is too wide


def _widths(sections: list[list[list[Text]]]) -> list[int]:
    """The widest cell of each column."""
    rows = [cells for section in sections for cells in section]
    return [max((len(cells[i].plain) for cells in rows), default=0) for i in range(len(PANEL_COLUMNS))]


def _add_fitting_column(table: Table, name: str, justify: JustifyMethod, width: int) -> None:
    """Numbers keep their full width (a cut "11.49–13.6…" misleads); when the table is wider than the
    terminal, only the text columns wrap."""
    if name in WRAPPING:
        table.add_column(name, justify=justify, overflow="fold")
    else:
        table.add_column(name, justify=justify, no_wrap=True, min_width=max(width, len(name)))


PANEL_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("batch", "right"),
    ("format", "left"),
    ("p50 ms", "right"),
    ("95% CI", "right"),
    ("p99 ms", "right"),
    ("samples/s", "right"),
    ("speedup", "right"),
    ("95% CI", "right"),
    ("parity", "left"),
    ("procs", "right"),
)


def _rerun_caption(speed: dict[tuple[int, str], pd.Series]) -> Text | None:
    """Below a panel: where a next run's speedups are expected, and what that interval covers (no column is left
    in 100 characters for it)."""
    shown = [(key, r) for key, r in sorted(speed.items()) if fmt.interval(r["rerun_lo"], r["rerun_hi"], "×") != "–"]
    if not shown:
        return None
    scopes = list(dict.fromkeys(str(r["rerun_scope"]) for _, r in shown))
    body = ", ".join(f"{variant} b{batch} {fmt.interval(r['rerun_lo'], r['rerun_hi'], '×')}" for (batch, variant), r in shown)
    return Text(f"a rerun (where a next run's speedup is expected): {body} — {'; '.join(scopes)}")


def _speedup_lookup(data: ReportData, key: tuple[str, ...]) -> dict[tuple[int, str], pd.Series]:
    if data.speedups.empty:
        return {}
    mask = pd.Series(True, index=data.speedups.index)
    for name, value in zip(PANEL_KEYS, key, strict=True):
        mask &= data.speedups[name].astype(str) == value
    return {(int(r["batch_size"]), str(r["variant"])): r for _, r in data.speedups[mask].iterrows()}


def _panel_cells(row: pd.Series, speed: pd.Series | None, is_baseline: bool) -> list[Text]:
    if row["status"] != "ok" or row["count"] == 0:
        status = Text(str(row["status"]), style="red")
        return [Text(str(row["batch_size"])), Text(str(row["variant"])), status, *[Text("")] * 7]
    reps = f"{int(row['reps_ok'])}" + ("" if row["reps_ok"] > 1 else "*")
    return [
        Text(str(row["batch_size"])),
        Text(str(row["variant"])),
        Text(fmt.ms(row["p50_ms"])),
        Text(fmt.interval(row["p50_ci_lo_ms"], row["p50_ci_hi_ms"])),
        Text(fmt.ms(row["p99_ms"])),
        Text(fmt.rate(row["throughput"])),
        *([Text("baseline", style="dim"), Text("")] if is_baseline else _speed_texts(speed)),
        _parity_text(speed),
        Text(reps),
    ]


def _speed_texts(speed: pd.Series | None) -> list[Text]:
    if speed is None:
        return [Text("–"), Text("")]
    style = ""
    if speed["significant"]:
        style = "green" if speed["speedup"] > 1 else "red"
    point, interval = fmt.ratio_texts(speed["speedup"], speed["ci_lo"], speed["ci_hi"])
    return [Text(point, style=style), Text(interval)]


def _parity_text(speed: pd.Series | None) -> Text:
    if speed is None:
        return Text("")
    label = str(speed["parity"])
    return Text(label, style={"same": "green", "differs": "bold red", "error": "red"}.get(label, "dim"))


PARITY_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("model", "left"), ("A", "left"), ("B", "left"), ("output", "left"), ("max abs diff", "right"), ("top-1", "right"),
    ("outputs", "left"),
)


def _parity_table(data: ReportData) -> Table:
    """Every model's output parity, whatever the baseline; quantised pairs shown, never failing."""
    table = Table(title=Text("Output parity (same inputs, outputs compared pairwise)", style="bold"), box=box.SIMPLE_HEAD,
                  title_justify="left", pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    for name, justify in PARITY_COLUMNS:
        table.add_column(name, justify=justify, overflow="fold")
    for _, r in data.parity.iterrows():
        model = str(r["model"]) + (f" ({r['source']})" if data.many_sources else "")
        verdict = str(r["verdict"])
        style = {"same": "green", "differs": "bold red", "error": "red"}.get(verdict, "dim")
        table.add_row(Text(model), Text(str(r["a"])), Text(str(r["b"])), Text(str(r["output"])), Text(fmt.sci(r["max_abs"])),
                      Text(fmt.pct(r["top1_agreement"])), Text(verdict + (f": {r['note']}" if r["note"] else ""), style=style))
    return table


def _best_table(data: ReportData) -> Table:
    title = "Best batch size (most samples/s)" + (f"; with p99 ≤ {data.slo_ms:g} ms" if data.slo_ms is not None else "")
    table = Table(title=Text(title, style="bold"), box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    table.add_column("panel")
    table.add_column("format")
    table.add_column("batch", justify="right")
    table.add_column("samples/s", justify="right")
    table.add_column("p99 ms", justify="right")
    if data.slo_ms is not None:
        table.add_column("SLO batch", justify="right")
        table.add_column("samples/s", justify="right")
    for _, row in data.best.iterrows():
        key = tuple(str(row[k]) for k in PANEL_KEYS)
        cells = [
            Text(panel_title(key, data.many_sources)),
            Text(str(row["variant"])),
            Text(str(row["best_batch"])),
            Text(fmt.rate(row["best_throughput"])),
            Text(fmt.ms(row["best_p99_ms"])),
        ]
        if data.slo_ms is not None:
            none = row["slo_batch"] is None or pd.isna(row["slo_batch"])
            cells += [Text("none" if none else str(int(row["slo_batch"]))), Text(fmt.rate(row["slo_throughput"]))]
        table.add_row(*cells)
    return table


def _cold_start_table(data: ReportData, cold: list[startup.PanelStart]) -> Table:
    """The runtime start (once per worker process) apart from each format's own load and first call."""
    note = startup.note(cold)
    table = Table(title=Text("Cold start", style="bold"), box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False,
                  show_edge=False, padding=(0, 1, 0, 0), caption=Text(note), caption_justify="left")
    table.add_column("panel", overflow="fold")
    for i, name in enumerate(startup.HEADER):
        table.add_column(name, justify="right" if i else "left", no_wrap=i > 0)
    for panel in cold:
        title = panel_title(panel.key, data.many_sources)
        for i, row in enumerate(startup.rows(panel)):
            table.add_row(Text(title if i == 0 else ""), *(Text(c) for c in row))
        table.add_section()
    return table


def _failure_table(data: ReportData) -> Table:
    table = Table(title=Text("Failed and skipped cells", style="bold"), box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    for name in ("status", "model", "format", "batch", "rep", "error"):
        table.add_column(name, overflow="fold")
    for _, row in data.failures.iterrows():
        error = " ".join(str(row["error"] or row["stderr_tail"] or "").split())
        if len(error) > MAX_ERROR:
            error = error[: MAX_ERROR - 1] + "…"
        style = "yellow" if row["status"] == "skipped" else "red"
        table.add_row(
            Text(str(row["status"]), style=style),
            Text(str(row["model"])),
            Text(str(row["variant"])),
            Text(str(row["batch_size"])),
            Text(str(row["repetition"])),
            Text(error),
        )
    return table
