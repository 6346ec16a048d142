"""Cold start in a run: the worker processes' runtime start apart from each format's own load and first call.

A worker pays its runtime's start (import tensorflow, its first session or eager context) once, before its first
model loads, and the worker records it as a fact of the process (`worker.runtime_start`): it belongs to no format.
The process is its unit: one value per worker process, shown as the median and range over a panel's processes —
never a sum over the cells that share a process. A format's load is one value per process too (its cells of
several batch sizes share one load); its first call is one per cell. Runs recorded before the runtime start was
measured have none, and their first-loaded model's load holds it (`PanelStart.runtime` is None).

Frames in, dataclasses out; the renderers format them (`rows` gives the table every report shows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports import numbers as fmt
from reports.views import ReportData, ordered_variants, panels

PROCESS_KEYS = ("source", "run_id", "host", "repetition", "worker_pid")  # one worker process (its pid in its run)
HEADER = ("format", "load s", "first call s", "procs")
RUNTIME_LABEL = "runtime start, per process"
NOTE = ("Seconds, median over worker processes. The runtime start (import tensorflow, its first session or eager "
        "context) is paid once by each worker process before its first model loads: it is in no format's load or "
        "first call; shown as its median (range) over the processes.")
MISSING = "not recorded"
NOT_RECORDED = (f"“{MISSING}”: a run made before the runtime start was measured; there the format each worker "
                "loaded first has it in its load.")


@dataclass(frozen=True)
class Spread:
    """Values of one quantity, one per process (or cell): median, range, how many."""

    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: pd.Series) -> Spread | None:
        finite = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        if not len(finite):
            return None
        return cls(float(np.median(finite)), float(finite.min()), float(finite.max()), len(finite))


@dataclass(frozen=True)
class FormatStart:
    variant: str
    load: Spread | None  # one value per process
    first_call: Spread | None  # one value per cell (batch size and process)


@dataclass(frozen=True)
class PanelStart:
    key: tuple[str, ...]  # views.PANEL_KEYS
    runtime: Spread | None  # one value per process; None where not recorded
    formats: tuple[FormatStart, ...]

    @property
    def empty(self) -> bool:
        return self.runtime is None and all(f.load is None and f.first_call is None for f in self.formats)


def cold_starts(data: ReportData) -> list[PanelStart]:
    """Each panel's cold start, from the cells that were measured (the rows each panel's statistics pooled)."""
    out = []
    for key, rows in panels(data.agg):
        index = sorted({int(i) for cell_rows in rows["_cell_rows"] for i in cell_rows})
        panel = panel_start(key, data.runs.cells.iloc[index])
        if not panel.empty:
            out.append(panel)
    return out


def panel_start(key: tuple[str, ...], cells: pd.DataFrame) -> PanelStart:
    """One panel's cold start from its cells: per process for the runtime start and the loads."""
    processes = cells.drop_duplicates(list(PROCESS_KEYS))
    formats = []
    for variant in ordered_variants(cells["variant"]):
        own = cells[cells["variant"] == variant]
        formats.append(FormatStart(variant, Spread.of(own.drop_duplicates(list(PROCESS_KEYS))["load_s"]),
                                   Spread.of(own["first_call_s"])))
    return PanelStart(key, Spread.of(processes["runtime_start_s"]), tuple(formats))


def note(panels_: list[PanelStart]) -> str:
    """What the table shows, and where the runtime start went in panels that did not record it."""
    return NOTE + ("" if all(p.runtime is not None for p in panels_) else " " + NOT_RECORDED)


def runtime_text(spread: Spread) -> str:
    """"4.81 (4.62–5.03)": median and range over the processes; one process: its value."""
    if spread.count == 1:
        return fmt.seconds3(spread.median)
    return f"{fmt.seconds3(spread.median)} ({fmt.seconds3(spread.low)}–{fmt.seconds3(spread.high)})"


def rows(panel: PanelStart) -> list[list[str]]:
    """The table's rows (HEADER): the runtime start first, then each format. Plain text: escape before use."""
    runtime = panel.runtime
    out = [[RUNTIME_LABEL, runtime_text(runtime), "–", str(runtime.count)] if runtime is not None
           else [RUNTIME_LABEL, MISSING, "–", "–"]]
    for f in panel.formats:
        load, first = f.load, f.first_call
        procs = str(load.count) if load is not None else "–"
        out.append([f.variant, fmt.seconds3(load.median if load else None),
                    fmt.seconds3(first.median if first else None), procs])
    return out
