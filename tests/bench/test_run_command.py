"""Pieces of `infer-bench run` that need no worker: exit code rules, lines, reporters, overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import scenario
from bench.cli import progress
from bench.cli import run as run_cmd
from bench.runner import session
from bench.scenario import sweep


def rec(status: str, **kw: Any) -> dict[str, Any]:
    return {"status": status, "cell_id": "m/frozen/cpu/b1", "repetition": 0, **kw}


def test_exit_code_is_1_for_failed_crashed_timeout_cells_or_disagreeing_parity() -> None:
    ok, skipped = rec("ok", latencies_ns=[1, 2, 3]), rec("skipped", error="skipped: no GPU")
    good_parity = [{"pairs": [{"fp32": True, "ok": True}, {"fp32": False, "ok": False}], "error": None}]
    assert run_cmd.outcome_code([ok, skipped], good_parity) == 0
    for bad in ("failed", "crashed", "timeout"):
        assert run_cmd.outcome_code([ok, rec(bad)], good_parity) == 1
    assert run_cmd.outcome_code([ok], [{"pairs": [{"fp32": True, "ok": False}], "error": None}]) == 1
    assert run_cmd.outcome_code([ok], [{"pairs": [], "error": "could not load"}]) == 1


def test_cell_line_and_tally() -> None:
    line = progress.cell_line(rec("ok", latencies_ns=[1_000_000, 2_000_000, 3_000_000], stop_reason="ci_target"))
    assert line == "ok       m/frozen/cpu/b1 r0  median 2.000 ms (3 it, ci_target)"
    assert progress.cell_line(rec("crashed", error="worker killed by signal SIGKILL")).endswith("worker killed by signal SIGKILL")
    assert run_cmd.tally([rec("ok"), rec("ok"), rec("failed")]) == "1 failed, 2 ok"
    assert run_cmd.problem_lines([rec("ok"), rec("skipped", error="skipped: no GPU")]) == [
        "skipped  m/frozen/cpu/b1 r0  skipped: no GPU"]


def _job() -> sweep.Job:
    e = sweep.expand(scenario.default())
    return sweep.Job(e.groups[0], 0, e.groups[0].cells)


@pytest.mark.parametrize("cls", [progress.LineReporter, progress.RichReporter])
def test_reporters_show_workers_live_medians_and_cells(cls: type, capsys: pytest.CaptureFixture[str]) -> None:
    with cls(2) as reporter:
        reporter.job_started(_job(), 0, 1)
        reporter.progress("m/frozen/cpu/b1", 100, 1_500_000.0)
        reporter.cell_done(rec("ok", latencies_ns=[5_000_000], stop_reason="max_time"))
        reporter.cell_done(rec("skipped", error="skipped: no GPU"))
    err = capsys.readouterr().err
    assert "median 5.000 ms (1 it, max_time)" in err and "skipped: no GPU" in err


def test_quick_and_flag_overrides(tmp_path: Path) -> None:
    o = scenario.Overrides(quick=True, formats=("frozen",), devices=("cpu",), repetitions=4)
    s = scenario.apply_overrides(scenario.default(), o)
    assert s.sweep.batch_sizes == (1, 8) and s.sweep.formats == ("frozen",) and s.run.repetitions == 4
    assert (s.policy.warmup_time, s.policy.min_time, s.policy.max_time) == (0.1, 0.2, 1.0)
    assert scenario.Overrides.from_json(o.to_json()) == o
    s2 = scenario.apply_overrides(scenario.default(), scenario.Overrides(batch_sizes=(2, 4)))
    assert s2.sweep.batch_sizes == (2, 4) and s2.policy == scenario.default().policy


def test_run_refuses_a_scenario_with_nothing_to_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    path = tmp_path / "s.toml"
    path.write_text('[[models]]\nzoo = "mnist_cnn"\n[sweep]\nformats = ["frozen"]\n[[exclude]]\nformat = "frozen"\n')
    assert main(["run", str(path), "--out", str(tmp_path / "r")]) == 2
    assert "nothing to run" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_run_refuses_an_out_dir_that_holds_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "results.jsonl").write_text("")
    assert main(["run", "--formats", "frozen", "--out", str(tmp_path / "r")]) == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err


def test_resume_of_a_missing_run_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    assert main(["run", "--resume", str(tmp_path / "nope")]) == 2
    assert "--resume needs a run directory" in capsys.readouterr().err


def test_resume_rebuilds_the_scenario_and_flags_from_the_header(tmp_path: Path) -> None:
    from bench.results.store import RunStore

    overrides = scenario.Overrides(quick=True, formats=("frozen", "tflite"))
    text = scenario.DEFAULT_TEXT.replace("{devices}", '["cpu"]')
    with RunStore.create(tmp_path, "r1") as store:
        store.append({"kind": "header", "scenario_path": "", "scenario_text": text, "overrides": overrides.to_json()})
        store.append({"kind": "cell", "cell_id": "mnist_cnn/frozen/cpu/b1", "repetition": 0, "status": "ok"})
    run = session.resume(tmp_path)
    run.store.close()
    s, o = run.scenario, run.overrides
    assert o == overrides and s.sweep.formats == ("frozen", "tflite") and s.policy.max_time == 1.0
    assert run.done == {("mnist_cnn/frozen/cpu/b1", 0)}
    jobs = sweep.schedule(sweep.expand(s).groups, 1, None, run.done)
    # frozen (its idiomatic call too: the default has it) and tflite share one interleaved worker: only its
    # unfinished cells run again
    assert [(j.group.group_id, [(c.key.variant, c.key.call, c.batch_size) for c in j.cells]) for j in jobs] == [
        ("mnist_cnn/frozen,tflite/cpu", [("frozen", "idiomatic", 1), ("tflite", "fastest", 1), ("frozen", "fastest", 8),
                                         ("frozen", "idiomatic", 8), ("tflite", "fastest", 8)])]


def test_an_unreachable_history_database_is_one_warning_never_a_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    warning = run_cmd.record_history(tmp_path / "run", str(blocker / "history.sqlite"))  # its directory is a file
    assert warning is not None and warning.startswith("warning: run not recorded in the history database")
    assert "\n" not in warning and "--no-history" in warning


def test_run_help_says_it_records_into_the_history_database(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "recorded in the history database" in text and "--no-history" in text and "rerun intervals" in text
