"""The report's summary as plain sentences: the answers a reader came for, before any table.

Each item is (heading, [lines]) of plain text; renderers escape and decorate them. Answers:
which format is fastest at each batch size, how much faster the frozen graph is than the
checkpoint, which batch size gives the most throughput, how far to trust the numbers, and what
failed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from reports import numbers as fmt
from reports.aggregate import ADVISED_PROCESSES
from reports.rerun import scope_from_history, short_scope
from reports.views import HEADLINE_PAIR, PANEL_KEYS, ReportData, one_process, panel_title


@dataclass(frozen=True)
class SummaryItem:
    heading: str
    lines: list[str]


NO_CELLS = "these results hold no cells: nothing was measured and nothing failed (only the run's header was written)"


def summarize(data: ReportData) -> list[SummaryItem]:
    if data.no_cells:  # not "no measurements" three times over: there was nothing to measure
        return [SummaryItem("No cells", [NO_CELLS]), *([SummaryItem("Problems", data.notes)] if data.notes else [])]
    items = [SummaryItem("Fastest format per batch size", _fastest_lines(data))]
    if _has_headline_format(data):  # a run of neither format has nothing to say about the pair
        items.append(SummaryItem("Frozen graph vs checkpoint", _headline_lines(data)))
    items += [
        SummaryItem("Most throughput", _best_lines(data)),
        *([SummaryItem("Your call vs the fastest path", _call_lines(data))] if not data.calls.empty else []),
        *([SummaryItem("Setting vs setting", _setting_lines(data))] if not data.settings.empty else []),
        SummaryItem("How far to trust these numbers", _trust_lines(data)),
        *([SummaryItem("Run to run", _drift_lines(data))] if data.drift is not None else []),
    ]
    problems = _problem_lines(data)
    if problems:
        items.append(SummaryItem("Problems", problems))
    return items


def _title(data: ReportData, row: pd.Series) -> str:
    return panel_title(tuple(str(row[k]) for k in PANEL_KEYS), data.many_sources)


def _by_panel(frame: pd.DataFrame) -> list[tuple[tuple[str, ...], pd.DataFrame]]:
    """Per panel, ordered like views.panels: model, device, setting, then run."""
    found = [(tuple(str(k) for k in key), part) for key, part in frame.groupby(list(PANEL_KEYS), sort=False)]
    return sorted(found, key=lambda item: (item[0][1], item[0][2], item[0][3], item[0][0]))


DETAIL_BATCHES = 3  # up to this many batch sizes, one clause each; beyond, runs are summarised


def _batch_range(batches: list[int]) -> str:
    return f"batch {batches[0]}" if len(batches) == 1 else f"batches {batches[0]}–{batches[-1]}"


def _runs_of(part: pd.DataFrame, column: str) -> list[pd.DataFrame]:
    """Consecutive rows (by batch size) with the same value in `column`."""
    values = list(part[column])
    starts = [i for i in range(len(values)) if i == 0 or values[i] != values[i - 1]]
    ends = starts[1:] + [len(values)]
    return [part.iloc[a:b] for a, b in zip(starts, ends, strict=True)]


UNTESTED = "one worker process: not tested against the noise"
USE_MORE = f"use ≥ {ADVISED_PROCESSES}"  # worker processes: what a one-process clause advises


def _fastest_clause(rows: pd.DataFrame, say_untested: bool = True) -> str:
    """"batch 1: tflite (0.107 ms, 4.03× ahead of frozen)" or, for a run of batch sizes,
    "batches 1–512: tflite+int8 (1.25–1.34× ahead of the next; within noise at batch 8)". With one worker
    process the margin is said untested, never "within noise" (a 4× lead is not noise; no interval says so)."""
    first = rows.iloc[0]
    batches = [int(b) for b in rows["batch_size"]]
    margins = rows["margin"].dropna()
    if margins.empty:
        return f"{_batch_range(batches)}: {first['variant']} (the only format measured)"
    runners = set(rows["runner_up"].dropna())
    ahead = f"ahead of {next(iter(runners))}" if len(runners) == 1 else "ahead of the next"
    untested = UNTESTED if say_untested else ""
    if len(rows) == 1:
        if first["clear"]:
            how = f"{fmt.ratio(first['margin'])} {ahead}"
        elif _tested(first):
            how = f"within noise of {first['runner_up']}"
        else:
            how = f"{fmt.ratio(first['margin'])} {ahead}" + (f"; {untested}" if untested else "")
        return f"{_batch_range(batches)}: {first['variant']} ({fmt.ms(first['p50_ms'])} ms, {how})"
    spread = f"{margins.min():.2f}–{margins.max():.2f}× {ahead}"
    unclear = [int(r["batch_size"]) for _, r in rows.iterrows() if not r["clear"] and _tested(r)]
    if unclear:
        spread += "; within noise at batch " + ", ".join(str(b) for b in unclear)
    if untested and not any(_tested(r) for _, r in rows.iterrows()):
        spread += f"; {untested}"
    return f"{_batch_range(batches)}: {first['variant']} ({spread})"


def _tested(row: pd.Series) -> bool:
    """Whether the fastest-format row's margin was tested against the noise (absent in older frames: yes)."""
    return bool(row.get("tested", True))


