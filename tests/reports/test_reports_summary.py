"""reports.summary: the answers, in words, short even for big sweeps."""

from __future__ import annotations

from pathlib import Path

import synth

from reports.api import build
from reports.summary import summarize


def by_heading(run: Path) -> dict[str, list[str]]:
    return {item.heading: item.lines for item in summarize(build([run]))}


def test_few_batch_sizes_get_one_clause_each(tmp_path: Path) -> None:
    lines = by_heading(synth.standard_run(tmp_path / "r"))
    fastest = lines["Fastest format per batch size"][0]
    assert fastest.startswith("mnist_cnn · cpu: batch 1: tflite (0.107 ms, 4.46× ahead of frozen); batch 8: tflite")
    assert lines["Frozen graph vs checkpoint"][0].startswith("mnist_cnn · cpu: batch 1: 1.99× faster (95% CI")
    assert "outputs same" in lines["Frozen graph vs checkpoint"][0]
    assert "Problems" in lines


def test_many_batch_sizes_are_summarised_as_ranges(tmp_path: Path) -> None:
    records = synth.sweep_records(("checkpoint", "frozen", "tflite"), (1, 2, 4, 8, 16, 32), reps=2)
    lines = by_heading(synth.write_run(tmp_path / "r", records))
    assert lines["Fastest format per batch size"] == [lines["Fastest format per batch size"][0]]
    assert "batches 1–32: tflite (" in lines["Fastest format per batch size"][0]
    headline = lines["Frozen graph vs checkpoint"][0]
    assert "across batches 1–32 (every 95% interval above 1)" in headline
    assert "outputs not checked" in headline
    assert "Problems" not in lines


def test_single_process_cells_are_flagged(tmp_path: Path) -> None:
    lines = by_heading(synth.write_run(tmp_path / "r", synth.sweep_records(reps=1)))
    trust = " ".join(lines["How far to trust these numbers"])
    assert "9 of 9 cells ran in one worker process" in trust and "within" not in trust.split(":")[0]


def test_a_slower_frozen_graph_is_called_slower_with_its_interval_inverted(tmp_path: Path) -> None:
    # checkpoint 1.0 ms, frozen 1.25 ms (constant samples): speedup 0.8, i.e. 1.25× slower.
    records = [synth.cell(v, 1, [ns] * 50, repetition=r) for v, ns in (("checkpoint", 1_000_000), ("frozen", 1_250_000))
               for r in (0, 1)]
    line = by_heading(synth.write_run(tmp_path / "r", records))["Frozen graph vs checkpoint"][0]
    assert "batch 1: 1.25× slower (95% CI 1.25–1.25×, 2 paired processes; a rerun: 1.25–1.25×, this run only)" in line


def test_one_process_gets_no_interval_in_the_summary(tmp_path: Path) -> None:
    records = [synth.cell("checkpoint", 1, [1_000_000] * 50), synth.cell("frozen", 1, [1_250_000] * 50)]
    line = by_heading(synth.write_run(tmp_path / "r", records))["Frozen graph vs checkpoint"][0]
    assert "batch 1: 1.25× slower (one worker process: no interval for a rerun; use ≥ 5)" in line


def test_one_process_says_its_caveat_once_and_never_calls_a_lead_noise(tmp_path: Path) -> None:
    """One worker process, two batch sizes: TFLite 4× ahead of frozen is untested, not "within noise", and so is
    the idiomatic call's cost; each line carries the one-process caveat once."""
    ns = {"checkpoint": 1_000_000, "frozen": 800_000, "tflite": 200_000}
    records = [synth.cell(v, b, [t * b] * 50) for v, t in ns.items() for b in (1, 8)]
    records += [synth.cell("frozen", b, [1_200_000 * b] * 50, call="idiomatic") for b in (1, 8)]
    lines = by_heading(synth.write_run(tmp_path / "r", records))
    fastest = lines["Fastest format per batch size"][0]
    assert fastest.endswith("batch 1: tflite (0.200 ms, 4.00× ahead of frozen); batch 8: tflite (1.60 ms, 4.00× ahead of "
                            "frozen) (one worker process: not tested against the noise)")
    assert "within noise" not in fastest
    call = lines["Your call vs the fastest path"][0]
    assert call.endswith(": batch 1: +0.4 ms (+50%); batch 8: +3.2 ms (+50%) (one worker process: not tested against "
                         "the noise)")
    headline = lines["Frozen graph vs checkpoint"][0]
    assert "batch 1: 1.25× faster; batch 8: 1.25× faster (one worker process: no interval for a rerun; use ≥ 5)" in headline
    assert headline.count("one worker process") == 1


def test_several_processes_keep_within_noise_for_an_untold_order(tmp_path: Path) -> None:
    """Two processes that disagree on which of two formats is faster: "within noise", as before."""
    records = [synth.cell("frozen", 1, [ns] * 50, repetition=r) for r, ns in ((0, 1_000_000), (1, 1_100_000))]
    records += [synth.cell("tflite", 1, [ns] * 50, repetition=r) for r, ns in ((0, 1_050_000), (1, 1_000_000))]
    fastest = by_heading(synth.write_run(tmp_path / "r", records))["Fastest format per batch size"][0]
    assert "within noise of" in fastest and "not tested" not in fastest


def test_several_runs_show_their_drift_and_a_next_run_interval(tmp_path: Path) -> None:
    """Three runs of one host whose speeds differ 1.0 / 1.2 / 0.9 (whole runs shift together)."""
    from reports.api import render_report

    dirs = [synth.write_run(tmp_path / f"r{i}", synth.sweep_records(seed=i, speed=speed, run_id=f"run-{i}"), run_id=f"run-{i}")
            for i, speed in enumerate((1.0, 1.2, 0.9))]
    text = render_report(dirs, "md")
    assert "**Run to run**" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("- 3 runs on hostA: medians moved up to"))
    spread = float(line.split("up to ")[1].split("×")[0])
    assert 1.25 <= spread <= 1.45  # 1.2 / 0.9 = 1.33, plus the per-process shifts
    assert "a next run: 95% within" in text
    single = render_report([dirs[0]], "md")
    assert "Run to run" not in single
