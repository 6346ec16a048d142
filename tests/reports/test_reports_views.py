"""reports.views: pivots, fastest format, speedups with parity, best batch size with an SLO."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import synth

from reports.aggregate import aggregate
from reports.load import load_runs
from reports.views import best_batch, build_report, choose_baseline, fastest_per_batch, pivot, speedups


def constant_run(tmp_path: Path, table: dict[tuple[str, int], float], reps: int = 1, n: int = 50) -> pd.DataFrame:
    """Cells whose latencies are all the same value (ms): every statistic is known exactly."""
    records = [
        synth.cell(variant, batch, [int(value * 1e6)] * n, repetition=rep)
        for rep in range(reps)
        for (variant, batch), value in table.items()
    ]
    runs = load_runs([synth.write_run(tmp_path / "r", records)])
    return aggregate(runs)


TABLE = {
    ("checkpoint", 1): 1.0, ("checkpoint", 8): 4.0, ("checkpoint", 32): 16.0,
    ("frozen", 1): 0.5, ("frozen", 8): 2.0, ("frozen", 32): 4.0,
    ("tflite", 1): 0.25, ("tflite", 8): 2.5, ("tflite", 32): 6.4,
}  # fmt: skip


def test_pivot_is_batch_by_format_in_canonical_order(tmp_path: Path) -> None:
    agg = constant_run(tmp_path, TABLE)
    table = pivot(agg, "p50_ms")
    assert list(table.columns) == ["checkpoint", "frozen", "tflite"]
    assert list(table.index) == [1, 8, 32]
    assert table.loc[8, "tflite"] == pytest.approx(2.5)
    # throughput = batch / median: batch 32 frozen = 32 / 4 ms = 8,000 samples/s
    assert pivot(agg, "throughput").loc[32, "frozen"] == pytest.approx(8000)


def test_fastest_format_per_batch_size_with_margin(tmp_path: Path) -> None:
    fastest = fastest_per_batch(constant_run(tmp_path, TABLE, reps=2)).set_index("batch_size")
    assert list(fastest["variant"]) == ["tflite", "frozen", "frozen"]
    assert fastest.loc[1, "margin"] == pytest.approx(2.0)  # frozen 0.5 / tflite 0.25
    assert fastest.loc[8, "runner_up"] == "tflite"
    assert bool(fastest.loc[32, "clear"])  # constant samples in two processes: the paired ratios agree exactly


def test_one_process_never_makes_an_order_clear(tmp_path: Path) -> None:
    """One worker process: its interval covers only its own noise, so no difference is called clear."""
    fastest = fastest_per_batch(constant_run(tmp_path, TABLE)).set_index("batch_size")
    assert not fastest["clear"].any()
    table = speedups(constant_run(tmp_path / "s", TABLE), pd.DataFrame(), "checkpoint")
    assert not table["significant"].any() and table["ci_scope"].str.startswith("within one process").all()


def test_speedups_against_checkpoint_with_parity(tmp_path: Path) -> None:
    records = [synth.cell(v, b, [int(x * 1e6)] * 50, repetition=r) for (v, b), x in TABLE.items() for r in (0, 1)]
    records += [synth.parity("mnist_cnn", "frozen", "checkpoint", ok=True), synth.parity("mnist_cnn", "checkpoint", "tflite", ok=False)]
    runs = load_runs([synth.write_run(tmp_path / "r", records)])
    table = speedups(aggregate(runs), runs.parity, "checkpoint").set_index(["batch_size", "variant"])
    assert table.loc[(32, "frozen"), "speedup"] == pytest.approx(4.0)  # 16 ms / 4 ms
    assert table.loc[(1, "tflite"), "speedup"] == pytest.approx(4.0)  # 1 ms / 0.25 ms
    assert table.loc[(8, "frozen"), "parity"] == "same"  # pair stored as (frozen, checkpoint): order-free
    assert table.loc[(8, "tflite"), "parity"] == "differs"
    assert bool(table.loc[(8, "frozen"), "significant"])
    assert ("checkpoint" not in table.index.get_level_values("variant"))


def test_parity_not_checked_and_error(tmp_path: Path) -> None:
    records = [synth.cell(v, 1, [1_000_000] * 10) for v in ("checkpoint", "frozen")]
    runs = load_runs([synth.write_run(tmp_path / "a", records)])
    assert speedups(aggregate(runs), runs.parity, "checkpoint").iloc[0]["parity"] == "not checked"
    failed_check = {**synth.parity("mnist_cnn", "x", "y"), "pairs": [], "error": "frozen failed to load"}
    runs = load_runs([synth.write_run(tmp_path / "b", records + [failed_check])])
    assert speedups(aggregate(runs), runs.parity, "checkpoint").iloc[0]["parity"] == "error"


def test_best_batch_size_with_and_without_an_slo(tmp_path: Path) -> None:
    agg = constant_run(tmp_path, TABLE)
    best = best_batch(agg, slo_ms=3.0).set_index("variant")
    # frozen: 1/0.5=2,000; 8/2=4,000; 32/4=8,000 samples/s -> batch 32; p99 4 ms > 3 ms -> under SLO: batch 8
    assert best.loc["frozen", "best_batch"] == 32
    assert best.loc["frozen", "slo_batch"] == 8
    # tflite: 1/0.25 = 4,000; 8/2.5 = 3,200; 32/6.4 = 5,000 samples/s -> batch 32 (p99 6.4 ms);
    # under 3 ms only batches 1 and 8 qualify, and batch 1 gives more
    assert best.loc["tflite", "best_batch"] == 32
    assert best.loc["tflite", "slo_batch"] == 1
    assert best.loc["tflite", "slo_throughput"] == pytest.approx(4000)
    assert best.loc["checkpoint", "slo_batch"] == 1  # batch 8 takes 4 ms > 3 ms
    assert pd.isna(best_batch(agg, slo_ms=0.1).loc[0, "slo_batch"])  # nothing is that fast
    assert best_batch(agg)["slo_batch"].isna().all()


def test_baseline_choice(tmp_path: Path) -> None:
    agg = constant_run(tmp_path, TABLE)
    assert choose_baseline(agg, None) == "checkpoint"
    assert choose_baseline(agg, "frozen") == "frozen"
    assert choose_baseline(agg, "keras") is None
    no_ckpt = agg[agg["variant"] != "checkpoint"]
    assert choose_baseline(no_ckpt, None) is None


def test_report_notes_a_missing_baseline_and_still_answers_frozen_vs_checkpoint(tmp_path: Path) -> None:
    runs = load_runs([synth.standard_run(tmp_path / "r")])
    data = build_report(runs, aggregate(runs), baseline_format="keras")
    assert data.baseline is None and data.speedups.empty
    assert any("keras" in note for note in data.notes)
    assert set(data.headline["variant"]) == {"frozen"}  # the headline question is always answered
    assert list(data.headline["batch_size"]) == [1, 8, 32]


def test_interleaved_speedup_pairs_inside_each_process(tmp_path: Path) -> None:
    """Processes 1.0x, 1.3x, 0.8x as fast, each holding both formats: the paired ratio (2.0 in each) is
    exact although the processes' medians differ by 1.6x; separate processes pair by round."""
    shifts = {0: 1.0, 1: 1.3, 2: 0.8}
    records = [synth.cell(v, 1, [int(ms * shifts[r] * 1e6)] * 20, repetition=r, mode="interleaved",
                          worker={"pid": 100 + r}) for v, ms in (("checkpoint", 1.0), ("frozen", 0.5)) for r in shifts]
    runs = load_runs([synth.write_run(tmp_path / "i", records)])
    row = speedups(aggregate(runs), runs.parity, "checkpoint").iloc[0]
    assert row["speedup"] == pytest.approx(2.0)
    assert (row["ci_lo"], row["ci_hi"]) == pytest.approx((2.0, 2.0))
    assert row["ci_scope"] == "paired in each process (interleaved), n=3" and bool(row["significant"])
    separate = [{**r, "mode": "separate", "worker": {"pid": 200 + i}} for i, r in enumerate(records)]
    runs = load_runs([synth.write_run(tmp_path / "s", separate)])
    assert speedups(aggregate(runs), runs.parity, "checkpoint").iloc[0]["ci_scope"].startswith("paired by round")


