"""The report's summary as plain sentences: the answers a reader came for, before any table.

Each item is (heading, [lines]) of plain text; renderers escape and decorate them. Answers:
which format is fastest at each batch size, how much faster the frozen graph is than the
checkpoint, which batch size gives the most throughput, how far to trust the numbers, and what
failed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from reports import numbers as fmt
from reports.views import PANEL_KEYS, ReportData, panel_title


@dataclass(frozen=True)
class SummaryItem:
    heading: str
    lines: list[str]


def summarize(data: ReportData) -> list[SummaryItem]:
    items = [
        SummaryItem("Fastest format per batch size", _fastest_lines(data)),
        SummaryItem("Frozen graph vs checkpoint", _headline_lines(data)),
        SummaryItem("Most throughput", _best_lines(data)),
        SummaryItem("How far to trust these numbers", _trust_lines(data)),
    ]
    problems = _problem_lines(data)
    if problems:
        items.append(SummaryItem("Problems", problems))
    return items


def _title(data: ReportData, row: pd.Series) -> str:
    return panel_title(tuple(str(row[k]) for k in PANEL_KEYS), data.many_sources)


def _by_panel(frame: pd.DataFrame) -> list[tuple[tuple[str, ...], pd.DataFrame]]:
    return [(tuple(str(k) for k in key), part) for key, part in frame.groupby(list(PANEL_KEYS), sort=True)]


def _fastest_lines(data: ReportData) -> list[str]:
    if data.fastest.empty:
        return ["no measurements"]
    lines = []
    for key, part in _by_panel(data.fastest):
        bits = []
        for _, row in part.iterrows():
            if row["runner_up"] is None or pd.isna(row["margin"]):
                bits.append(f"batch {row['batch_size']}: {row['variant']} ({fmt.ms(row['p50_ms'])} ms)")
                continue
            how = f"{fmt.ratio(row['margin'])} ahead of {row['runner_up']}"
            if not row["clear"]:
                how = f"within noise of {row['runner_up']}"
            bits.append(f"batch {row['batch_size']}: {row['variant']} ({fmt.ms(row['p50_ms'])} ms, {how})")
        lines.append(f"{panel_title(key, data.many_sources)}: " + "; ".join(bits))
    return lines


def _headline_lines(data: ReportData) -> list[str]:
    if data.headline.empty:
        return ["not measured: needs both checkpoint and frozen cells of the same model"]
    lines = []
    for key, part in _by_panel(data.headline):
        bits = []
        for _, row in part.iterrows():
            word = "faster" if row["speedup"] >= 1 else "slower"
            factor = row["speedup"] if row["speedup"] >= 1 else 1 / row["speedup"]
            bits.append(
                f"batch {row['batch_size']}: {fmt.ratio(factor)} {word} "
                f"(95% CI of speedup {fmt.interval(row['ci_lo'], row['ci_hi'], '×')})"
            )
        parity = part.iloc[0]
        outputs = f"outputs {parity['parity']}"
        if parity["parity"] in ("same", "differs") and pd.notna(parity["parity_max_abs"]):
            outputs += f" (max |Δ| {fmt.sci(parity['parity_max_abs'])})"
        lines.append(f"{panel_title(key, data.many_sources)}: " + "; ".join(bits) + f"; {outputs}")
    return lines


def _best_lines(data: ReportData) -> list[str]:
    if data.best.empty:
        return ["no measurements"]
    lines = []
    for key, part in _by_panel(data.best):
        top = part.loc[part["best_throughput"].idxmax()]
        text = (
            f"{panel_title(key, data.many_sources)}: {top['variant']} at batch {top['best_batch']}, "
            f"{fmt.rate(top['best_throughput'])} samples/s (p99 {fmt.ms(top['best_p99_ms'])} ms)"
        )
        if data.slo_ms is not None:
            text += "; " + _slo_text(part, data.slo_ms)
        lines.append(text)
    return lines


def _slo_text(part: pd.DataFrame, slo_ms: float) -> str:
    meeting = part[part["slo_batch"].notna()]
    if meeting.empty:
        return f"no format keeps p99 ≤ {slo_ms:g} ms at any measured batch size"
    pick = meeting.loc[meeting["slo_throughput"].idxmax()]
    return (
        f"with p99 ≤ {slo_ms:g} ms: {pick['variant']} at batch {int(pick['slo_batch'])}, "
        f"{fmt.rate(pick['slo_throughput'])} samples/s"
    )


def _trust_lines(data: ReportData) -> list[str]:
    agg = data.agg
    measured = agg[agg["count"] > 0] if "count" in agg else agg.iloc[0:0]
    if measured.empty:
        return ["no measurements"]
    single = int((measured["reps_ok"] <= 1).sum())
    lines = []
    if single:
        lines.append(
            f"{single} of {len(measured)} cells ran in one worker process: their intervals cover only the noise "
            "inside that process; medians can move by up to ~2× between fresh processes, so repeat "
            "(repetitions ≥ 3) before trusting small differences"
        )
    multi = measured[measured["reps_ok"] > 1]
    if not multi.empty:
        worst = multi.loc[multi["rep_spread"].idxmax()]
        low, high = int(multi["reps_ok"].min()), int(multi["reps_ok"].max())
        procs = f"{low}" if low == high else f"{low}–{high}"
        lines.append(
            f"{len(multi)} cells pooled {procs} worker processes each; "
            f"intervals resample processes, then samples. Largest between-process spread of medians: "
            f"{fmt.ratio(worst['rep_spread'])} ({worst['variant']}, batch {worst['batch_size']})"
        )
    return lines


def _problem_lines(data: ReportData) -> list[str]:
    lines = list(data.notes)
    if not data.failures.empty:
        counts = Counter(data.failures["status"])
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        lines.append(f"{len(data.failures)} cell runs produced no measurement ({detail}): see “Failed and skipped cells”")
    return lines
