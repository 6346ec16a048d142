"""Plots as SVG text (matplotlib, Agg backend): frames in, `<svg>` strings out, no files.

Each format keeps one colour in every plot. Text stays text in the SVG (`svg.fonttype = none`),
so it is small, crisp and searchable; ids are salted with a fixed string so output is stable.
Large panels get overview plots (box plots per batch size) instead of one curve per cell.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, Locator, NullFormatter  # noqa: E402

from reports import stats  # noqa: E402
from reports.schema import VARIANTS  # noqa: E402
from reports.startup import PanelStart, Spread  # noqa: E402
from reports.views import ordered_variants  # noqa: E402

MAX_ECDF_BATCHES = 6  # more batch sizes than this in one panel: box-plot overview instead of ECDFs
ECDF_POINTS = 300
FULL_WIDTH = 12.0  # inches, for plots that span the page (half-page plots are 7.5): same text size on screen
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
    "#8c564b", "#17becf", "#e377c2", "#7f7f7f", "#bcbd22",
)  # fmt: skip
RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "infer-bench",
    "font.size": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
}


def colour(variant: str) -> str:
    if variant in VARIANTS:
        return PALETTE[VARIANTS.index(variant) % len(PALETTE)]
    return PALETTE[sum(variant.encode()) % len(PALETTE)]


@contextmanager
def _figure(
    width: float = 7.5,
    height: float = 3.6,
    ncols: int = 1,
    legend_in: float = 0.0,
    bottom_in: float = 0.55,
    left_in: float = 0.8,
    top_in: float = 0.4,
    width_ratios: Sequence[float] | None = None,
) -> Iterator[tuple[Figure, Any]]:
    """A figure with fixed margins in inches (room for a legend at the right, `legend_in` wide).

    Fixed margins instead of constrained layout, which lays out (draws) every figure an extra
    time; the report must stay fast for 1,000 cells (benchmarks/bench_reports.py).
    """
    with plt.rc_context(RC):  # type: ignore[arg-type]  # matplotlib types keys as Literal
        fig, axes = plt.subplots(1, ncols, figsize=(width, height), squeeze=False,
                                 gridspec_kw={"width_ratios": list(width_ratios)} if width_ratios else None)
        fig.subplots_adjust(
            left=left_in / width,
            right=1 - (legend_in + 0.15) / width,
            bottom=bottom_in / height,
            top=1 - top_in / height,
            wspace=0.25,
        )
        try:
            yield fig, axes[0]
        finally:
            plt.close(fig)


def to_svg(fig: Figure) -> str:
    """The figure as an `<svg>` element that scales to its container (no XML prologue)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight", pad_inches=0.05)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 class="plot"', text, count=1)


def batch_axis(ax: Any, batches: Sequence[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(batches))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v)}" if v >= 1 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("batch size (log scale)")


def tick_text(v: float) -> str:
    """Axis numbers people read: 20,000 not 2e+04; 0.5 not 5e-01."""
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


CHAR_EM = 0.62  # width of a digit in DejaVu Sans, in ems (a comma or point is narrower: an upper bound)
LABEL_GAP_EM = 1.0  # at least this much space between two tick labels


