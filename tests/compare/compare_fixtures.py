"""Stored result fixtures for the comparison tests: real results files written with
`reports.schema.dumps`, latencies drawn from a seeded RNG around controlled per-process medians."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reports.compare import Comparison
from reports.power import can_reject, can_reject_paired, smallest_p, smallest_p_paired
from reports.schema import dumps
from tests.reports import synth

ENV = {"host": "ci-box", "cpu_model": "Test CPU @ 2.0GHz", "tensorflow": {"version": "2.21.0"}, "python": "3.11.9"}


def cell(
    model: str,
    medians_ms: Sequence[float],
    *,
    variant: str = "frozen",
    batch_size: int = 1,
    status: str = "ok",
    error: str | None = None,
    samples: int = 300,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One cell record per process: samples scattered 2% around that process's median."""
    rng = np.random.default_rng(seed)
    records = []
    for rep, median in enumerate(medians_ms):
        lat = median * 1e6 * np.exp(rng.normal(0.0, 0.02, samples)) if status == "ok" else np.empty(0)
        records.append(synth.cell(variant, batch_size, lat, model=model, repetition=rep, status=status, error=error,
                                  run_id="r", host="ci-box"))
    return records


WriteRun = Callable[..., Path]


def write_run_file(run_dir: Path, name: str, cells: Sequence[Sequence[dict[str, Any]]], env: Mapping[str, Any] | None = None,
                   created: str = "2026-01-01T00:00:00Z", policy: Mapping[str, Any] | None = None) -> Path:
    """A results.jsonl in run_dir: header, then the cells' records."""
    run_dir.mkdir(parents=True)
    header = {"kind": "header", "run_id": name, "created": created, "scenario_path": "ci.toml",
              "scenario_text": "", "policy": dict(policy or {}), "env": dict(env if env is not None else ENV)}
    lines = [dumps(header)]
    for records in cells:
        lines.extend(dumps({**r, "run_id": name}) for r in records)
    (run_dir / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run_dir


def own_session_env(**extra: str) -> dict[str, str]:
    """The environment for a pytest a test starts: its own session, not an xdist worker (pytest-benchmark turns
    itself off where it sees PYTEST_XDIST_WORKER, which this suite's workers set)."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}, **extra}


def assert_can_reject(cells: Iterable[Mapping[str, Any]], level: float, paired: bool = False) -> None:
    """Every tested cell (rows of a comparison: n_baseline, n_current, pairs, tested) could have been called
    slower or faster at `level`, Holm's level for its first cell: a test that asserts a cell was not is then a test
    of a decision that could have gone the other way, not of a rank test that cannot reject with so few processes."""
    tested = [c for c in cells if c.get("tested")]
    assert tested, "no cell was tested: the gate decided nothing that a test could check"
    for c in tested:
        if paired:
            n = int(c["pairs"])
            assert can_reject_paired(n, level), (f"{n} pairs: the signed-rank test's smallest p {smallest_p_paired(n):.3g} "
                                                 f"is above the level {level:.3g}; this test cannot fail")
        else:
            n_b, n_c = int(c["n_baseline"]), int(c["n_current"])
            assert can_reject(n_b, n_c, level), (f"{n_b} vs {n_c} processes: the rank test's smallest p "
                                                 f"{smallest_p(n_b, n_c):.3g} is above the level {level:.3g}; "
                                                 "this test cannot fail")


def assert_comparison_can_reject(comparison: Comparison) -> None:
    """`assert_can_reject` on a `reports.compare.compare` result, at its own level per cell."""
    assert_can_reject(comparison.frame.to_dict("records"), comparison.level_per_cell, comparison.settings.paired)


def assert_document_can_reject(document: Mapping[str, Any]) -> None:
    """`assert_can_reject` on the document of `infer-bench compare --format json`."""
    settings = document["settings"]
    assert_can_reject(document["cells"], float(settings["level_per_cell"]), bool(settings.get("paired")))