def _fastest_lines(data: ReportData) -> list[str]:
    if data.fastest.empty:
        return ["no measurements"]
    lines = []
    for key, part in _by_panel(data.fastest):
        part = part.sort_values("batch_size")
        if part["runner_up"].isna().all() and part["variant"].nunique() == 1:
            lines.append(f"{panel_title(key, data.many_sources)}: {part.iloc[0]['variant']} is the only format measured")
            continue
        runs = _runs_of(part, "variant") if len(part) > DETAIL_BATCHES else [part.iloc[[i]] for i in range(len(part))]
        once = len(runs) > 1 and not any(_tested(r) for _, r in part.iterrows())  # say it once, at the end
        text = "; ".join(_fastest_clause(r, say_untested=not once) for r in runs)
        lines.append(f"{panel_title(key, data.many_sources)}: {text}" + (f" ({UNTESTED})" if once else ""))
    return lines


def _speedup_head(row: pd.Series) -> str:
    """"batch 1: 2.10× faster" (a slowdown as "1.20× slower")."""
    factor, word = (row["speedup"], "faster") if row["speedup"] >= 1 else (1 / row["speedup"], "slower")
    return f"batch {row['batch_size']}: {fmt.ratio(factor)} {word}"


def _speedup_clause(row: pd.Series) -> str:
    """"2.10× faster (95% CI 1.95–2.23×, 5 paired processes)"; a slowdown is stated as such, interval
    inverted too; one process gets no interval at all (its own says nothing about the next run)."""
    rerun = _rerun_clause(row, row["speedup"] < 1)
    if one_process(row):
        head = _speedup_head(row)
        return f"{head} (one worker process: no interval{'; ' + rerun if rerun else f' for a rerun; {USE_MORE}'})"
    slower = row["speedup"] < 1
    factor, low, high = (1 / row["speedup"], 1 / row["ci_hi"], 1 / row["ci_lo"]) if slower else (
        row["speedup"], row["ci_lo"], row["ci_hi"])
    point, interval = fmt.ratio_texts(factor, low, high)
    head = f"batch {row['batch_size']}: {point} {'slower' if slower else 'faster'}"
    return f"{head} (95% CI {interval}, {int(row['pairs'])} paired processes{'; ' + rerun if rerun else ''})"


def _speedup_clauses(rows: list[pd.Series]) -> str:
    """The clauses of several batch sizes; where none has an interval or a rerun interval (one worker process,
    no history), that is said once at the end instead of in every clause."""
    if all(one_process(r) and not _rerun_clause(r, False) for r in rows):
        return "; ".join(_speedup_head(r) for r in rows) + f" (one worker process: no interval for a rerun; {USE_MORE})"
    return "; ".join(_speedup_clause(r) for r in rows)


