"""Cells across repetitions -> one row per cell identity and run, statistics from pooled raw samples.

The repetitions (worker processes) of a cell are pooled: every percentile is recomputed from all
their raw samples, never averaged. Intervals follow the unit of evidence, the worker process:
- several processes with samples: the per-process medians (p99s) are the values; a Student-t interval on
  their logs (small-sample correct, not a bootstrap over three values) gives the width, placed around the
  pooled median (p99) by `stats.t_interval_around`, so the pooled value shown lies inside the interval shown;
  `ci_scope` is "between processes (n=K)". `p50_rerun_lo_ms` / `p50_rerun_hi_ms` is the prediction interval
  for a rerun's median with as many processes (√2 wider);
- one process: exact order-statistic interval; `ci_scope` is "within one process", which says
  that the interval ignores the (much larger) noise between processes. No view marks a difference
  significant on it.
Neither covers what moves whole runs together on a shared machine: several runs of the same cells
(`report A B C`) show that drift.

`rep_p50_min_ms` / `rep_p50_max_ms` / `rep_spread` show the between-process spread of medians.

Columns starting with "_" are for other views, not for export: `_p50_draws` (bootstrap draws of
the pooled median, for one-process speedup intervals), `_procs` (per process: repetition -> `Proc`: worker
pid, mode, median ms, cell id and duet partners, for paired ratios) and `_cell_rows` (rows of `runs.cells`
that were pooled). Drop them with `public_columns(frame)`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from reports import stats
from reports.compare_settings import DEFAULT_SEED
from reports.load import RUN_KEYS, Runs
from reports.schema import IDENTITY_DEFAULTS, IDENTITY_FIELDS, LATER_IDENTITY_FIELDS

GROUP_KEYS = (*RUN_KEYS, *IDENTITY_FIELDS)
PERCENTILES = {"p50_ms": 0.5, "p90_ms": 0.9, "p95_ms": 0.95, "p99_ms": 0.99, "p999_ms": 0.999}
NS_PER_MS = 1e6
STATUS_ORDER = ("crashed", "timeout", "failed", "skipped")
SCOPE_BETWEEN = "between processes"
TARGET = 0.03  # the width (±3%) an interval should reach; `procs_needed` says how many processes would
SCOPE_WITHIN = "within one process"
# The worker processes per cell every report advises where it has fewer: the t interval on 4 degrees of freedom is
# 1.5x narrower than on 2 (t 2.78 vs 4.30), and 5 a side is the fewest at which the gate's exact rank test can reach
# its default alpha 0.01 at all (best one-sided p 1/252; reports.power.smallest_p).
ADVISED_PROCESSES = 5


@dataclass(frozen=True)
class AggregateOptions:
    """How intervals are computed; the seed makes reports reproducible."""

    confidence: float = 0.95
    n_boot: int = stats.DEFAULT_BOOT
    seed: int = DEFAULT_SEED


def aggregate(runs: Runs, options: AggregateOptions | None = None) -> pd.DataFrame:
    """One row per (source, host, run_id, identity): pooled statistics, status, errors, timings."""
    opts = options or AggregateOptions()
    if runs.cells.empty:
        return pd.DataFrame(columns=AGG_COLUMNS)
    groups = runs.cells.groupby(list(GROUP_KEYS), sort=False, dropna=False).indices
    columns = _Columns.of(runs.cells)
    rows = [_row(runs, columns, np.sort(idx), opts) for idx in groups.values()]
    frame = pd.DataFrame(rows)
    frame["setting"] = setting_labels(frame, interpreter_names(runs.headers))
    return frame.sort_values(["source", "model", "device", "setting", "variant", "batch_size"], kind="stable").reset_index(
        drop=True
    )


def interpreter_names(headers: dict[str, dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(source, interpreter label) -> "TF 2.20.0", for runs that compared several interpreters (the header
    maps labels to paths, and its fingerprint has each path's TensorFlow)."""
    names: dict[tuple[str, str], str] = {}
    for source, header in headers.items():
        pythons = header.get("pythons") or {}
        interpreters = (header.get("env") or {}).get("interpreters") or {}
        if len(pythons) < 2:
            continue
        for label, path in pythons.items():
            version = ((interpreters.get(path) or {}).get("packages") or {}).get("tensorflow")
            names[(source, label)] = f"TF {version}" if version else f"py {label or 'default'}"
    return names


