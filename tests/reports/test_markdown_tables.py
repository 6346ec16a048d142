"""Every Markdown the CLI writes renders its tables on GitHub: report.md of a timing run (with and without an SLO, with
call overheads, settings, parity, failures, hosts of a cluster and profiled cells), of a capacity and a tune run,
of a run without cells, the history check's summary and the profile commands' Markdown (`compare`'s is checked in
tests/compare/test_gate_render.py). Each is parsed by a GFM table parser (gfm.py): every table-looking line is part
of a table, and every row has as many cells as its header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gfm
import numpy as np
import pytest
import synth

from infer_core.profiling.coldstart import anatomy, first_call_phases, phase
from infer_core.profiling.diff import diff_profiles
from infer_core.profiling.records import new_profile, summarise
from reports import changepoints, profiles
from reports.api import build
from reports.history import CheckResult, Finding, Point, Series, markdown
from reports.render_md import render_md
from reports.schema import CellRecord, dumps
from reports.tables import md_table


def _firsts(markdown: str) -> set[tuple[str, int]]:
    """(first header cell, header cells) of every table, once the checker has passed them all."""
    return {(t.header[0], len(t.header)) for t in gfm.assert_tables_render(markdown)}


@pytest.fixture(scope="module")
def standard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.standard_run(tmp_path_factory.mktemp("md") / "r")


@pytest.mark.parametrize("slo_ms", [None, 1.0])
def test_the_best_batch_table_has_one_delimiter_per_header_cell(standard: Path, slo_ms: float | None) -> None:
    text = render_md(build([standard], slo_ms=slo_ms))
    section = text[text.index("## Best batch size"):].split("\n## ")[0]
    (table,) = gfm.assert_tables_render(section)
    assert len(table.header) == (5 if slo_ms is None else 7)
    assert table.row_cells == [len(table.header)] * 4  # mnist_cnn: 3 formats; the hostile model: 1


def test_a_timing_run_report_renders_every_table(standard: Path) -> None:
    firsts = _firsts(render_md(build([standard], slo_ms=1.0)))
    # speedups, parity, best batch with the SLO, the per-panel pivot and numbers, failures, environment
    assert {("model · device", 9), ("model", 7), ("model · device", 7), ("samples/s at batch", 4), ("batch", 12),
            ("status", 6), ("key", 2)} <= firsts


def test_two_runs_with_call_overheads_settings_hosts_and_profiles(tmp_path: Path) -> None:
    records = synth.sweep_records(variants=("checkpoint", "frozen"), batches=(1, 8), reps=3, n=60)
    records += [synth.cell("frozen", b, synth.lognormal_ns(np.random.default_rng(b), 0.6 * b, 60), repetition=r,
                           call="idiomatic", mode="interleaved", worker={"pid": 1000 + r}) for b in (1, 8) for r in range(3)]
    records += [synth.cell("frozen", 1, synth.lognormal_ns(np.random.default_rng(7 + r), 0.3, 60), repetition=r,
                           intra_op_threads=1) for r in range(3)]
    records += [synth.cell("frozen", 1, synth.lognormal_ns(np.random.default_rng(20 + i), 0.4 + 0.1 * i, 60),
                           fleet_target=host, fleet_host=host) for i, host in enumerate(("h1", "h2|x"))]
    records.append(synth.cell("frozen", 32, [1_000_000] * 20, profile=_profile(), flops_per_sample=843_708))
    a = synth.write_run(tmp_path / "a", records)
    b = synth.write_run(tmp_path / "b", synth.sweep_records(variants=("checkpoint", "frozen"), batches=(1, 8), reps=2,
                                                             n=60, run_id="b", seed=3), "b")
    text = render_md(build([a, b], slo_ms=2.0))
    assert "## Hosts" in text and "## Profiles" in text and "Your call vs the fastest path" in text
    firsts = _firsts(text)
    assert {("model", 10), ("model · device", 7), ("op", 6)} <= firsts  # the hosts, the best batch, a profile


def test_capacity_and_tune_reports_render_their_tables(tmp_path: Path) -> None:
    firsts = _firsts(render_md(build([_load_run(tmp_path / "load")])))
    assert {("model", 7), ("rank", 5), ("model", 11)} <= firsts  # capacity, tune, load points


def test_a_run_without_cells_has_only_the_environment_table(tmp_path: Path) -> None:
    tables = gfm.assert_tables_render(render_md(build([synth.write_run(tmp_path / "r", [])])))
    assert [t.header for t in tables] == [["key", "value"]]


def test_the_history_checks_summary_renders_its_table() -> None:
    series = Series("m1", "hostA|b", {"model": "m|x", "variant": "frozen", "device": "cpu", "batch_size": 1}, "p50",
                    "main", tuple(Point(f"{i:040x}", (1.0,)) for i in range(6)))
    up = Finding(series, changepoints.ChangePoint(3, 0.001, 1.3, 1.2, 1.4), "0" * 40, "1" * 40)
    down = Finding(series, changepoints.ChangePoint(5, 0.002, 0.8, 0.7, 0.9), "2" * 40, "3" * 40)
    text = markdown(CheckResult(findings=[up, down], failing=[up], series=1), changepoints.Settings())
    (table,) = gfm.assert_tables_render(text)
    assert len(table.header) == 7 and table.row_cells == [7, 7]


def test_the_profile_commands_markdown_renders_its_tables() -> None:
    before, after = _profile(), _profile("a|b")
    before["ops"].append({"name": "w/Read", "type": "ReadVariableOp", "device": "CPU:0", "time_s": 1e-5, "calls": 1})
    gfm.assert_tables_render(profiles.profile_markdown(_profile("x|y")))
    gfm.assert_tables_render(profiles.diff_markdown(diff_profiles(before, after, "checkpoint", "frozen")), at_least=2)
    phases = [phase("process start", 0.1, "process"), phase("load: other", 0.03, "load"), *first_call_phases(0.04, 0.01, None)]
    gfm.assert_tables_render(profiles.coldstart_markdown([anatomy("frozen", phases, [])]))


def test_the_table_writer_refuses_what_github_would_not_render() -> None:
    with pytest.raises(ValueError, match="7 alignment letters for 5 columns"):
        md_table(["a", "b", "c", "d", "e"], [], "llrrrrr")
    with pytest.raises(ValueError, match="a row of 2 cells in a table of 3 columns"):
        md_table(["a", "b", "c"], [["1", "2"]])


def test_the_checker_finds_the_broken_tables_it_is_for() -> None:
    """A negative control: the header/delimiter mismatch that report.md had, and a short row, both fail."""
    broken = "| a | b |\n| :--- | :--- | ---: |\n| 1 | 2 |\n"
    with pytest.raises(AssertionError, match="print as text"):
        gfm.assert_tables_render(broken)
    short = "| a | b |\n| :--- | :--- |\n| 1 |\n"
    with pytest.raises(AssertionError, match=r"rows of \[1\]"):
        gfm.assert_tables_render(short)
    assert gfm.source_cells(r"| a \| b | `c` |") == 2  # an escaped pipe stays in its cell


# ---------------------------------------------------------------- records


def _profile(name: str = "conv/Relu") -> dict[str, Any]:
    ops = [{"name": name, "type": "_FusedConv2D", "device": "CPU:0", "time_s": 6e-4, "calls": 1},
           {"name": "dense/MatMul", "type": "MatMul", "device": "CPU:0", "time_s": 2e-4, "calls": 1}]
    return new_profile(variant="frozen", call_path="session.callable_from_options", batch_size=32,
                       source="session_step_stats", label="traced", runs=5, step_samples=20,
                       notes=["framework overhead = step - ops"], **summarise(ops, 1e-3))


def _load_block(qps: float, p50: float, p99: float, passed: bool) -> dict[str, Any]:
    return {"point": f"server:{qps:g}", "scenario": "server", "target_qps": qps, "achieved_qps": qps * 0.99,
            "samples_per_query": 1, "latency_ns": {"p50": int(p50 * 1e6), "p99": int(p99 * 1e6)},
            "observed_ns": int(p99 * 1e6), "bound_ns": int(p99 * 1.1e6), "slo_ms": 5.0, "percentile": 99.0,
            "valid": passed, "stable": True, "reasons": [] if passed else ["p99 9 ms > SLO 5 ms | queue"],
            "issue_delay_ns": {"p99": 100_000}, "passed": passed, "phase": "search"}


def _load_run(path: Path) -> Path:
    """A capacity search's load points and its capacity record, and a tune record: the shapes `infer-bench capacity`
    and `infer-bench tune` write."""
    lines = [dumps({"kind": "header", "run_id": "r1", "env": {"host": "h"}})]
    for qps, p50, p99 in [(100, 0.5, 1.0), (200, 0.5, 1.2), (400, 0.6, 1.9), (800, 2.0, 9.0)]:
        rec = CellRecord(cell_id=f"m/frozen/cpu/b1/server:{qps}", group_id="m/frozen/cpu", repetition=0, model="m|x",
                         variant="frozen", load_point=f"server:{qps}", latencies_ns=[int(p50 * 1e6)] * 10, iterations=10,
                         load=_load_block(qps, p50, p99, p99 <= 5.0))
        lines.append(dumps({**rec.to_json(), "run_id": "r1"}))
    lines.append(dumps({"kind": "capacity", "run_id": "r1", "model": "m|x", "variant": "frozen", "slo_ms": 5.0,
                        "percentile": 99.0, "rule": "observed", "capacity_qps": 400.0, "interval": [380.0, 420.0],
                        "estimates": [400.0, 380.0, 420.0], "best_observed_ns": 1_000_000}))
    lines.append(dumps({"kind": "tune", "run_id": "r1", "model": "m|x", "slo_ms": 5.0, "percentile": 99.0,
                        "objective": "qps", "rows": [{"label": "frozen threads=2", "score": 900.0, "interval": [850.0, 950.0],
                                                     "rounds": 3}, {"label": "frozen | batch 8", "score": None,
                                                                    "interval": None, "rounds": 1}],
                        "winner": {"label": "frozen threads=2"}, "baseline_qps": 300.0, "gain": 3.0,
                        "batching_parameters": "max_batch_size { value: 8 }\n"}))
    path.mkdir(parents=True)
    (path / "results.jsonl").write_text("\n".join(lines) + "\n")
    return path
