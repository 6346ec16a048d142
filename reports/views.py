"""Views over the aggregated frame: what the renderers show. Frames in, frames out; no formatting.

A "panel" is one (source, model, device, setting): the unit inside which formats and batch sizes
are compared. Several runs or hosts give several panels side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reports import rerun, stats
from reports.aggregate import ADVISED_PROCESSES, TARGET, Proc
from reports.load import Runs
from reports.schema import VARIANTS

PANEL_KEYS = ("source", "model", "device", "setting")
DEFAULT_BASELINE = "checkpoint"
HEADLINE_PAIR = ("checkpoint", "frozen")


def variant_rank(variant: str) -> int:
    """Display order: the order of schema.VARIANTS, unknown names last."""
    return VARIANTS.index(variant) if variant in VARIANTS else len(VARIANTS)


def ordered_variants(names: Any) -> list[str]:
    return sorted({str(n) for n in names}, key=lambda v: (variant_rank(v), v))


CALL_COLUMNS = [*PANEL_KEYS, "batch_size", "variant", "call_path", "fastest_path", "fastest_ms", "idiomatic_ms",
                "overhead_ms", "ratio", "ci_lo", "ci_hi", "ci_scope", "significant", "rerun_lo", "rerun_hi",
                "rerun_scope", "rerun_runs", "pairs"]


SETTING_COLUMNS = ["source", "model", "device", "call", "variant", "batch_size", "base", "other", "speedup", "ci_lo",
                   "ci_hi", "ci_scope", "significant", "pairs"]
PROCESS_SETTINGS = ("intra_op_threads", "inter_op_threads", "env_toggles", "affinity", "python")


def ok_rows(agg: pd.DataFrame) -> pd.DataFrame:
    """Rows with measurements (at least one repetition with samples)."""
    return agg[(agg["status"] == "ok") & (agg["count"] > 0)]


def panels(agg: pd.DataFrame) -> list[tuple[tuple[str, ...], pd.DataFrame]]:
    """(panel key, rows) in a stable order: by model, device, setting, then source, so that the
    same model's panels from several runs or hosts sit next to each other."""
    if agg.empty:
        return []
    grouped = agg.groupby(list(PANEL_KEYS), sort=False, dropna=False)
    found = [(tuple(str(k) for k in key), frame) for key, frame in grouped]
    return sorted(found, key=lambda item: (item[0][1], item[0][2], item[0][3], item[0][0]))


def comparison_groups(agg: pd.DataFrame) -> list[tuple[tuple[str, ...], pd.DataFrame]]:
    """Rows grouped by (model, device, setting) across all runs: for plots that overlay runs."""
    if agg.empty:
        return []
    grouped = agg.groupby(["model", "device", "setting"], sort=True, dropna=False)
    return [(tuple(str(k) for k in key), frame) for key, frame in grouped]


def panel_title(key: tuple[str, ...], many_sources: bool) -> str:
    source, model, device, setting = key
    parts = [model, device] + ([setting] if setting else []) + ([source] if many_sources else [])
    return " · ".join(parts)


def pivot(rows: pd.DataFrame, value: str) -> pd.DataFrame:
    """Batch size x variant table of one column, variants in VARIANTS order."""
    table = rows.pivot_table(index="batch_size", columns="variant", values=value, aggfunc="first")
    return table[ordered_variants(table.columns)]


def fastest_per_batch(agg: pd.DataFrame) -> pd.DataFrame:
    """Per panel and batch size: the fastest variant by median, the runner-up, and the margin.

    `clear` is True only when the runner-up/fastest ratio's interval (`paired_speedup`: per-process paired
    ratios, never a one-process interval) lies above 1; else the order may not hold in the next run. `tested`
    is False when there is no such interval (one worker process): the margin is then untested, not "within noise".
    """
    rows = []
    for key, frame in panels(ok_rows(agg)):
        for batch, group in frame.groupby("batch_size", sort=True):
            rows.append(_fastest(key, int(batch), group.sort_values("p50_ms")))
    return pd.DataFrame(rows, columns=[*PANEL_KEYS, "batch_size", "variant", "p50_ms", "throughput", "runner_up", "margin",
                                       "clear", "tested"])


