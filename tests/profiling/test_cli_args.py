"""The profile commands' input errors: one line, exit 2, no worker started, no TensorFlow imported."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main

HELP = """
import sys
from bench.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
print("tensorflow imported" if "tensorflow" in sys.modules else "tensorflow not imported", file=sys.stderr)
"""
PROFILING = """
import sys
import reports.profiles, infer_core.profiling, infer_core.profiling.diff
print("tensorflow imported" if "tensorflow" in sys.modules else "tensorflow not imported", file=sys.stderr)
"""


def _cpu_seconds(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """A Python subprocess and the CPU time (user + system) it took: unlike its wall time, hardly moved by other
    processes keeping the machine's cores busy."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done


def test_help_is_fast_and_does_not_import_tensorflow() -> None:
    """`infer-bench --help` leaves TensorFlow unimported, and costs a small part of what importing TensorFlow costs
    on the same machine at the same time: fast, measured against the thing it avoids, not in this machine's
    seconds. The profiling modules the profile commands' errors come from import no TensorFlow either."""
    help_cpu, done = _cpu_seconds("-c", HELP)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: infer-bench" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "tensorflow not imported"
    profiling = subprocess.run([sys.executable, "-c", PROFILING], capture_output=True, text=True, timeout=300)
    assert profiling.returncode == 0, profiling.stderr[-2000:]
    assert profiling.stderr.strip().splitlines()[-1] == "tensorflow not imported"
    tf_cpu, imported = _cpu_seconds("-c", "import tensorflow")
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert help_cpu < tf_cpu / 5, f"--help took {help_cpu:.2f} s of CPU, importing TensorFlow {tf_cpu:.2f} s"


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
