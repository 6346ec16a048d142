"""Relative checkpoint paths (a directory, a prefix, a `.meta` file) work in every command, from any directory.

`tf.train.get_checkpoint_state("models/ck")` already answers `models/ck/model.ckpt`; joining the
directory onto it again made every relative checkpoint directory "no such checkpoint directory".
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    """work/models/mnist/{checkpoint/, frozen.pb} and an empty work/elsewhere to run from."""
    root = tmp_path_factory.mktemp("rel")
    models = root / "models" / "mnist"
    shutil.copytree(mnist_dir / "checkpoint", models / "checkpoint")
    shutil.copy(mnist_dir / "frozen.pb", models / "frozen.pb")
    (root / "elsewhere").mkdir()
    return root


def test_check_with_a_relative_checkpoint_directory(tree: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tree)
    assert main(["check", "models/mnist/checkpoint", "--frozen", "models/mnist/frozen.pb"]) == 0
    assert "agree" in capsys.readouterr().out


def test_check_prefix_and_meta_from_another_directory(tree: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tree / "elsewhere")
    assert main(["check", "../models/mnist/checkpoint/model.ckpt.meta",
                 "--checkpoint", "../models/mnist/checkpoint/model.ckpt",
                 "--frozen", "../models/mnist/frozen.pb"]) == 0
    out = capsys.readouterr().out
    assert out.count("agree") >= 3  # three pairs: .meta route, prefix route, frozen


def test_convert_and_profile_a_relative_checkpoint_directory(tree: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tree / "elsewhere")
    assert main(["convert", "../models/mnist/checkpoint", "--to", "frozen", "--out", "again.pb"]) == 0
    assert (tree / "elsewhere" / "again.pb").stat().st_size > 1000
    assert main(["profile", "../models/mnist/checkpoint", "--runs", "1", "--no-peak", "--top", "3"]) == 0
    assert "Conv2D" in capsys.readouterr().out


def test_a_scenario_names_a_relative_checkpoint_directory(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenario paths are relative to the scenario file; the run is started from another directory."""
    (tree / "s.toml").write_text(
        "[measure]\nwarmup_iterations = 2\nwarmup_time = 0.01\nmin_time = 0.05\nmin_iterations = 5\nmax_time = 60\n"
        "max_iterations = 5\n[sweep]\nbatch_sizes = [1]\ndevices = [\"cpu\"]\n"
        "[[models]]\nname = \"m\"\nfiles = {checkpoint = \"models/mnist/checkpoint\", frozen = \"models/mnist/frozen.pb\"}\n")
    monkeypatch.chdir(tree / "elsewhere")
    assert main(["run", "../s.toml", "--out", "run", "--no-report"]) == 0
    from reports.schema import read_run_file

    run = read_run_file(tree / "elsewhere" / "run" / "results.jsonl")
    assert sorted((c["variant"], c["status"]) for c in run.cells) == [("checkpoint", "ok"), ("frozen", "ok")]
    assert run.parity and not run.parity[0].get("error")


def test_only_the_error_when_nothing_is_left_to_compare(tree: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tree / "elsewhere")
    assert main(["check", "../models/mnist/checkpoint", "--frozen", "missing.pb"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "missing.pb" in captured.err