def _rerun_clause(row: pd.Series, inverted: bool) -> str:
    """"a rerun: 1.80–2.20× (12 runs here (history))": where a next run's ratio is expected ('' without one)."""
    low, high = row.get("rerun_lo"), row.get("rerun_hi")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return ""
    if inverted:
        low, high = 1 / high, 1 / low
    return f"a rerun: {fmt.interval(low, high, '×')}, {short_scope(row.get('rerun_runs'))}"


def _speedup_range(part: pd.DataFrame) -> str:
    """Many batch sizes: the range of speedups and what their intervals say, in one clause."""
    batches = [int(b) for b in part["batch_size"]]
    low, high = part["speedup"].min(), part["speedup"].max()
    if (part["significant"] & (part["ci_lo"] > 1)).all():
        verdict = "every 95% interval above 1"
    elif (part["significant"] & (part["ci_hi"] < 1)).all():
        verdict = "every 95% interval below 1: frozen is slower"
    else:
        unclear = [int(b) for b, sig in zip(part["batch_size"], part["significant"], strict=True) if not sig]
        verdict = "no clear difference at batch " + ", ".join(str(b) for b in unclear) if unclear else "mixed"
    return f"{low:.2f}–{high:.2f}× across batches {batches[0]}–{batches[-1]} ({verdict})"


def _drift_lines(data: ReportData) -> list[str]:
    """Several runs of the same cells on one host: how far medians and ratios moved, where a next run lands."""
    assert data.drift is not None
    cells, ratios = data.drift
    if cells.empty:
        return ["no cell appears in two runs of the same host: nothing to say about run-to-run drift"]
    worst = cells.loc[cells["spread"].idxmax()]
    lines = [f"{int(worst['runs'])} runs on {worst['host']}: medians moved up to {fmt.ratio(worst['spread'])} between "
             f"runs ({worst['what'].split(': ')[1].replace(' median (ms)', '')}, batch {worst['batch_size']}, "
             f"{worst['what'].split(': ')[0]})"]
    for _, r in ratios.sort_values("spread", ascending=False).head(3).iterrows():
        lines.append(f"{r['what'].replace(' (×)', '')} at batch {r['batch_size']}: {r['low']:.2f}–{r['high']:.2f}× over "
                     f"{int(r['runs'])} runs; a next run: 95% within {r['next_lo']:.2f}–{r['next_hi']:.2f}×")
    return lines


def _setting_lines(data: ReportData) -> list[str]:
    """"TF 2.20.0 vs TF 2.21.0 — mnist_cnn frozen: batch 1: 1.05× faster (95% CI …, 5 paired processes)"."""
    lines = []
    for (model, variant, call, base, other), part in data.settings.groupby(["model", "variant", "call", "base", "other"],
                                                                          sort=True):
        rows = [row for _, row in part.sort_values("batch_size").iterrows()]
        what = variant if call == "fastest" else f"{variant} ({call} call)"
        if all(one_process(r) for r in rows):  # say once what one process cannot tell
            clauses = "; ".join(_speedup_head(r) for r in rows)
            lines.append(f"{other} vs {base} — {model} {what}: {clauses} (one worker process per setting: no "
                         f"interval; {USE_MORE})")
        else:
            lines.append(f"{other} vs {base} — {model} {what}: {'; '.join(_speedup_clause(r) for r in rows)}")
    return lines


def _call_untested(row: pd.Series) -> bool:
    """One worker process and no rerun interval: the overhead is untested, not "within noise"."""
    low, high = row.get("rerun_lo"), row.get("rerun_hi")
    no_rerun = low is None or high is None or not (math.isfinite(low) and math.isfinite(high))
    return one_process(row) and no_rerun