class FittingLogLocator(Locator):
    """Log-axis ticks at 1-2-5 per decade, thinned (1-2-5, then 1-3, then decades, then every other
    decade, ...) until no two labels overlap at the width the axis is drawn: a narrow ECDF panel
    showed "0.005" and "0.01" on top of each other as "0.005.01"."""

    SUBS: tuple[tuple[float, ...], ...] = ((1.0, 2.0, 5.0), (1.0, 3.0), (1.0,))

    def __init__(self, vertical: bool = False) -> None:
        self.vertical = vertical

    def __call__(self) -> Any:
        low, high = self.axis.get_view_interval()  # type: ignore[union-attr]
        return self.tick_values(low, high)

    def tick_values(self, vmin: float, vmax: float) -> Any:
        low, high = sorted((max(vmin, 1e-300), max(vmax, 1e-300)))
        candidates = [self._ticks(low, high, subs, 1) for subs in self.SUBS]
        candidates += [self._ticks(low, high, (1.0,), step) for step in range(2, 12)]
        usable = [t for t in candidates if len(t) >= 2] or [t for t in candidates if len(t)] or [np.array([low, high])]
        return next((t for t in usable if self._fits(t, low, high)), usable[-1])

    @staticmethod
    def _ticks(low: float, high: float, subs: Sequence[float], step: int) -> np.ndarray:
        first, last = int(np.floor(np.log10(low))), int(np.ceil(np.log10(high)))
        decades = [d for d in range(first, last + 1) if d % step == 0]
        values = [s * 10.0**d for d in decades for s in subs]
        return np.array([v for v in values if low * (1 - 1e-9) <= v <= high * (1 + 1e-9)])

    def _fits(self, ticks: np.ndarray, low: float, high: float) -> bool:
        axes = self.axis.axes  # type: ignore[union-attr]
        length = axes.bbox.height if self.vertical else axes.bbox.width  # pixels, after layout
        em = plt.rcParams["font.size"] * axes.figure.dpi / 72.0
        pos = (np.log10(ticks) - np.log10(low)) / (np.log10(high) - np.log10(low)) * length
        sizes = [em * 1.2 if self.vertical else em * CHAR_EM * len(tick_text(v)) for v in ticks]
        need = [(a + b) / 2 + LABEL_GAP_EM * em for a, b in zip(sizes, sizes[1:], strict=False)]
        return bool(np.all(np.diff(pos) >= need))


def _log_axis(ax: Any, which: str, min_span: float = 4.0) -> None:
    """Log axis with 1-2-5 ticks, widened to at least `min_span` (max/min) so it always has ticks."""
    axis, get_lim, set_lim = (
        (ax.yaxis, ax.get_ylim, ax.set_ylim) if which == "y" else (ax.xaxis, ax.get_xlim, ax.set_xlim)
    )
    (ax.set_yscale if which == "y" else ax.set_xscale)("log")
    low, high = get_lim()
    if low > 0 and high / low < min_span:
        centre = (low * high) ** 0.5
        set_lim(centre / min_span**0.5, centre * min_span**0.5)
    axis.set_major_locator(FittingLogLocator(vertical=which == "y"))
    axis.set_major_formatter(FuncFormatter(lambda v, _: tick_text(v)))
    axis.set_minor_formatter(NullFormatter())


def _log_y(ax: Any) -> None:
    _log_axis(ax, "y")


SOURCE_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"))


def _lines(rows: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame, str, str]]:
    """(variant, label, rows by batch size, line style, marker) per format, and per run when the
    rows hold several runs: colour says the format, line style and marker say the run."""
    sources = sorted(rows["source"].unique()) if "source" in rows else [""]
    out = []
    for variant in ordered_variants(rows["variant"]):
        for i, source in enumerate(sources):
            part = rows[(rows["variant"] == variant) & ((rows["source"] == source) if source else True)]
            if part.empty:
                continue
            ls, marker = SOURCE_STYLES[i % len(SOURCE_STYLES)]
            label = variant if len(sources) == 1 else f"{variant} · {source}"
            out.append((variant, label, part.sort_values("batch_size"), ls, marker))
    return out


def _legend(ax: Any, count: int, title: str | None = None) -> None:
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), title=title, fontsize=8 if count > 6 else 9,
              ncols=1 + (count > 12))  # fmt: skip


def _legend_width(labels: list[str]) -> float:
    longest = max((len(label) for label in labels), default=8)
    return min(4.5, 0.5 + 0.065 * longest * (1 + (len(labels) > 12)))


def throughput_plot(rows: pd.DataFrame, title: str) -> str:
    """Samples/s vs batch size, one line per format (and run), error bars = interval of the median."""
    lines = _lines(rows)
    with _figure(legend_in=_legend_width([line[1] for line in lines])) as (fig, axes):
        ax = axes[0]
        for variant, label, part, ls, marker in lines:
            err = np.vstack([part["throughput"] - part["throughput_ci_lo"], part["throughput_ci_hi"] - part["throughput"]])
            ax.errorbar(part["batch_size"], part["throughput"], yerr=np.clip(err, 0, None), marker=marker, ms=4,
                        capsize=3, ls=ls, color=colour(variant), label=label)  # fmt: skip
        batch_axis(ax, sorted(rows["batch_size"].unique()))
        _log_y(ax)
        ax.set_ylabel("throughput (samples/s, log scale)")
        ax.set_title("Throughput (higher is better)", loc="left")
        _legend(ax, len(lines), "format" if len({line[3] for line in lines}) == 1 else "format · run")
        return to_svg(fig)