def _fastest(key: tuple[str, ...], batch: int, group: pd.DataFrame) -> dict[str, Any]:
    best = group.iloc[0]
    row: dict[str, Any] = dict(zip(PANEL_KEYS, key, strict=True))
    row.update(batch_size=batch, variant=best["variant"], p50_ms=best["p50_ms"], throughput=best["throughput"])
    if len(group) > 1:
        second = group.iloc[1]
        got = paired_speedup(second, best, 0.95)
        row.update(runner_up=second["variant"], margin=second["p50_ms"] / best["p50_ms"],
                   clear=bool(got["significant"]), tested=int(got["pairs"]) >= 2)
    else:
        row.update(runner_up=None, margin=np.nan, clear=False, tested=False)
    return row


def speedups(agg: pd.DataFrame, parity: pd.DataFrame, baseline: str, confidence: float = 0.95,
             history: rerun.PastRuns | None = None) -> pd.DataFrame:
    """Speedup of every variant over `baseline` (baseline median / variant median), per batch size, with
    an interval at the level of the noise (`paired_speedup`), a rerun interval (`reports.rerun`: from the past runs
    in `history` where there are enough, else this run's) and the output parity of the pair beside it."""
    rows = []
    for key, frame in panels(ok_rows(agg)):
        base = frame[frame["variant"] == baseline].set_index("batch_size", drop=False)
        for _, row in frame[frame["variant"] != baseline].iterrows():
            batch = int(row["batch_size"])
            if batch in base.index:
                rows.append(_speedup_row(key, base.loc[batch], row, parity, baseline, confidence, history))
    columns = [*PANEL_KEYS, "batch_size", "variant", "baseline", "speedup", "ci_lo", "ci_hi", "ci_scope", "significant",
               "rerun_lo", "rerun_hi", "rerun_scope", "rerun_runs", "pairs", "procs_needed"]
    frame = pd.DataFrame(rows, columns=[*columns, *PARITY_FIELDS])
    if frame.empty:
        return frame
    frame["_order"] = frame["variant"].map(variant_rank)
    return frame.sort_values([*PANEL_KEYS, "batch_size", "_order"]).drop(columns="_order").reset_index(drop=True)


Procs = Mapping[int, Proc]  # repetition -> the process's cell: aggregate's `_procs`


def paired_ratios(base: Procs, other: Procs) -> tuple[list[float], str]:
    """Per-process ratios base/other and how they pair: inside each process when both cells were measured
    interleaved in the same worker (same repetition and pid); in duets when, in every repetition, the two
    cells were partners of one duet (each names the other: timed in the same window); else by round
    (processes of the same repetition ran next to each other in time, so a drift of the machine falls on both)."""
    common = sorted(set(base) & set(other))
    ratios = [base[r][2] / other[r][2] for r in common]
    inside = bool(common) and all(base[r][1] == "interleaved" and base[r][0] is not None and base[r][0] == other[r][0]
                                  for r in common)
    if inside:
        return ratios, "paired in each process (interleaved)"
    duets = bool(common) and all(duet_partners(base[r], other[r]) for r in common)
    return ratios, "paired in duets (two processes at once)" if duets else "paired by round (separate processes)"


def duet_partners(a: Proc, b: Proc) -> bool:
    """Whether two processes' cells were timed in one duet window: each names the other as its partner."""
    return a.mode == "duet" == b.mode and b.cell_id in a.partners and a.cell_id in b.partners


def one_process(row: pd.Series) -> bool:
    """Whether a ratio row (speedup, call overhead, setting) rests on one paired worker process: no interval at the
    level of the noise. A frame from before `pairs` was kept counts as several."""
    pairs = row.get("pairs")
    return int(pairs if pd.notna(pairs) else 2) < 2


