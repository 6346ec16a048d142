"""What a new user trips over, caught before any worker starts (issue 15, items 3 and 4): model paths
on the command line, scenario mistakes all at once, model files checked in the parent, bad flags; and model
files whose bytes are surely broken, in every command that loads a model (issue 23, item 5).
Everything here runs in the pytest process without TensorFlow (a test below checks that)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mnist_dir() -> Path:
    from bench.runner.zoo_export import ensure_exported

    return ensure_exported("mnist_cnn")


def _err(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


# ------------------------------------------------------------------ item 4: scenario mistakes, all at once


def test_every_scenario_mistake_is_reported_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        "[run]\nrepetitions = 0\n\n[sweep]\nformats = [\"frozn\"]\nbatch_sizes = [1]\n\n"
        "[[models]]\nzoo = \"mnist_cnn\"\ncolour = \"red\"\n\n[[models]]\nzoo = \"no_such_zoo\"\n")
    assert main(["plan", str(bad)]) == 2
    err = _err(capsys)
    assert err == [
        f"infer-bench: error: {bad}:2: run.repetitions: must be an integer >= 1, got 0 (or \"auto\")",
        f"infer-bench: error: {bad}:5: sweep.formats: unknown format 'frozn'; known formats: " + err[1].split("known formats: ")[1],
        f"infer-bench: error: {bad}:10: models[0].colour: unknown key; allowed here: " + err[2].split("allowed here: ")[1],
        f"infer-bench: error: {bad}:13: models[1].zoo: unknown zoo model 'no_such_zoo'; the zoo has "
        + err[3].split("the zoo has ")[1],
    ]


def test_model_files_are_checked_before_a_worker_starts(tmp_path: Path, mnist_dir: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01")
    (tmp_path / "empty_dir").mkdir()
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        "[[models]]\nname = \"typo\"\npath = \"models/frozn.pb\"\n\n"
        "[[models]]\nname = \"what\"\npath = \"notes.bin\"\n\n"
        "[[models]]\nname = \"dir\"\nfiles = { saved_model = \"empty_dir\" }\n\n"
        f"[[models]]\nname = \"mixed\"\nfiles = {{ checkpoint = \"{mnist_dir / 'frozen.pb'}\" }}\n\n"
        f"[[models]]\nname = \"fine\"\npath = \"{mnist_dir / 'frozen.pb'}\"\n")
    for command in ("plan", "run"):
        assert main([command, str(scenario), "--out", str(tmp_path / "run")] if command == "run" else [command, str(scenario)]) == 2
        err = _err(capsys)
        assert [line.split(": ", 4)[2:4] for line in err] == [
            [f"{scenario}:3", "models[0].path"], [f"{scenario}:7", "models[1].path"],
            [f"{scenario}:11", "models[2].files.saved_model"], [f"{scenario}:15", "models[3].files.checkpoint"]]
        assert "frozn.pb: no such file or directory" in err[0] and "cannot tell the model format" in err[1]
        assert "neither a SavedModel" in err[2] and "a frozen model by its name or contents, not checkpoint" in err[3]
    assert not (tmp_path / "run").exists()  # nothing started, no run directory


# ------------------------------------------------------------------ item 3: run / plan MODEL...


def test_plan_takes_model_paths_with_the_default_sweep(mnist_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(mnist_dir / "frozen.pb"), str(mnist_dir / "model.tflite"), str(mnist_dir / "saved_model"),
                 "--formats", "frozen,saved_model,saved_model+xla,tflite"]) == 0
    out = capsys.readouterr().out
    # three files, three models; the SavedModel's two variants share one interleaved worker
    assert "16 cells in 3 worker groups" in out and "not run" not in out
    for group in ("frozen.pb/frozen/cpu", "model.tflite/tflite/cpu", "saved_model/saved_model,saved_model+xla/cpu"):
        assert group in out
    assert "batch 1, 8, 32, 128" in out


def test_an_exported_directory_is_one_model_in_all_its_formats(mnist_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(mnist_dir), "--quick"]) == 0
    out = capsys.readouterr().out
    assert "10 cells in 1 worker groups" in out  # the five formats load together and alternate in one worker
    assert "mnist_cnn/checkpoint,frozen,saved_model,keras,tflite/cpu" in out
    assert "interleaved: checkpoint, frozen, saved_model, tflite, keras" in out


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: (d / "weights.bin").write_bytes(b"\xff\xfe\x00garbage") and d / "weights.bin",
     "weights.bin: neither a scenario (a .toml file) nor a model infer-bench can read"),
    (lambda d: (d / "sm").mkdir() or d / "sm", "sm: neither a scenario (a .toml file) nor a model"),
    (lambda d: d / "absent.pb", "absent.pb: no such file or directory (expected a scenario .toml file or a model"),
])
def test_a_path_that_is_neither_says_what_was_expected(tmp_path: Path, make, message: str,  # type: ignore[no-untyped-def]
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = make(tmp_path)
    for command in ("plan", "run"):
        assert main([command, str(path)]) == 2
        (line,) = _err(capsys)
        assert message in line and "utf-8" not in line and "Errno" not in line


def test_model_flags_go_with_model_paths_only(mnist_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(ROOT / "scenarios" / "ci.toml"), "--shape", "x=1x2"]) == 2
    assert "--shape: only with model paths" in _err(capsys)[0]
    assert main(["plan", str(ROOT / "scenarios" / "ci.toml"), str(mnist_dir / "frozen.pb")]) == 2
    assert "a scenario file goes alone" in _err(capsys)[0]
    assert main(["plan", str(mnist_dir / "frozen.pb"), "--builder", "nope.py:build"]) == 2
    assert "--builder: nope.py: no such file" in _err(capsys)[0]


def test_model_paths_scenario_keeps_the_flags(mnist_dir: Path) -> None:
    from bench.scenario.from_paths import ModelOptions, from_model_paths

    s = from_model_paths([mnist_dir / "frozen.pb"], ModelOptions(
        variant="frozen", inputs=("input:0",), outputs=("output:0",), shapes={"input": (1, 28, 28, 1)}))
    (m,) = s.models
    assert (m.name, dict(m.files), m.inputs, m.outputs, dict(m.shapes)) == (
        "frozen.pb", {"frozen": str(mnist_dir / "frozen.pb")}, ("input:0",), ("output:0",), {"input": (1, 28, 28, 1)})


# ------------------------------------------------------------------ item 4: flags


@pytest.mark.parametrize("argv", [["check", "m.pb", "--batch", "0"], ["check", "m.pb", "--batch", "-3"]])
def test_check_refuses_a_batch_below_one(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and "--batch: must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["1,,8", "8,", ",1"])
def test_batch_sizes_with_an_empty_item_are_refused(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--batch-sizes", text]) == 2
    assert f"--batch-sizes: {text!r} has an empty item" in capsys.readouterr().err


def test_every_option_of_every_command_is_described() -> None:
    import argparse

    from bench.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = [f"{name} {a.option_strings or a.dest}" for name, p in sub.choices.items() for a in p._actions
               if not isinstance(a, argparse._HelpAction) and not a.help and not isinstance(a, argparse._SubParsersAction)]
    missing += [f"{name} {a.option_strings or a.dest}" for name, p in sub.choices.items() for a in p._actions
                if isinstance(a, argparse._SubParsersAction) for sp in a.choices.values() for a2 in sp._actions
                if not a2.help and not isinstance(a2, argparse._HelpAction)]
    assert missing == []


def test_output_files_are_spelled_out_everywhere() -> None:
    """`--out FILE` writes a file in every command; `--output` is only ever a tensor name."""
    import argparse

    from bench.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for name, p in sub.choices.items():
        for a in p._actions:
            if "--output" in a.option_strings and a.help != argparse.SUPPRESS:
                assert a.dest == "outputs" and a.metavar == "NAME", (name, a)


def test_plan_with_model_paths_imports_no_tensorflow(mnist_dir: Path) -> None:
    code = ("import json, sys; from bench.cli import main; code = main(['plan', sys.argv[1]]); "
            "print(json.dumps([code, 'tensorflow' in sys.modules]), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, str(mnist_dir / "frozen.pb")], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == [0, False]


def test_run_quick_states_its_cost(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "every group still starts its own worker process, plus a parity worker" in text
    assert "took 30 s on this 2-core machine" in text


# ------------------------------------------------------------------ issue 23, item 5: model files' bytes


def _no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tripwire: starting any worker process fails the test (the preflight must have stopped the command)."""
    from bench.runner import procs

    def started(*args: object, **kwargs: object) -> list[str]:
        raise AssertionError("a worker process was started")

    monkeypatch.setattr(procs, "_command", started)