def threads_text(intra: int, inter: int) -> str:
    """"threads 1/2": intra-op/inter-op, 0 = TensorFlow's default; inter-op -1 = each call in the caller's thread."""
    return f"threads {intra}/{'caller' if inter < 0 else inter}"


def setting_labels(frame: pd.DataFrame, pythons: dict[tuple[str, str], str] | None = None) -> pd.Series:
    """A short label for the identity fields other than model/variant/device/batch ('' = defaults);
    interpreters by their TensorFlow version where the run compared several."""
    pythons = pythons or {}
    named = [pythons.get((str(src), str(py))) for src, py in zip(frame["source"], frame["python"], strict=True)]
    intra = frame["intra_op_threads"].astype(int)
    inter = frame["inter_op_threads"].astype(int)
    labels = []
    calls = frame["call"] if "call" in frame else pd.Series(["fastest"] * len(frame), index=frame.index)
    for a, b, env, aff, py, call, tf in zip(intra, inter, frame["env_toggles"], frame["affinity"], frame["python"], calls,
                                            named, strict=True):
        bits = [] if call == "fastest" else [f"{call} call"]  # the user's own call: a panel of its own
        if a or b:
            bits.append(threads_text(a, b))
        if env:
            bits.append(str(env))
        if aff:
            bits.append(f"cpus {aff}")
        if tf:
            bits.append(tf)
        elif py:
            bits.append(f"py {py}")
        labels.append(", ".join(bits))
    hosts = frame["fleet_target"] if "fleet_target" in frame else pd.Series("", index=frame.index)
    labels = [", ".join(filter(None, (f"host {h}" if h else "", label))) for h, label in zip(hosts, labels, strict=True)]
    return pd.Series(labels, index=frame.index, dtype=object)  # a host is a panel of its own


NUMERIC_COST = ("load_s", "first_call_s", "peak_rss_bytes", "gpu_peak_bytes", "retraces", "flops_per_sample")


class Proc(NamedTuple):
    """One process's cell in `_procs`: what pairing it with another process's cell needs."""

    pid: Any
    mode: Any
    median_ms: float
    cell_id: str = ""
    partners: frozenset[str] = frozenset()  # duet: the partner's cells timed in the same window


def _partners(mode: Any, duet: Any) -> frozenset[str]:
    """The cell ids a duet cell shared its timed window with (none for other modes, or before they were recorded)."""
    if mode != "duet" or not isinstance(duet, dict):
        return frozenset()
    return frozenset(str(c) for c in duet.get("partners") or ())


@dataclass(frozen=True)
class _Columns:
    """The cells frame as plain arrays: indexing these per group is much cheaper than pandas."""

    keys: list[tuple[Any, ...]]
    repetition: np.ndarray
    worker_pid: np.ndarray
    mode: np.ndarray
    status: np.ndarray
    error: np.ndarray
    call_path: np.ndarray
    costs: dict[str, np.ndarray]
    cell_id: np.ndarray
    partners: list[frozenset[str]]

    @classmethod
    def of(cls, cells: pd.DataFrame) -> _Columns:
        costs = {name: pd.to_numeric(cells[name], errors="coerce").to_numpy(dtype=np.float64) for name in NUMERIC_COST}
        return cls(
            keys=list(cells[list(GROUP_KEYS)].itertuples(index=False, name=None)),
            repetition=cells["repetition"].to_numpy(dtype=np.int64),
            worker_pid=cells["worker_pid"].to_numpy(dtype=object),
            mode=cells["mode"].to_numpy(dtype=object),
            status=cells["status"].to_numpy(dtype=object),
            error=cells["error"].to_numpy(dtype=object),
            call_path=cells["call_path"].to_numpy(dtype=object),
            costs=costs,
            cell_id=cells["cell_id"].to_numpy(dtype=object),
            partners=[_partners(m, d) for m, d in zip(cells["mode"], cells["duet"], strict=True)],
        )


def _seed_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """The key the draws are seeded from; identity fields added later are left out at their defaults, so a
    cell's intervals are the same as before they existed (stored reports stay valid)."""
    return tuple(v for k, v in zip(GROUP_KEYS, key, strict=True)
                 if not (k in LATER_IDENTITY_FIELDS and v == IDENTITY_DEFAULTS[k]))