def paired_speedup(base: pd.Series, row: pd.Series, confidence: float) -> dict[str, Any]:
    """base median / row median with its interval and whether it is significant, all from one
    `stats.RatioInterval`: with two or more paired processes the Student-t interval of the per-process paired ratios
    placed around the ratio of medians (`stats.ratio_interval`), significant where that interval, as shown, excludes
    1; with one process the within-process interval, labelled as such and never significant."""
    ratios, how = paired_ratios(base["_procs"] or {}, row["_procs"] or {})
    point = float(base["p50_ms"] / row["p50_ms"])
    if len(ratios) >= 2:
        got = stats.ratio_interval(point, ratios, confidence)
        return {**_ratio_fields(got), "ci_scope": f"{how}, n={got.n}",
                "procs_needed": stats.processes_needed(got.sd, TARGET, confidence)}
    lo, hi = (np.nan, np.nan)
    if base["_p50_draws"] is not None and row["_p50_draws"] is not None:
        _, lo, hi = stats.ratio_from_draws(point, base["_p50_draws"], row["_p50_draws"], confidence)
    within = stats.within_process_ratio(point, lo, hi, len(ratios))
    return {**_ratio_fields(within), "procs_needed": None,
            "ci_scope": f"within one process: says nothing about the next run (use ≥ {ADVISED_PROCESSES} processes)"}


def _ratio_fields(got: stats.RatioInterval) -> dict[str, Any]:
    """The columns every ratio row (speedup, call overhead, setting) takes from its one `stats.RatioInterval`."""
    return {"ci_lo": got.low, "ci_hi": got.high, "rerun_lo": got.rerun_low, "rerun_hi": got.rerun_high,
            "pairs": got.n, "significant": got.significant}


def _speedup_row(key: tuple[str, ...], base: pd.Series, row: pd.Series, parity: pd.DataFrame, baseline: str,
                 confidence: float, history: rerun.PastRuns | None) -> dict[str, Any]:
    out: dict[str, Any] = dict(zip(PANEL_KEYS, key, strict=True))
    out.update(batch_size=int(row["batch_size"]), variant=row["variant"], baseline=baseline,
               speedup=float(base["p50_ms"] / row["p50_ms"]), **paired_speedup(base, row, confidence))
    out.update(_rerun_fields(history, base, row, (out["rerun_lo"], out["rerun_hi"]), confidence))
    out.update(parity_of(parity, key[0], key[1], baseline, str(row["variant"])))
    return out


def _rerun_fields(history: rerun.PastRuns | None, numerator: pd.Series, denominator: pd.Series,
                  within: tuple[float, float], confidence: float) -> dict[str, Any]:
    """rerun_lo/rerun_hi/rerun_scope/rerun_runs of numerator/denominator (`reports.rerun.for_pair`)."""
    got = rerun.for_pair(history, str(numerator["run_id"]), numerator, denominator, within, confidence)
    return {"rerun_lo": got.low, "rerun_hi": got.high, "rerun_scope": got.scope, "rerun_runs": got.runs}


PARITY_FIELDS = ("parity", "parity_max_abs", "parity_top1")


def parity_of(parity: pd.DataFrame, source: str, model: str, a: str, b: str) -> dict[str, Any]:
    """Parity between two variants of a model: "same", "differs", "error" or "not checked"."""
    if parity.empty:
        return {"parity": "not checked", "parity_max_abs": np.nan, "parity_top1": np.nan}
    mine = parity[(parity["source"] == source) & (parity["model"] == model)]
    pair = mine[((mine["a"] == a) & (mine["b"] == b)) | ((mine["a"] == b) & (mine["b"] == a))]
    if pair.empty:
        errors = mine[mine["error"].notna()]
        label = "error" if not errors.empty else "not checked"
        return {"parity": label, "parity_max_abs": np.nan, "parity_top1": np.nan}
    ok = pair["ok"].map(_true)
    max_abs = pd.to_numeric(pair["max_abs"], errors="coerce")
    top1 = pd.to_numeric(pair["top1_agreement"], errors="coerce")
    label = "same" if bool(ok.all()) else "differs"
    return {
        "parity": QUANTISED if bool(pair["fp32"].map(_false).all()) else label,
        "parity_max_abs": float(max_abs.max()) if max_abs.notna().any() else np.nan,
        "parity_top1": float(top1.min()) if top1.notna().any() else np.nan,
    }