def _empty_pb(d: Path) -> Path:
    (d / "model.pb").write_bytes(b"")
    return d / "model.pb"


def _text_tflite(d: Path) -> Path:
    (d / "model.tflite").write_text("these are my notes, renamed by mistake\n")
    return d / "model.tflite"


def _cut_keras(d: Path, mnist_dir: Path) -> Path:
    data = (mnist_dir / "model.keras").read_bytes()
    (d / "model.keras").write_bytes(data[: len(data) * 2 // 3])
    return d / "model.keras"


def _checkpoint_without_index(d: Path, mnist_dir: Path) -> Path:
    import shutil

    shutil.copytree(mnist_dir / "checkpoint", d / "ckpt")
    (d / "ckpt" / "model.ckpt.index").unlink()
    return d / "ckpt"


BROKEN = {  # what a user gives by mistake -> (the file the line names, what it says)
    "empty model.pb": (lambda d, m: _empty_pb(d), "model.pb", "the file is empty, not a GraphDef"),
    "text renamed model.tflite": (lambda d, m: _text_tflite(d), "model.tflite", "not a TFLite flatbuffer (no 'TFL3' identifier"),
    "truncated .keras": (_cut_keras, "model.keras", "not a Keras 3 .keras archive (a .keras file is a zip"),
    "checkpoint dir missing its .index": (_checkpoint_without_index, "ckpt/model.ckpt",
                                          "checkpoint has no .index file"),
}


@pytest.mark.parametrize("case", list(BROKEN))
@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_broken_model_file_stops_run_before_anything_runs(case: str, command: str, tmp_path: Path, mnist_dir: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    make, named, says = BROKEN[case]
    path = make(tmp_path, mnist_dir)
    monkeypatch.chdir(tmp_path)  # `run` writes results/<run-id> here by default
    _no_worker(monkeypatch)
    assert main([command, str(path)]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"infer-bench: error: {tmp_path / named}: ") and says in line, line
    assert "Traceback" not in captured.err + captured.out
    assert not (tmp_path / "results").exists()  # no run directory, no `latest` link


def test_every_broken_file_of_a_scenario_is_named_on_its_line(tmp_path: Path, mnist_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    pb, tflite, keras = _empty_pb(tmp_path), _text_tflite(tmp_path), _cut_keras(tmp_path, mnist_dir)
    ckpt = _checkpoint_without_index(tmp_path, mnist_dir)
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        "[run]\nout = \"runs\"\n\n"
        "[[models]]\nname = \"a\"\npath = \"model.pb\"\n\n"
        f"[[models]]\nname = \"b\"\nfiles = {{ tflite = \"model.tflite\", keras = \"model.keras\", frozen = \"{mnist_dir / 'frozen.pb'}\" }}\n\n"
        "[[models]]\nname = \"c\"\npath = \"ckpt\"\nformat = \"checkpoint\"\n")
    monkeypatch.chdir(tmp_path)  # the scenario's out is relative to the working directory
    _no_worker(monkeypatch)
    assert main(["run", str(scenario)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line.split(": ", 4)[2:4] for line in err] == [
        [f"{scenario}:6", "models[0].path"], [f"{scenario}:10", "models[1].files.tflite"],
        [f"{scenario}:10", "models[1].files.keras"], [f"{scenario}:14", "models[2].path"]]
    for line, path in zip(err, (pb, tflite, keras, ckpt / "model.ckpt")):
        assert line.split(": ", 4)[4].startswith(f"{path}: "), line
    assert not (tmp_path / "runs").exists()


def _args(command: str, path: Path, out: Path) -> list[str]:
    return {"check": ["check", str(path), "--frozen", str(path)],
            "profile": ["profile", str(path), "--no-peak"],
            "profile-diff": ["profile-diff", str(path), str(path)],
            "capacity": ["capacity", str(path), "--slo-ms", "5", "--out", str(out)],
            "tune": ["tune", str(path), "--slo-ms", "5", "--out", str(out)],
            "convert": ["convert", str(path), "--to", "tflite", "--out", str(out)]}[command]


@pytest.mark.parametrize("command", ["check", "profile", "profile-diff", "capacity", "tune", "convert"])
def test_every_command_that_loads_a_model_checks_its_bytes_first(command: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = _empty_pb(tmp_path)
    _no_worker(monkeypatch)
    assert main(_args(command, path, tmp_path / "out")) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [f"infer-bench: error: {path}: the file is empty, not a GraphDef"]
    assert not (tmp_path / "out").exists()


def test_a_format_given_does_not_skip_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "graph.bin").write_bytes(b"\x0a\x09short")  # a node said to be 9 bytes long, cut after 5
    _no_worker(monkeypatch)
    assert main(["plan", str(tmp_path / "graph.bin"), "--format", "frozen"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"infer-bench: error: {tmp_path / 'graph.bin'}: not a valid GraphDef: its protobuf encoding "
                           "breaks at byte 0 of 7 (field 1 running")