def latency_plot(rows: pd.DataFrame, title: str, slo_ms: float | None = None) -> str:
    """p50 (solid) and p99 (dashed) latency vs batch size per format; with several runs, p50 only,
    line style per run."""
    lines = _lines(rows)
    many_runs = len({line[3] for line in lines}) > 1
    labels = [line[1] + ("" if many_runs else " p50") for line in lines] * (1 if many_runs else 2)
    with _figure(legend_in=_legend_width(labels)) as (fig, axes):
        ax = axes[0]
        for variant, label, part, ls, marker in lines:
            c = colour(variant)
            if many_runs:
                ax.plot(part["batch_size"], part["p50_ms"], marker=marker, ms=4, ls=ls, color=c, label=label)
                continue
            ax.plot(part["batch_size"], part["p50_ms"], marker="o", ms=4, color=c, label=f"{label} p50")
            ax.plot(part["batch_size"], part["p99_ms"], marker="^", ms=4, ls="--", color=c, alpha=0.8, label=f"{label} p99")
        if slo_ms is not None:
            ax.axhline(slo_ms, color="black", lw=1, ls=":", label=f"SLO {slo_ms:g} ms")
        batch_axis(ax, sorted(rows["batch_size"].unique()))
        _log_y(ax)
        ax.set_ylabel("latency per batch (ms, log scale)")
        what = "p50; line style = run" if many_runs else "p50 solid, p99 dashed"
        ax.set_title(f"Latency per batch: {what} (lower is better)", loc="left")
        _legend(ax, len(labels))
        return to_svg(fig)


def pooled_ms(latencies: list[np.ndarray], cell_rows: Sequence[int]) -> np.ndarray:
    """Sorted pooled latencies (ms) of the given cell rows."""
    if not cell_rows:
        return np.empty(0)
    return np.sort(np.concatenate([latencies[i] for i in cell_rows]).astype(np.float64) / 1e6)


def distribution_plot(rows: pd.DataFrame, latencies: list[np.ndarray], title: str) -> str:
    """The latency distribution of each cell: ECDFs per batch size, or box plots for big panels."""
    batches = sorted(int(b) for b in rows["batch_size"].unique())
    if len(batches) > MAX_ECDF_BATCHES:
        return _box_overview(rows, latencies, batches, title)
    return _ecdf_grid(rows, latencies, batches, title)


def _ecdf_grid(rows: pd.DataFrame, latencies: list[np.ndarray], batches: list[int], title: str) -> str:
    levels = np.linspace(0.0, 1.0, ECDF_POINTS)
    ncols = len(batches)
    with _figure(width=max(FULL_WIDTH, 2.6 * ncols), height=3.6, ncols=ncols, bottom_in=1.0, top_in=0.7) as (fig, axes):
        for ax, batch in zip(axes, batches, strict=True):
            part = rows[rows["batch_size"] == batch]
            for variant in ordered_variants(part["variant"]):
                values = pooled_ms(latencies, part[part["variant"] == variant].iloc[0]["_cell_rows"])
                if len(values):
                    ax.step(stats.quantiles_sorted(values, levels), levels, where="post", color=colour(variant), label=variant)
            _log_axis(ax, "x", min_span=2.0)
            ax.set_title(f"batch {batch}", fontsize=9)
            ax.set_xlabel("latency (ms, log)")
        axes[0].set_ylabel("fraction of calls ≤ x")
        fig.suptitle(f"Latency distribution (ECDF) — {title}", x=0.01, ha="left", fontsize=10, wrap=True)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncols=min(len(labels), 6) or 1, title=None)
        return to_svg(fig)