def test_call_overhead_pairs_the_idiomatic_call_with_the_fastest_path(tmp_path: Path) -> None:
    """session.run(feed_dict) 0.23 ms vs the callable 0.12 ms in the same three processes (which differ by 1.5x):
    +0.11 ms, ratio 1.917 exactly in every process; the idiomatic cells get a panel of their own."""
    from reports.summary import summarize
    from reports.views import call_overhead

    shifts = {0: 1.0, 1: 1.5, 2: 1.2}
    records = [synth.cell("frozen", 1, [int(ms * shifts[r] * 1e6)] * 30, repetition=r, mode="interleaved",
                          worker={"pid": 10 + r}, call=call, call_path=path)
               for call, ms, path in (("fastest", 0.12, "callable"), ("idiomatic", 0.23, "session.run(fetches, feed_dict)"))
               for r in shifts]
    runs = load_runs([synth.write_run(tmp_path / "r", records)])
    agg = aggregate(runs)
    assert sorted(agg["setting"]) == ["", "idiomatic call"]
    row = call_overhead(agg).iloc[0]
    assert row["ratio"] == pytest.approx(0.23 / 0.12, rel=1e-3) and bool(row["significant"])
    assert (row["ci_lo"], row["ci_hi"]) == pytest.approx((0.23 / 0.12, 0.23 / 0.12), rel=1e-3)
    assert row["overhead_ms"] == pytest.approx(0.11 * 1.2, rel=0.01)  # pooled medians: the middle process
    lines = {i.heading: i.lines for i in summarize(build_report(runs, agg))}["Your call vs the fastest path"]
    assert lines[0].startswith("mnist_cnn · cpu: frozen session.run(fetches, feed_dict) vs callable: batch 1: +0.132 ms (+92%")