def _row(runs: Runs, columns: _Columns, idx: np.ndarray, opts: AggregateOptions) -> dict[str, Any]:
    key = columns.keys[idx[0]]
    row: dict[str, Any] = dict(zip(GROUP_KEYS, key, strict=True))
    ok = [int(i) for i in idx if columns.status[i] == "ok" and len(runs.latencies[i])]
    row.update(_status_fields(columns, idx, len(ok)))
    row.update(_cost_fields(columns, idx))
    groups = [runs.latencies[i].astype(np.float64) / NS_PER_MS for i in ok]
    seed = opts.seed + zlib.crc32(repr(_seed_key(key)).encode())  # per identity: independent, reproducible draws
    row.update(_sample_stats(groups, int(row["batch_size"]), replace(opts, seed=seed)))
    row["_procs"] = {int(columns.repetition[i]): Proc(columns.worker_pid[i], columns.mode[i], float(np.median(g)),
                                                      str(columns.cell_id[i]), columns.partners[i])
                     for i, g in zip(ok, groups, strict=True)}
    row["_cell_rows"] = tuple(ok)
    return row


def _status_fields(columns: _Columns, idx: np.ndarray, n_ok: int) -> dict[str, Any]:
    statuses = [str(s) for s in columns.status[idx]]
    bad = [s for s in STATUS_ORDER if s in statuses]
    errors = [e for e in columns.error[idx] if isinstance(e, str) and e]
    return {
        "status": "ok" if n_ok else (bad[0] if bad else statuses[0]),
        "reps": len(idx),
        "reps_ok": n_ok,
        "reps_failed": sum(1 for s in statuses if s != "ok"),
        "error": errors[0] if errors else None,
        "call_path": next((str(p) for p in columns.call_path[idx] if isinstance(p, str) and p), ""),
    }


def _reduce(values: np.ndarray, how: str) -> float:
    finite = values[~np.isnan(values)]
    if not len(finite):
        return float("nan")
    return float(np.median(finite) if how == "median" else finite.max())


def _cost_fields(columns: _Columns, idx: np.ndarray) -> dict[str, Any]:
    """Per-process costs: the median over repetitions for times, the maximum for memory."""
    c = {name: values[idx] for name, values in columns.costs.items()}
    return {
        "load_s": _reduce(c["load_s"], "median"),
        "first_call_s": _reduce(c["first_call_s"], "median"),
        "peak_rss_mb": _reduce(c["peak_rss_bytes"], "max") / 2**20,
        "gpu_peak_mb": _reduce(c["gpu_peak_bytes"], "max") / 2**20,
        "retraces": _reduce(c["retraces"], "max"),
        "flops_per_sample": _reduce(c["flops_per_sample"], "max"),
    }


EMPTY_STATS: dict[str, Any] = {
    "count": 0,
    "mean_ms": np.nan,
    "std_ms": np.nan,
    "min_ms": np.nan,
    **{name: np.nan for name in PERCENTILES},
    "max_ms": np.nan,
    "iqr_ms": np.nan,
    "cv": np.nan,
    "outliers": 0,
    "throughput": np.nan,
    "throughput_ci_lo": np.nan,
    "throughput_ci_hi": np.nan,
    "p50_ci_lo_ms": np.nan,
    "p50_ci_hi_ms": np.nan,
    "p99_ci_lo_ms": np.nan,
    "p99_ci_hi_ms": np.nan,
    "p50_rerun_lo_ms": np.nan,
    "p50_rerun_hi_ms": np.nan,
    "ci_method": "",
    "ci_scope": "",
    "procs_needed": None,
    "rep_p50_min_ms": np.nan,
    "rep_p50_max_ms": np.nan,
    "rep_spread": np.nan,
    "_p50_draws": None,
}


def _sample_stats(groups: Sequence[np.ndarray], batch_size: int, opts: AggregateOptions) -> dict[str, Any]:
    if not groups:
        return dict(EMPTY_STATS)
    pooled = np.sort(np.concatenate(groups))
    out = _descriptive(pooled)
    out.update(_intervals(groups, pooled, opts))
    out.update(_throughput(out, batch_size))
    out.update(_spread(groups))
    return out