def _box_overview(rows: pd.DataFrame, latencies: list[np.ndarray], batches: list[int], title: str) -> str:
    """Whiskers p1..p99, box p25..p75, line at the median; one box per format per batch size."""
    variants = ordered_variants(rows["variant"])
    width = 0.8 / max(len(variants), 1)
    with _figure(width=max(FULL_WIDTH, 0.25 * len(batches) * len(variants)), height=4.2, legend_in=1.5) as (fig, axes):
        ax = axes[0]
        for j, variant in enumerate(variants):
            part = rows[rows["variant"] == variant].set_index("batch_size")
            boxes, positions = [], []
            for i, batch in enumerate(batches):
                if batch in part.index:
                    values = pooled_ms(latencies, part.loc[batch, "_cell_rows"])
                    if len(values):
                        boxes.append(_box_stats(values))
                        positions.append(i + (j - (len(variants) - 1) / 2) * width)
            if boxes:
                art = ax.bxp(boxes, positions=positions, widths=width * 0.9, showfliers=False, patch_artist=True)
                for patch in art["boxes"]:
                    patch.set(facecolor=colour(variant), alpha=0.6, edgecolor=colour(variant))
                ax.plot([], [], color=colour(variant), lw=6, alpha=0.6, label=variant)
        ax.set_xticks(range(len(batches)), [str(b) for b in batches])
        ax.set_xlabel("batch size")
        _log_y(ax)
        ax.set_ylabel("latency (ms, log scale)")
        ax.set_title(f"Latency distribution (box p25–p75, whiskers p1–p99) — {title}", loc="left")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), title="format")
        return to_svg(fig)


def _box_stats(values: np.ndarray) -> dict[str, float]:
    p1, q1, med, q3, p99 = stats.quantiles_sorted(values, (0.01, 0.25, 0.5, 0.75, 0.99))
    return {"whislo": p1, "q1": q1, "med": med, "q3": q3, "whishi": p99}


def cold_start_plot(panel: PanelStart, title: str) -> str:
    """Each format's own load and first call (median over processes), and — apart, on its own scale — the
    runtime start every worker process paid once before its first model (median, range over processes)."""
    formats = [f for f in panel.formats if f.load is not None or f.first_call is not None][::-1]
    variants = [f.variant for f in formats]
    height = max(2.0, 0.36 * len(variants) + 1.3)
    runtime = panel.runtime
    with _figure(width=FULL_WIDTH, height=height, ncols=2 if runtime else 1, legend_in=1.3, bottom_in=0.6,
                 left_in=1.3, width_ratios=(1, 3) if runtime else None) as (fig, axes):
        ax = axes[-1]
        load = np.array([f.load.median if f.load else 0.0 for f in formats])
        first = np.array([f.first_call.median if f.first_call else 0.0 for f in formats])
        ax.barh(variants, load, color=[colour(v) for v in variants], alpha=0.85, label="load")
        ax.barh(variants, first, left=load, color=[colour(v) for v in variants], alpha=0.4, hatch="//", label="first call")
        for y, (a, b) in enumerate(zip(load, first, strict=True)):
            ax.text(a + b, y, f"  {a:.3g} s + {b:.3g} s", va="center", fontsize=8)
        ax.set_xlabel("seconds: the format's own load + first call (graph building, tracing, compilation)")
        ax.margins(x=0.25)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
        if runtime is not None:
            _runtime_bar(axes[0], runtime)
        axes[0].set_title(f"Cold start — {title}", loc="left")
        return to_svg(fig)


def _runtime_bar(ax: Any, runtime: Spread) -> None:
    """One bar: the median runtime start of the panel's worker processes, its range as an error bar."""
    ax.barh([0], [runtime.median], color="#7f7f7f", alpha=0.85, height=0.5,
            xerr=[[runtime.median - runtime.low], [runtime.high - runtime.median]] if runtime.count > 1 else None,
            error_kw={"ecolor": "#333333", "capsize": 4})
    ax.set_yticks([0], ["runtime start"])
    ax.set_ylim(-1, 1)
    count = f"{runtime.count} processes" if runtime.count > 1 else "1 process"
    ax.set_xlabel(f"seconds, once per worker process ({count})")
    ax.text(runtime.high, 0.45, f"{runtime.median:.3g} s", va="bottom", ha="right", fontsize=8)
    ax.margins(x=0.1)