QUANTISED = "quantised"  # a pair with a quantised variant: differences shown, never a failure


def _true(value: Any) -> bool:
    return value is True or value == 1 or value is np.True_


def _false(value: Any) -> bool:
    return value is False or value is np.False_ or (isinstance(value, (int, float)) and value == 0)


PARITY_TABLE_COLUMNS = ["source", "model", "a", "b", "output", "max_abs", "max_rel", "top1_agreement", "verdict", "note"]


def parity_table(parity: pd.DataFrame) -> pd.DataFrame:
    """Every model's output parity, whatever the baseline: one row per pair of formats and output,
    with a verdict: "same" / "differs" for fp32 pairs (checked against the tolerance), "quantised"
    for pairs with a quantised variant (shown, never failing), "error" when the check could not run."""
    if parity.empty:
        return pd.DataFrame(columns=PARITY_TABLE_COLUMNS)
    rows = [_parity_table_row(r) for _, r in parity.iterrows()]
    frame = pd.DataFrame(rows, columns=PARITY_TABLE_COLUMNS)
    order = frame[["a", "b"]].map(lambda v: variant_rank(str(v)) if isinstance(v, str) else -1)
    frame = frame.assign(_a=order["a"], _b=order["b"]).sort_values(["source", "model", "_a", "_b", "output"], kind="stable")
    return frame.drop(columns=["_a", "_b"]).reset_index(drop=True)


def _parity_table_row(r: pd.Series) -> dict[str, Any]:
    row = {name: r.get(name) for name in PARITY_TABLE_COLUMNS if name in r.index}
    if not isinstance(r.get("a"), str):
        return {**row, "a": "", "b": "", "output": "", "verdict": "error", "note": str(r.get("error") or "")}
    verdict = QUANTISED if _false(r.get("fp32")) else ("same" if _true(r.get("ok")) else "differs")
    return {**row, "verdict": verdict, "note": ""}


def best_batch(agg: pd.DataFrame, slo_ms: float | None = None) -> pd.DataFrame:
    """Per panel and variant: the batch size with the most throughput, and the best one whose p99
    stays at or under `slo_ms` (None where no SLO was given or none meets it)."""
    rows = []
    for key, frame in panels(ok_rows(agg)):
        for variant, group in frame.groupby("variant", sort=False):
            rows.append(_best(key, str(variant), group, slo_ms))
    columns = [*PANEL_KEYS, "variant", "best_batch", "best_throughput", "best_p99_ms", "slo_ms", "slo_batch", "slo_throughput", "slo_p99_ms"]
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return frame
    frame["_order"] = frame["variant"].map(variant_rank)
    return frame.sort_values([*PANEL_KEYS, "_order"]).drop(columns="_order").reset_index(drop=True)


def _best(key: tuple[str, ...], variant: str, group: pd.DataFrame, slo_ms: float | None) -> dict[str, Any]:
    top = group.loc[group["throughput"].idxmax()]
    row: dict[str, Any] = dict(zip(PANEL_KEYS, key, strict=True))
    row.update(variant=variant, best_batch=int(top["batch_size"]), best_throughput=top["throughput"], best_p99_ms=top["p99_ms"])
    row.update(slo_ms=slo_ms, slo_batch=None, slo_throughput=np.nan, slo_p99_ms=np.nan)
    if slo_ms is not None:
        under = group[group["p99_ms"] <= slo_ms]
        if not under.empty:
            pick = under.loc[under["throughput"].idxmax()]
            row.update(slo_batch=int(pick["batch_size"]), slo_throughput=pick["throughput"], slo_p99_ms=pick["p99_ms"])
    return row


def failures(runs: Runs) -> pd.DataFrame:
    """Every cell record that did not produce a measurement, with its error text."""
    cells = runs.cells
    bad = cells[cells["status"] != "ok"]
    columns = ["source", "model", "variant", "device", "batch_size", "repetition", "status", "error", "exit_code", "signal", "stderr_tail"]
    return bad[columns].reset_index(drop=True)