def _call_clause(row: pd.Series) -> str:
    """"batch 1: +0.11 ms (+85%, 95% CI +80–90%)" — or "same as the fastest" where it is that path; with one
    worker process "+0.11 ms (+85%)" (and its rerun interval from the history, where there is one), never
    "within noise": one process tests nothing (`_call_lines` says so once)."""
    if "is its fastest" in str(row["call_path"]):
        return f"batch {row['batch_size']}: the idiomatic call is the fastest path"
    pct, interval = fmt.change_texts(row["ratio"], row["ci_lo"], row["ci_hi"])
    low, high = row.get("rerun_lo"), row.get("rerun_hi")
    rerun = ""
    if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
        rerun = f"; a rerun: {low - 1:+.0%}…{high - 1:+.0%}, {short_scope(row.get('rerun_runs'))}"
    if one_process(row):
        return f"batch {row['batch_size']}: {row['overhead_ms']:+.3g} ms ({row['ratio'] - 1:+.0%}{rerun})"
    if not row["significant"]:
        return f"batch {row['batch_size']}: {row['overhead_ms']:+.3g} ms ({pct}; within noise{rerun})"
    return f"batch {row['batch_size']}: {row['overhead_ms']:+.3g} ms ({pct}, 95% CI {interval}{rerun})"


def _call_lines(data: ReportData) -> list[str]:
    """Per model and variant: what the user's own call costs per call over the fastest path."""
    lines = []
    for _, part in data.calls.groupby([*PANEL_KEYS, "variant"], sort=False):
        first = part.iloc[0]
        clauses = "; ".join(_call_clause(r) for _, r in part.sort_values("batch_size").iterrows())
        untested = any(_call_untested(r) for _, r in part.iterrows())
        lines.append(f"{_title(data, first)}: {first['variant']} {first['call_path']} vs {first['fastest_path']}: {clauses}"
                     + (f" ({UNTESTED})" if untested else ""))
    worst = data.calls[data.calls["significant"]].sort_values("ratio").tail(1)
    for _, row in worst.iterrows():
        lines.append(f"→ {row['variant']}: the idiomatic call costs {row['overhead_ms']:+.3g} ms per call at batch "
                     f"{row['batch_size']} ({row['ratio'] - 1:+.0%}); the harness's path ({row['fastest_path']}) saves it")
    return lines

def _has_headline_format(data: ReportData) -> bool:
    return "variant" in data.agg and bool(data.agg["variant"].isin(HEADLINE_PAIR).any())


def _headline_lines(data: ReportData) -> list[str]:
    if data.headline.empty:
        return ["not measured: needs both checkpoint and frozen cells of the same model"]
    lines = []
    for key, part in _by_panel(data.headline):
        part = part.sort_values("batch_size")
        if len(part) > DETAIL_BATCHES:
            body = "frozen/checkpoint speedup " + _speedup_range(part)
        else:
            body = _speedup_clauses([row for _, row in part.iterrows()])
        parity = part.iloc[0]
        outputs = f"outputs {parity['parity']}"
        if parity["parity"] in ("same", "differs") and pd.notna(parity["parity_max_abs"]):
            outputs += f" (max |Δ| {fmt.sci(parity['parity_max_abs'])})"
        lines.append(f"{panel_title(key, data.many_sources)}: {body}; {outputs}")
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
            f"(repetitions ≥ {ADVISED_PROCESSES}) before trusting small differences"
        )
    multi = measured[measured["reps_ok"] > 1]
    if not multi.empty:
        worst = multi.loc[multi["rep_spread"].idxmax()]
        low, high = int(multi["reps_ok"].min()), int(multi["reps_ok"].max())
        procs = f"{low}" if low == high else f"{low}–{high}"
        lines.append(
            f"{len(multi)} cells pooled {procs} worker processes each; intervals are Student-t on the processes' "
            f"values (speedups: on per-process ratios, paired inside each process where formats shared a worker). "
            f"Largest between-process spread of medians: "
            f"{fmt.ratio(worst['rep_spread'])} ({worst['variant']}, batch {worst['batch_size']})"
        )
        lines += _rerun_lines(data)
    return lines + [adaptive_line(label, record) for label, record in data.runs.adaptive.items()] + list(data.known)


