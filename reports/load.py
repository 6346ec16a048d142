"""Results files of one or many runs (and hosts) -> tidy pandas frames.

`load_runs(paths)` reads each results.jsonl (or run directory) with `reports.schema` and returns
a `Runs`:
- `cells`: one row per cell record (one worker process's measurement of one cell): identity
  columns (schema.IDENTITY_FIELDS), "host", "run_id", "repetition", "status", "error", timings and
  memory, plus "source" (which file), "worker_pid" and "runtime_start_s" (the worker process's runtime start,
  the same on each of its cells; NaN where not recorded). Raw latencies are not in this frame.
- `latencies`: the raw latencies (ns, int64) of each row of `cells`, same order.
- `samples`: the same latencies as a long frame (identity + run_id + host + repetition +
  latency_ns), built on first use because 1,000 cells x 2,000 samples is 2M rows.
- `parity`: one row per parity pair (model, a, b, output, max_abs, ..., ok).
- `headers`: the run headers, by source label.

To get one row per cell identity with statistics pooled over repetitions, call
`reports.aggregate.aggregate(runs)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports import schema
from reports.errors import ResultsFileError
from reports.schema import IDENTITY_DEFAULTS, IDENTITY_FIELDS, RunFile, read_run_file, resolve_results_path

RUN_KEYS = ("source", "host", "run_id")
# The per-cell columns: every CellRecord field but the identity (its own columns), the raw samples (their
# own frame) and what only the raw record needs; derived from the one record definition.
NOT_COLUMNS = ("latencies_ns", "loadavg_start", "loadavg_end", "host", "worker", "load_phases")  # fleet_host: a column
CELL_FIELDS = tuple(f for f in schema.CELL_FIELDS if f not in IDENTITY_FIELDS and f not in NOT_COLUMNS)
PARITY_COLUMNS = (
    "source",
    "run_id",
    "model",
    "a",
    "b",
    "output",
    "max_abs",
    "max_rel",
    "top1_agreement",
    "fp32",
    "ok",
    "matched_by",
    "rtol",
    "atol",
    "error",
)


@dataclass
class Runs:
    """Everything read from one or more results files (see the module docstring)."""

    cells: pd.DataFrame
    latencies: list[np.ndarray]
    parity: pd.DataFrame
    headers: dict[str, dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    adaptive: dict[str, dict[str, Any]] = field(default_factory=dict)  # source label -> its "adaptive" record
    serving: list[dict[str, Any]] = field(default_factory=list)  # "capacity" and "tune" records (reports.load_views)

    @cached_property
    def samples(self) -> pd.DataFrame:
        """Long frame of raw samples: one row per timed iteration."""
        return samples_frame(self.cells, self.latencies)


def load_runs(paths: list[Path]) -> Runs:
    """Read results files (or run directories) into frames; raises ResultsFileError."""
    if not paths:
        raise ResultsFileError("no results given: name at least one run directory or results.jsonl")
    files = [read_run_file(resolve_results_path(Path(p))) for p in paths]
    labels = source_labels(files, [Path(p) for p in paths])
    rows: list[dict[str, Any]] = []
    latencies: list[np.ndarray] = []
    parity_rows: list[dict[str, Any]] = []
    headers: dict[str, dict[str, Any]] = {}
    adaptive: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    for label, run in zip(labels, files, strict=True):
        headers[label] = run.header or {}
        if run.adaptive:
            adaptive[label] = run.adaptive[-1]
        warnings.extend(_file_warnings(run))
        for record in run.cells:
            rows.append(_cell_row(label, run, record))
            latencies.append(_latencies(run.path, record))
        for record in run.parity:
            parity_rows.extend(_parity_rows(label, record))
    serving = [{**r, "source": label} for label, run in zip(labels, files, strict=True) for r in run.serving]
    return Runs(
        cells=_cells_frame(rows),
        latencies=latencies,
        parity=_parity_frame(parity_rows),
        headers=headers,
        adaptive=adaptive,
        warnings=warnings,
        serving=serving,
    )


def source_labels(files: list[RunFile], given: list[Path] | None = None) -> list[str]:
    """A short, unique label per file. One run: "host · run_id". Side by side: the run directories as
    the user named them, cut to the shortest trailing part that tells them apart ("report base pr-1"
    -> "base", "pr-1"); the same directory twice is numbered."""
    if len(files) == 1 or given is None:
        return [f"{_host_of(f)} · {_run_id_of(f)}" for f in files]
    dirs = [g.parent if g.name == "results.jsonl" else g for g in given]
    parts = [d.parts or (".",) for d in dirs]
    for k in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-k:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{'/'.join(p)} ({i + 1})" for i, p in enumerate(parts)]


def _host_of(run: RunFile) -> str:
    env = (run.header or {}).get("env") or {}
    host = env.get("host") if isinstance(env, dict) else None
    if not host and run.cells:
        host = run.cells[0].get("host")
    return str(host or "unknown-host")


def _run_id_of(run: RunFile) -> str:
    if run.header and run.header.get("run_id"):
        return str(run.header["run_id"])
    if run.cells and run.cells[0].get("run_id"):
        return str(run.cells[0]["run_id"])
    return run.path.parent.name


def _file_warnings(run: RunFile) -> list[str]:
    out = []
    if run.header is None:
        out.append(f"{run.path}: no run header (environment unknown)")
    if run.torn_line is not None:
        out.append(f"{run.path}:{run.torn_line}: incomplete last line skipped (the run was interrupted)")
    return out


def _cell_row(label: str, run: RunFile, record: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"source": label}
    row["host"] = str(record.get("host") or _host_of(run))
    row["run_id"] = str(record.get("run_id") or _run_id_of(run))
    for name in IDENTITY_FIELDS:
        value = record.get(name)
        row[name] = IDENTITY_DEFAULTS.get(name, "") if value is None else value
    worker = record.get("worker") or {}
    row["worker_pid"] = worker.get("pid")  # the worker process, for pairing its cells
    row["runtime_start_s"] = runtime_start_s(worker)
    for name in CELL_FIELDS:
        row[name] = record.get(name)
    row["status"] = str(record.get("status") or "failed")
    row["repetition"] = int(record.get("repetition") or 0)
    return row


def _latencies(path: Path, record: dict[str, Any]) -> np.ndarray:
    raw = record.get("latencies_ns") or []
    try:
        values = np.asarray(raw, dtype=np.int64)
    except (TypeError, ValueError):
        raise ResultsFileError(f"{path}: cell {record.get('cell_id')!r}: latencies_ns is not a list of integers") from None
    if values.ndim != 1:
        raise ResultsFileError(f"{path}: cell {record.get('cell_id')!r}: latencies_ns is not a flat list")
    return values


def _cells_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    columns = [*RUN_KEYS, *IDENTITY_FIELDS, *CELL_FIELDS, "worker_pid", "runtime_start_s"]
    frame = pd.DataFrame(rows, columns=columns)
    for name in ("batch_size", "intra_op_threads", "inter_op_threads", "repetition"):
        frame[name] = frame[name].astype("int64")
    for name in ("load_s", "first_call_s", "warmup_s", "throughput", "started", "ended", "runtime_start_s"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in ("model", "variant", "device", "env_toggles", "affinity", "python", "call", "fleet_target", "host", "run_id",
                 "source"):
        frame[name] = frame[name].astype(str)
    for name in ("error", "stderr_tail", "call_path", "stop_reason"):  # text or None, never NaN
        frame[name] = [v if isinstance(v, str) else None for v in frame[name]]
    return frame


def runtime_start_s(worker: dict[str, Any]) -> float | None:
    """The worker process's runtime start in seconds (its steps summed), None where it was not recorded."""
    steps = worker.get("runtime_start")
    if not isinstance(steps, dict) or not steps:
        return None
    return float(sum(float(v) for v in steps.values() if isinstance(v, int | float)))


