"""Run-to-run drift: what one run cannot see. Given several runs of the same cells on the same host
(`infer-bench report A B C`), how far did each median and each speedup move between runs, and where is a
next run's value expected (a prediction interval from the runs: `stats.log_prediction_interval`)?

Whole runs on a shared machine shift together (TF-NOTES.md, Noise): every interval computed inside a run
is "this run's", and only this view, or a history of runs, shows the drift on top of it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from reports import stats
from reports.history import run_to_run_spread

CELL_KEYS = ("host", "model", "device", "setting", "variant", "batch_size")
COLUMNS = ["host", "what", "batch_size", "runs", "low", "high", "spread", "next_lo", "next_hi"]


def _row(host: str, what: str, batch: int, values: list[float]) -> dict[str, Any]:
    """The spread over the runs (the same function the history database uses: `reports.history`) and where
    a next run's value is expected."""
    spread = run_to_run_spread(values, f"{len(values)} runs given to the report", min_runs=2)
    lo, hi = stats.log_prediction_interval(values)
    return {"host": host, "what": what, "batch_size": batch, "runs": len(values), "low": min(values),
            "high": max(values), "spread": spread.max_over_min if spread else float("nan"), "next_lo": lo, "next_hi": hi}


def cell_drift(agg: pd.DataFrame) -> pd.DataFrame:
    """Per cell seen in two or more runs of one host: the range of its median over the runs and where a
    next run's median is expected."""
    ok = agg[(agg["status"] == "ok") & (agg["count"] > 0)]
    rows = []
    for key, part in ok.groupby(list(CELL_KEYS), sort=True):
        if part["run_id"].nunique() >= 2:
            host, model, device, setting, variant, batch = key
            what = f"{model} · {device}{' · ' + setting if setting else ''}: {variant} median (ms)"
            rows.append(_row(str(host), what, int(batch), [float(v) for v in part["p50_ms"]]))
    return pd.DataFrame(rows, columns=COLUMNS)


def ratio_drift(speedups: pd.DataFrame, hosts: dict[str, str]) -> pd.DataFrame:
    """Per speedup seen in two or more runs of one host (`hosts`: source label -> host)."""
    if speedups.empty:
        return pd.DataFrame(columns=COLUMNS)
    table = speedups.assign(host=speedups["source"].map(hosts))
    rows = []
    for key, part in table.groupby(["host", "model", "device", "setting", "variant", "baseline", "batch_size"], sort=True):
        if len(part) >= 2:
            host, model, device, setting, variant, baseline, batch = key
            what = f"{model} · {device}{' · ' + setting if setting else ''}: {variant} vs {baseline} (×)"
            rows.append(_row(str(host), what, int(batch), [float(v) for v in part["speedup"]]))
    return pd.DataFrame(rows, columns=COLUMNS)