@dataclass
class ReportData:
    """Everything a renderer needs, computed once."""

    runs: Runs
    agg: pd.DataFrame
    baseline: str | None
    baseline_requested: str | None
    slo_ms: float | None
    fastest: pd.DataFrame
    speedups: pd.DataFrame
    headline: pd.DataFrame
    best: pd.DataFrame
    failures: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    calls: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CALL_COLUMNS))
    drift: tuple[pd.DataFrame, pd.DataFrame] | None = None  # (cells, ratios) seen in several runs of one host
    known: list[str] = field(default_factory=list)  # run-to-run spread on this machine, from the history database
    history: rerun.PastRuns | None = None  # past runs of these cells, for the rerun intervals of ratios
    settings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SETTING_COLUMNS))
    parity: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PARITY_TABLE_COLUMNS))

    @property
    def many_sources(self) -> bool:
        return len(self.runs.headers) > 1

    @property
    def no_cells(self) -> bool:
        """The results hold no cell at all: neither a timing-loop cell (measured or failed) nor serving-load data."""
        return self.runs.cells.empty and not self.runs.serving

    @property
    def sources(self) -> list[str]:
        return list(self.runs.headers)


def choose_baseline(agg: pd.DataFrame, requested: str | None) -> str | None:
    """The requested baseline, else `checkpoint` where present, else None."""
    present = set(ok_rows(agg)["variant"]) if not agg.empty else set()
    if requested:
        return requested if requested in present else None
    return DEFAULT_BASELINE if DEFAULT_BASELINE in present else None


def call_overhead(agg: pd.DataFrame, confidence: float = 0.95, history: rerun.PastRuns | None = None) -> pd.DataFrame:
    """What the user's own (idiomatic) call costs over the fastest path, per variant and batch size, measured
    in the same worker processes: idiomatic/fastest with the paired interval of `paired_speedup`."""
    rows = ok_rows(agg)
    if rows.empty or "call" not in rows:
        return pd.DataFrame(columns=CALL_COLUMNS)
    keys = [k for k in (*PANEL_KEYS[:-1], "intra_op_threads", "inter_op_threads", "env_toggles", "affinity", "python",
                        "variant", "batch_size") if k in rows]
    fastest = {tuple(r[k] for k in keys): r for _, r in rows[rows["call"] == "fastest"].iterrows()}
    out = []
    for _, own in rows[rows["call"] != "fastest"].iterrows():
        base = fastest.get(tuple(own[k] for k in keys))
        if base is not None:
            out.append(_overhead_row(own, base, confidence, history))
    return pd.DataFrame(out, columns=CALL_COLUMNS)


def _overhead_row(own: pd.Series, base: pd.Series, confidence: float, history: rerun.PastRuns | None) -> dict[str, Any]:
    ratio = paired_speedup(own, base, confidence)  # idiomatic median / fastest median: > 1 = it costs time
    row = {k: own[k] for k in PANEL_KEYS}
    row["setting"] = base["setting"]
    row.update(batch_size=int(own["batch_size"]), variant=own["variant"], call_path=own["call_path"],
               fastest_path=base["call_path"], fastest_ms=base["p50_ms"], idiomatic_ms=own["p50_ms"],
               overhead_ms=own["p50_ms"] - base["p50_ms"], ratio=own["p50_ms"] / base["p50_ms"],
               ci_lo=ratio["ci_lo"], ci_hi=ratio["ci_hi"], ci_scope=ratio["ci_scope"], significant=ratio["significant"],
               pairs=ratio["pairs"])
    row.update(_rerun_fields(history, own, base, (ratio["rerun_lo"], ratio["rerun_hi"]), confidence))
    return row


