"""The terminal report fits 100 columns without cutting a number ("11.49–13.6…", "pro…"), and `run`
prints each failed cell once (the report's failure table), not twice."""

from __future__ import annotations

from pathlib import Path

import synth

from bench.cli.run import closing_lines, write_reports
from reports.api import render_report
from reports.schema import read_run_file


def test_a_wide_panel_wraps_text_and_keeps_every_number_whole(tmp_path: Path) -> None:
    records = synth.sweep_records(("checkpoint", "frozen", "saved_model+xla", "tflite+int8dyn"), (1, 256), reps=1,
                                  n=300, speed=0.02)
    run = synth.write_run(tmp_path / "r", records)
    text = render_report([run], "term", color=False)
    assert isinstance(text, str)
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 100
    header = next(line for line in text.splitlines() if line.startswith("batch"))
    assert header.split() == ["batch", "format", "p50", "ms", "95%", "CI", "p99", "ms", "samples/s", "speedup", "95%",
                              "CI", "parity", "procs"]
    assert "0.00939–0.00951" in text and "917,042" in text  # intervals and rates uncut


def test_run_prints_each_failed_cell_once(tmp_path: Path) -> None:
    error = "ValueError: the third input has the wrong shape"
    run = synth.write_run(tmp_path / "r", [*synth.sweep_records(("frozen",), (1,), reps=1, n=50),
                                           synth.cell("tflite", 1, [], status="failed", error=error)])
    results = read_run_file(run / "results.jsonl")
    summary = write_reports(run)
    assert summary is not None and "Failed and skipped cells" in summary
    printed = "\n".join(closing_lines(summary, results.cells, run / "results.jsonl"))
    assert printed.count("the third input has the wrong shape") == 1
    alone = "\n".join(closing_lines(None, results.cells, run / "results.jsonl"))  # --no-report: the lines say it
    assert alone.count("the third input has the wrong shape") == 1 and alone.endswith(f"results: {run / 'results.jsonl'}")