def rerun_scopes(data: ReportData) -> list[str]:
    """The distinct scopes of the ratios' rerun intervals (speedups, call overheads), history-based first."""
    frames = [f for f in (data.speedups, data.calls) if not f.empty and "rerun_scope" in f]
    found = [str(s) for f in frames for s, lo in zip(f["rerun_scope"], f["rerun_lo"], strict=True)
             if isinstance(s, str) and s and pd.notna(lo)]
    return sorted(dict.fromkeys(found), key=lambda s: not scope_from_history(s))


def _rerun_lines(data: ReportData) -> list[str]:
    """What the ratios' rerun intervals cover: the run-to-run history of this machine, or this run's noise only."""
    scopes = rerun_scopes(data)
    if not scopes:
        return ["every interval here is this run's: whole runs on a shared machine can shift together, which one run "
                "cannot see — compare several runs (report A B C) for the run-to-run spread"]
    if not scope_from_history(scopes[0]):
        return [f"the 95% intervals are this run's; the ratios' rerun intervals (where a next run's ratio is expected) "
                f"cover {scopes[0]}"]
    rest = [s for s in scopes[1:] if not scope_from_history(s)]
    tail = f"; ratios without 5 earlier runs here: {rest[0]}" if rest else ""
    return [f"the ratios' rerun intervals (where a next run's ratio is expected) come from the history: {scopes[0]}{tail}"]


def adaptive_line(label: str, record: Mapping[str, Any]) -> str:
    """What ended an adaptive run (repetitions = "auto"), which ratios missed the target, and what reaching it
    would take at the spread seen (processes, and time at this run's pace)."""
    ratios = record.get("ratios") or []
    missed = [r for r in ratios if not r.get("reached")]
    target = f"±{float(record.get('target') or 0):.0%}"
    head = f"{label}: {record.get('rounds')} worker processes per group (auto), stopped by {record.get('stopped')}"
    if not ratios:
        return f"{head}; no ratio to measure"
    if not missed:
        return f"{head}: all {len(ratios)} ratios within {target}"
    worst = max(missed, key=lambda r: r.get("half_width") or math.inf)
    width = "no interval" if worst.get("half_width") is None else f"±{worst['half_width']:.1%}"
    text = f"{head}: {len(ratios) - len(missed)} of {len(ratios)} ratios within {target}; widest {worst['label']} ({width})"
    return text + _needed_clause(record, missed, target)


def _needed_clause(record: Mapping[str, Any], missed: list[Mapping[str, Any]], target: str) -> str:
    """"; ±3% on every ratio would take about 28 processes per group at the spread seen (~6 min at this run's
    13 s per round: --time-budget 380)" — '' for records without the counts (runs before them)."""
    if not all("procs_needed" in r for r in missed):
        return ""
    counts = [r.get("procs_needed") for r in missed]
    if any(c is None for c in counts):
        return f"; {target} on every ratio would take more than 200 processes per group at the spread seen"
    need = max(int(c) for c in counts if c is not None)
    rounds, elapsed = int(record.get("rounds") or 0), float(record.get("elapsed_s") or 0)
    if rounds < 1 or elapsed <= 0:
        return f"; {target} on every ratio would take about {need} processes per group at the spread seen"
    per_round = elapsed / rounds
    seconds = need * per_round
    pace = f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
    return (f"; {target} on every ratio would take about {need} processes per group at the spread seen (~{pace} at this "
            f"run's {per_round:.0f} s per round: --time-budget {math.ceil(seconds / 10) * 10})")


def _problem_lines(data: ReportData) -> list[str]:
    lines = list(data.notes)
    if not data.failures.empty:
        counts = Counter(data.failures["status"])
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        lines.append(f"{len(data.failures)} cell runs produced no measurement ({detail}): see “Failed and skipped cells”")
    return lines
