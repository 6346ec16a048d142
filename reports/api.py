"""The one entry point other packages call: results files in, a rendered report out.

`render_report` is pure apart from reading the results files; writing is the caller's job.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports.aggregate import AggregateOptions, aggregate, public_columns
from reports.errors import ReportsError
from reports.load import load_runs
from reports.rerun import PastRuns
from reports.schema import VARIANTS
from reports.views import ReportData, build_report

FORMATS = ("term", "md", "html", "csv", "parquet", "json")
JSON_REPORT_VERSION = 1


class ReportOptionError(ReportsError):
    """A report option is not valid (unknown format, baseline, SLO)."""


def build(run_paths: list[Path], baseline_format: str | None = None, slo_ms: float | None = None,
          options: AggregateOptions | None = None, known: Sequence[str] = (),
          history: PastRuns | None = None) -> ReportData:  # fmt: skip
    """Load, aggregate and compute every view of a report (what all renderers share); `known`: what the
    history database says about these cells' run-to-run spread on this machine, `history`: its past runs of these
    cells, for the ratios' rerun intervals (both from bench.results.history.known)."""
    _check_options(baseline_format, slo_ms)
    from reports.load_views import split_runs

    runs = split_runs(load_runs([Path(p) for p in run_paths]))  # load cells go to their own section
    data = build_report(runs, aggregate(runs, options), baseline_format, slo_ms, history)
    data.known = list(known)
    return data


def render_report(
    run_paths: list[Path],
    fmt: str,
    baseline_format: str | None = None,
    slo_ms: float | None = None,
    *,
    color: bool = False,
    known: Sequence[str] = (),
    history: PastRuns | None = None,
) -> str | bytes:
    """The report over one or more runs in `fmt` (term | md | html | csv | parquet | json).

    "term" is 100 columns wide, with ANSI colour only when `color`; parquet is bytes, everything
    else str. Raises ReportsError (exit code 2) for unreadable results or bad options.
    """
    if fmt not in FORMATS:
        raise ReportOptionError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return _render(build(run_paths, baseline_format, slo_ms, known=known, history=history), fmt, color)


def render_reports(
    run_paths: list[Path],
    fmts: list[str],
    baseline_format: str | None = None,
    slo_ms: float | None = None,
    *,
    color: bool = False,
    known: Sequence[str] = (),
    history: PastRuns | None = None,
) -> dict[str, str | bytes]:
    """Several formats of one report, loading and aggregating the results once: {fmt: output}."""
    unknown = [f for f in fmts if f not in FORMATS]
    if unknown:
        raise ReportOptionError(f"unknown report format {unknown[0]!r}; choose one of {', '.join(FORMATS)}")
    data = build(run_paths, baseline_format, slo_ms, known=known, history=history)
    return {fmt: _render(data, fmt, color) for fmt in fmts}


def _render(data: ReportData, fmt: str, color: bool) -> str | bytes:
    if fmt == "term":
        from reports.render_term import render_term

        return render_term(data, color=color)
    return RENDERERS[fmt](data)


def _check_options(baseline_format: str | None, slo_ms: float | None) -> None:
    if baseline_format is not None and baseline_format not in VARIANTS:
        raise ReportOptionError(f"unknown baseline format {baseline_format!r}; choose one of {', '.join(VARIANTS)}")
    if slo_ms is not None and not (math.isfinite(slo_ms) and slo_ms > 0):
        raise ReportOptionError(f"--slo-ms must be a positive number of milliseconds, got {slo_ms!r}")


def _md(data: ReportData) -> str:
    from reports.render_md import render_md

    return render_md(data)


def _html(data: ReportData) -> str:
    from reports.render_html import render_html

    return render_html(data)


SPEEDUP_EXPORT = {"speedup": "speedup", "ci_lo": "speedup_ci_lo", "ci_hi": "speedup_ci_hi",
                  "rerun_lo": "speedup_rerun_lo", "rerun_hi": "speedup_rerun_hi", "rerun_scope": "rerun_scope"}


def tidy(data: ReportData) -> pd.DataFrame:
    """The tidy frame for machines: one row per cell identity and run, no internal columns; each cell's speedup
    over the baseline beside it, with its rerun interval and `rerun_scope` (what that interval covers);
    `p50_rerun_scope` says what the median's rerun interval covers."""
    frame = public_columns(data.agg).reset_index(drop=True)
    frame["p50_rerun_scope"] = [MEDIAN_RERUN_SCOPE if pd.notna(v) else "" for v in frame.get("p50_rerun_lo_ms", [])]
    keys = ["source", "model", "device", "setting", "batch_size", "variant"]
    if data.speedups.empty or not set(keys) <= set(frame.columns):
        return frame.assign(**{name: np.nan for name in SPEEDUP_EXPORT.values()})
    speed = data.speedups[[*keys, *SPEEDUP_EXPORT]].rename(columns=SPEEDUP_EXPORT).drop_duplicates(keys)
    return frame.merge(speed, on=keys, how="left")


MEDIAN_RERUN_SCOPE = "this run's processes only; runs here also drift between runs (report A B C shows it)"


def _csv(data: ReportData) -> str:
    return str(tidy(data).to_csv(index=False))


def _parquet(data: ReportData) -> bytes:
    buffer = io.BytesIO()
    frame = tidy(data).copy()
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records", double_precision=10)) if not frame.empty else []


def _json(data: ReportData) -> str:
    body = {
        "report_version": JSON_REPORT_VERSION,
        "sources": data.sources,
        "baseline": data.baseline,
        "slo_ms": data.slo_ms,
        "cells": _records(tidy(data)),
        "speedups": _records(data.speedups),  # rerun_lo/rerun_hi/rerun_scope: where a next run's ratio is expected
        "calls": _records(data.calls),
        "best_batch": _records(data.best),
        "failures": _records(data.failures),
        "notes": data.notes,
    }
    return json.dumps(body, indent=1, allow_nan=False) + "\n"


RENDERERS: dict[str, Callable[[ReportData], str | bytes]] = {
    "md": _md,
    "html": _html,
    "csv": _csv,
    "parquet": _parquet,
    "json": _json,
}