def _descriptive(pooled: np.ndarray) -> dict[str, Any]:
    """Descriptive statistics of the sorted pooled samples, by the hand-tested reports.stats functions."""
    named = dict(zip(PERCENTILES, stats.quantiles_sorted(pooled, tuple(PERCENTILES.values())), strict=True))
    return {
        "count": len(pooled),
        "mean_ms": float(pooled.mean()),
        "std_ms": float(pooled.std(ddof=1)) if len(pooled) > 1 else float("nan"),
        "min_ms": float(pooled[0]),
        **{k: float(v) for k, v in named.items()},
        "max_ms": float(pooled[-1]),
        "iqr_ms": stats.iqr(pooled, presorted=True),
        "cv": stats.cv(pooled),
        "outliers": stats.tukey_outliers(pooled, presorted=True),
    }


def _between(groups: Sequence[np.ndarray], pooled: np.ndarray, opts: AggregateOptions) -> dict[str, Any]:
    """Intervals from per-process values: t on the logs of per-process medians and p99s."""
    p50, p99 = stats.quantiles_sorted(pooled, (0.5, 0.99))
    medians = [float(np.median(g)) for g in groups]
    tails = [float(stats.quantiles_sorted(np.sort(g), (0.99,))[0]) for g in groups]
    p50_lo, p50_hi, rerun_lo, rerun_hi = stats.t_interval_around(p50, medians, opts.confidence)
    p99_lo, p99_hi, _, _ = stats.t_interval_around(p99, tails, opts.confidence)
    sd = stats.log_t_interval(medians, opts.confidence).sd
    return {
        "p50_ci_lo_ms": p50_lo, "p50_ci_hi_ms": p50_hi, "p99_ci_lo_ms": p99_lo, "p99_ci_hi_ms": p99_hi,
        "p50_rerun_lo_ms": rerun_lo, "p50_rerun_hi_ms": rerun_hi,
        "ci_method": f"t on log per-process medians (n={len(groups)})", "ci_scope": f"{SCOPE_BETWEEN} (n={len(groups)})",
        "procs_needed": stats.processes_needed(sd, TARGET, opts.confidence), "_p50_draws": None,
    }


def _intervals(groups: Sequence[np.ndarray], pooled: np.ndarray, opts: AggregateOptions) -> dict[str, Any]:
    if len(groups) > 1:
        return _between(groups, pooled, opts)
    else:
        med = stats.order_stat_ci(pooled, 0.5, opts.confidence)
        p99 = stats.order_stat_ci(pooled, 0.99, opts.confidence)
        bounds = (med.low, med.high, p99.low, p99.high)
        method, scope = "order statistic", SCOPE_WITHIN
        p50_draws = stats.order_stat_bootstrap_draws(pooled, 0.5, opts.n_boot, opts.seed)
    names = ("p50_ci_lo_ms", "p50_ci_hi_ms", "p99_ci_lo_ms", "p99_ci_hi_ms")
    return {
        **{n: float(v) for n, v in zip(names, bounds, strict=True)},
        "p50_rerun_lo_ms": float("nan"), "p50_rerun_hi_ms": float("nan"),
        "ci_method": method,
        "ci_scope": scope,
        "procs_needed": None,
        "_p50_draws": p50_draws,
    }


def _throughput(out: dict[str, Any], batch_size: int) -> dict[str, Any]:
    """Samples per second from the pooled median (and its interval, reversed)."""
    per_ms = batch_size * 1000.0
    return {
        "throughput": per_ms / out["p50_ms"],
        "throughput_ci_lo": per_ms / out["p50_ci_hi_ms"],
        "throughput_ci_hi": per_ms / out["p50_ci_lo_ms"],
    }


def _spread(groups: Sequence[np.ndarray]) -> dict[str, Any]:
    medians = [float(np.median(g)) for g in groups]
    low, high = min(medians), max(medians)
    spread = high / low if low > 0 and len(medians) > 1 else float("nan")  # one process: no spread to show
    return {"rep_p50_min_ms": low, "rep_p50_max_ms": high, "rep_spread": spread}


def public_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The aggregated frame without its internal ("_") columns: what CSV/Parquet/JSON export."""
    return frame[[c for c in frame.columns if not str(c).startswith("_")]]


STATUS_COLUMNS = ("status", "reps", "reps_ok", "reps_failed", "error", "call_path")
COST_COLUMNS = ("load_s", "first_call_s", "peak_rss_mb", "gpu_peak_mb", "retraces", "flops_per_sample")
AGG_COLUMNS = [*GROUP_KEYS, *STATUS_COLUMNS, *COST_COLUMNS, *EMPTY_STATS, "_procs", "_cell_rows", "setting"]
