"""Views over the aggregated frame: what the renderers show. Frames in, frames out; no formatting.

A "panel" is one (source, model, device, setting): the unit inside which formats and batch sizes
are compared. Several runs or hosts give several panels side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reports import stats
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

    `clear` is False when the two medians' intervals overlap: the order may not hold in the next run.
    """
    rows = []
    for key, frame in panels(ok_rows(agg)):
        for batch, group in frame.groupby("batch_size", sort=True):
            rows.append(_fastest(key, int(batch), group.sort_values("p50_ms")))
    return pd.DataFrame(rows, columns=[*PANEL_KEYS, "batch_size", "variant", "p50_ms", "throughput", "runner_up", "margin", "clear"])


def _fastest(key: tuple[str, ...], batch: int, group: pd.DataFrame) -> dict[str, Any]:
    best = group.iloc[0]
    row: dict[str, Any] = dict(zip(PANEL_KEYS, key, strict=True))
    row.update(batch_size=batch, variant=best["variant"], p50_ms=best["p50_ms"], throughput=best["throughput"])
    if len(group) > 1:
        second = group.iloc[1]
        row.update(
            runner_up=second["variant"],
            margin=second["p50_ms"] / best["p50_ms"],
            clear=bool(best["p50_ci_hi_ms"] < second["p50_ci_lo_ms"]),
        )
    else:
        row.update(runner_up=None, margin=np.nan, clear=False)
    return row


def speedups(agg: pd.DataFrame, parity: pd.DataFrame, baseline: str, confidence: float = 0.95) -> pd.DataFrame:
    """Speedup of every variant over `baseline` (baseline median / variant median), per batch size,
    with a bootstrap interval from both sides' draws and the output parity of the pair beside it."""
    rows = []
    for key, frame in panels(ok_rows(agg)):
        base = frame[frame["variant"] == baseline].set_index("batch_size")
        for _, row in frame[frame["variant"] != baseline].iterrows():
            batch = int(row["batch_size"])
            if batch in base.index:
                rows.append(_speedup_row(key, base.loc[batch], row, parity, baseline, confidence))
    columns = [*PANEL_KEYS, "batch_size", "variant", "baseline", "speedup", "ci_lo", "ci_hi", "ci_scope", "significant"]
    frame = pd.DataFrame(rows, columns=[*columns, *PARITY_FIELDS])
    if frame.empty:
        return frame
    frame["_order"] = frame["variant"].map(variant_rank)
    return frame.sort_values([*PANEL_KEYS, "batch_size", "_order"]).drop(columns="_order").reset_index(drop=True)


def _speedup_row(
    key: tuple[str, ...], base: pd.Series, row: pd.Series, parity: pd.DataFrame, baseline: str, confidence: float
) -> dict[str, Any]:
    point = float(base["p50_ms"] / row["p50_ms"])
    _, lo, hi = stats.ratio_from_draws(point, base["_p50_draws"], row["_p50_draws"], confidence)
    scope = "between processes" if min(base["reps_ok"], row["reps_ok"]) > 1 else "within one process"
    out: dict[str, Any] = dict(zip(PANEL_KEYS, key, strict=True))
    out.update(
        batch_size=int(row["batch_size"]),
        variant=row["variant"],
        baseline=baseline,
        speedup=point,
        ci_lo=lo,
        ci_hi=hi,
        ci_scope=scope,
        significant=bool(lo > 1.0 or hi < 1.0),
    )
    out.update(parity_of(parity, key[0], key[1], baseline, str(row["variant"])))
    return out


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
    parity: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PARITY_TABLE_COLUMNS))

    @property
    def many_sources(self) -> bool:
        return len(self.runs.headers) > 1

    @property
    def sources(self) -> list[str]:
        return list(self.runs.headers)


def choose_baseline(agg: pd.DataFrame, requested: str | None) -> str | None:
    """The requested baseline, else `checkpoint` where present, else None."""
    present = set(ok_rows(agg)["variant"]) if not agg.empty else set()
    if requested:
        return requested if requested in present else None
    return DEFAULT_BASELINE if DEFAULT_BASELINE in present else None


def build_report(runs: Runs, agg: pd.DataFrame, baseline_format: str | None = None, slo_ms: float | None = None) -> ReportData:
    """All views of one report."""
    baseline = choose_baseline(agg, baseline_format)
    notes = list(runs.warnings)
    if baseline_format and baseline is None:
        notes.append(f"baseline format {baseline_format!r} has no measurements in these runs: no speedup table")
    base, new = HEADLINE_PAIR
    return ReportData(
        runs=runs,
        agg=agg,
        baseline=baseline,
        baseline_requested=baseline_format,
        slo_ms=slo_ms,
        fastest=fastest_per_batch(agg),
        speedups=speedups(agg, runs.parity, baseline) if baseline else speedups(agg.iloc[0:0], runs.parity, "-"),
        headline=_headline(agg, runs.parity, base, new),
        best=best_batch(agg, slo_ms),
        failures=failures(runs),
        notes=notes,
        parity=parity_table(runs.parity),
    )


def _headline(agg: pd.DataFrame, parity: pd.DataFrame, base: str, new: str) -> pd.DataFrame:
    """Frozen graph vs checkpoint, whatever the baseline: the question this tool was built for."""
    if agg.empty:
        return speedups(agg, parity, base)
    pair = agg[agg["variant"].isin((base, new))]
    table = speedups(pair, parity, base)
    return table[table["variant"] == new].reset_index(drop=True)
