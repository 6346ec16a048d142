"""The profile commands' input errors: one line, exit 2, no worker started, no TensorFlow imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main


def test_help_is_fast_and_does_not_import_tensorflow() -> None:
    code = ("import sys; from bench.cli import build_parser; build_parser(); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; "
            "import reports.profiles, infer_core.profiling, infer_core.profiling.diff; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported by profiling'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("argv", [
    ["profile", "{tmp}/missing.pb"],
    ["profile", "{tmp}/model.xyz"],
    ["profile-diff", "{tmp}/missing.pb", "{tmp}/model.xyz"],
    ["profile", "{tmp}/model.xyz", "--format", "onnx"],
    ["profile", "{tmp}/missing.pb", "--shape", "x=1xq"],
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model.xyz").write_text("not a model")
    code = main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("infer-bench: error: ") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("flag", ["--batch", "--runs"])
def test_non_positive_counts_are_usage_errors(flag: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["profile", "x.pb", flag, "0"])
    assert exc.value.code == 2