def test_two_interpreters_are_labelled_by_tensorflow_version_and_compared(tmp_path: Path) -> None:
    """[sweep] python = ["", "venv/bin/python"]: the header maps labels to interpreters and their TensorFlow;
    the panels say "TF 2.20.0" / "TF 2.21.0" and the summary gives TF vs TF with a paired interval."""
    from reports.summary import summarize

    shifts = {0: 1.0, 1: 1.3, 2: 0.9}
    records = [synth.cell("frozen", 1, [int(ms * shifts[r] * 1e6)] * 20, repetition=r, python=label)
               for label, ms in (("", 0.40), ("venv/bin/python", 0.44)) for r in shifts]
    run = synth.write_run(tmp_path / "r", records)
    lines = (run / "results.jsonl").read_text().splitlines()
    import json

    header = json.loads(lines[0])
    header["pythons"] = {"": "/usr/bin/python3", "venv/bin/python": "/w/venv/bin/python"}
    header["env"]["interpreters"] = {"/usr/bin/python3": {"packages": {"tensorflow": "2.21.0"}},
                                     "/w/venv/bin/python": {"packages": {"tensorflow": "2.20.0"}}}
    (run / "results.jsonl").write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    runs = load_runs([run])
    agg = aggregate(runs)
    assert sorted(agg["setting"]) == ["TF 2.20.0", "TF 2.21.0"]
    report = build_report(runs, agg)
    row = report.settings.iloc[0]
    assert (row["base"], row["other"]) == ("TF 2.21.0", "TF 2.20.0")
    assert row["speedup"] == pytest.approx(0.40 / 0.44, rel=1e-3) and (row["ci_lo"], row["ci_hi"]) == pytest.approx((0.40 / 0.44,) * 2, rel=1e-3)
    lines = {i.heading: i.lines for i in summarize(report)}["Setting vs setting"]
    assert lines == ["TF 2.20.0 vs TF 2.21.0 — mnist_cnn frozen: batch 1: 1.10× slower (95% CI 1.10–1.10×, 3 paired processes)"]


def test_thread_settings_are_compared_with_the_defaults_paired_by_round(tmp_path: Path) -> None:
    """A sweep of threads 0/0 and 1/caller: each format's speed under the other setting against the defaults,
    the ratio of medians with a t interval over the per-round ratios (here 2.0, 2.5 and 2.0 in the three rounds)
    centred on it,
    the idiomatic call named beside its variant rather than in the setting."""
    from reports import stats
    from reports.summary import summarize

    base_ms, caller_ms = {0: 0.20, 1: 0.25, 2: 0.18}, {0: 0.10, 1: 0.10, 2: 0.09}
    records = [synth.cell("frozen", 1, [int(ms[r] * 1e6)] * 20, repetition=r, call=call, intra_op_threads=intra,
                          inter_op_threads=inter)
               for intra, inter, ms in ((0, 0, base_ms), (1, -1, caller_ms)) for r in ms for call in ("fastest", "idiomatic")]
    runs = load_runs([synth.write_run(tmp_path / "r", records)])
    report = build_report(runs, aggregate(runs))
    rows = report.settings.set_index("call")
    assert set(rows.index) == {"fastest", "idiomatic"}
    row = rows.loc["fastest"]
    expected = stats.log_t_interval([2.0, 2.5, 2.0])
    shift = 2.0 / expected.center  # the geometric mean of the rounds, 2.154, moved onto the ratio of medians
    assert (row["base"], row["other"], row["pairs"]) == ("defaults", "threads 1/caller", 3)
    assert row["speedup"] == pytest.approx(0.20 / 0.10) and (row["ci_lo"], row["ci_hi"]) == pytest.approx((expected.low * shift, expected.high * shift))
    lines = {i.heading: i.lines for i in summarize(report)}["Setting vs setting"]
    assert lines[0].startswith("threads 1/caller vs defaults — mnist_cnn frozen: batch 1: 2.00× faster (95% CI ")
    assert lines[1].startswith("threads 1/caller vs defaults — mnist_cnn frozen (idiomatic call): batch 1: 2.00× faster")


def test_one_process_per_setting_says_so_once_per_line(tmp_path: Path) -> None:
    from reports.summary import summarize

    records = [synth.cell("frozen", b, [int(ms * b * 1e6)] * 20, intra_op_threads=intra, inter_op_threads=inter)
               for intra, inter, ms in ((0, 0, 0.30), (1, -1, 0.10)) for b in (1, 8)]
    runs = load_runs([synth.write_run(tmp_path / "r", records)])
    lines = {i.heading: i.lines for i in summarize(build_report(runs, aggregate(runs)))}["Setting vs setting"]
    assert lines == ["threads 1/caller vs defaults — mnist_cnn frozen: batch 1: 3.00× faster; batch 8: 3.00× faster "
                     "(one worker process per setting: no interval; use ≥ 5)"]