def setting_speedups(agg: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """A sweep over process settings (threads, environment toggles, CPU affinity, interpreters): every other setting
    of a cell against its defaults (else the first setting), as base median / other median with the paired
    interval of `paired_speedup` (by round, or duets)."""
    rows = ok_rows(agg)
    if rows.empty or len(rows[list(PROCESS_SETTINGS)].drop_duplicates()) < 2:
        return pd.DataFrame(columns=SETTING_COLUMNS)
    keys = ["source", "model", "device", "fleet_target", "call", "variant", "batch_size"]
    out = []
    for _, part in rows.groupby([k for k in keys if k in rows], sort=True):
        if len(part) < 2:
            continue
        defaults = part[(part["intra_op_threads"] == 0) & (part["inter_op_threads"] == 0) & (part["env_toggles"] == "")
                        & (part["affinity"] == "") & (part["python"] == "")]
        base = defaults.iloc[0] if not defaults.empty else part.sort_values("setting").iloc[0]
        out += [_setting_row(base, other, confidence) for i, other in part.iterrows() if i != base.name]
    return pd.DataFrame(out, columns=SETTING_COLUMNS)


def _setting_label(row: pd.Series) -> str:
    """The row's setting without its call (the call is named beside the variant): '' = the defaults."""
    label = str(row["setting"] or "")
    call = f"{row.get('call', 'fastest')} call"
    return label.removeprefix(call).lstrip(", ") if call != "fastest call" else label


def _setting_row(base: pd.Series, other: pd.Series, confidence: float) -> dict[str, Any]:
    got = paired_speedup(base, other, confidence)
    return {"source": base["source"], "model": base["model"], "device": base["device"], "call": base.get("call", "fastest"),
            "variant": base["variant"], "batch_size": int(base["batch_size"]), "base": _setting_label(base) or "defaults",
            "other": _setting_label(other) or "defaults", "speedup": float(base["p50_ms"] / other["p50_ms"]),
            "ci_lo": got["ci_lo"], "ci_hi": got["ci_hi"], "ci_scope": got["ci_scope"], "significant": got["significant"],
            "pairs": got["pairs"]}


def build_report(runs: Runs, agg: pd.DataFrame, baseline_format: str | None = None, slo_ms: float | None = None,
                 history: rerun.PastRuns | None = None) -> ReportData:
    """All views of one report; `history`: past runs of its cells on their machines (bench.results.history.known)."""
    baseline = choose_baseline(agg, baseline_format)
    notes = list(runs.warnings)
    if baseline_format and baseline is None:
        notes.append(f"baseline format {baseline_format!r} has no measurements in these runs: no speedup table")
    base, new = HEADLINE_PAIR
    table = speedups(agg, runs.parity, baseline, history=history) if baseline else speedups(agg.iloc[0:0], runs.parity, "-")
    return ReportData(
        runs=runs,
        agg=agg,
        baseline=baseline,
        baseline_requested=baseline_format,
        slo_ms=slo_ms,
        fastest=fastest_per_batch(agg),
        speedups=table,
        headline=_headline(agg, runs.parity, base, new, history),
        best=best_batch(agg, slo_ms),
        failures=failures(runs),
        notes=notes,
        calls=call_overhead(agg, history=history),
        settings=setting_speedups(agg),
        drift=_drift(agg, table if baseline else None),
        parity=parity_table(runs.parity),
        history=history,
    )


def _drift(agg: pd.DataFrame, table: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Run-to-run drift where two or more runs of the same host are reported together."""
    from reports.drift import cell_drift, ratio_drift

    if agg.empty or agg["run_id"].nunique() < 2:
        return None
    hosts = dict(zip(agg["source"], agg["host"], strict=True))
    return cell_drift(agg), ratio_drift(table if table is not None else pd.DataFrame(), hosts)


def _headline(agg: pd.DataFrame, parity: pd.DataFrame, base: str, new: str,
              history: rerun.PastRuns | None = None) -> pd.DataFrame:
    """Frozen graph vs checkpoint, whatever the baseline: the question this tool was built for."""
    if agg.empty:
        return speedups(agg, parity, base)
    pair = agg[agg["variant"].isin((base, new))]
    table = speedups(pair, parity, base, history=history)
    return table[table["variant"] == new].reset_index(drop=True)