def _parity_rows(label: str, record: dict[str, Any]) -> list[dict[str, Any]]:
    tolerance = record.get("tolerance") or {}
    base = {
        "source": label,
        "run_id": str(record.get("run_id") or ""),
        "model": str(record.get("model") or ""),
        "rtol": tolerance.get("rtol"),
        "atol": tolerance.get("atol"),
        "error": record.get("error"),
    }
    pairs = record.get("pairs") or []
    if not pairs:
        return [{**base, "a": None, "b": None, "ok": False if record.get("error") else None}]
    return [{**base, **{k: pair.get(k) for k in PARITY_COLUMNS if k in pair}} for pair in pairs]


def _parity_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(PARITY_COLUMNS))


def samples_frame(cells: pd.DataFrame, latencies: list[np.ndarray]) -> pd.DataFrame:
    """Long frame: one row per latency, with the cell's identity, run, host and repetition."""
    counts = np.fromiter((len(a) for a in latencies), dtype=np.int64, count=len(latencies))
    rows = np.repeat(np.arange(len(cells)), counts)
    keys = [*RUN_KEYS, *IDENTITY_FIELDS, "repetition"]
    frame = cells[keys].iloc[rows].reset_index(drop=True)
    for name in keys:
        if frame[name].dtype == object or str(frame[name].dtype).startswith("str"):
            frame[name] = frame[name].astype("category")
    frame["cell_row"] = rows
    frame["latency_ns"] = np.concatenate(latencies) if latencies else np.empty(0, dtype=np.int64)
    return frame
