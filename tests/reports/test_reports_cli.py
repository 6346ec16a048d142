"""`infer-bench report`: formats, --out, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import synth

from bench.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.standard_run(tmp_path_factory.mktemp("cli") / "r")


def test_terminal_report_to_stdout(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "Frozen graph vs checkpoint" in out and "\x1b[" not in out  # not a terminal: no colour


def test_format_from_the_out_suffix_and_atomic_write(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "deep" / "report.html"
    assert main(["report", str(run_dir), "--out", str(out), "--slo-ms", "1"]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert f"wrote {out}" in capsys.readouterr().err
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]
    assert main(["report", str(run_dir), "--out", str(tmp_path / "t.parquet")]) == 0
    assert len(pd.read_parquet(tmp_path / "t.parquet")) == 13
    assert main(["report", str(run_dir / "results.jsonl"), "--format", "md", "--baseline-format", "frozen"]) == 0
    assert "## Speedup vs frozen" in capsys.readouterr().out


def test_bad_input_is_one_line_and_exit_2(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("infer-bench: error:") and "no such results file" in err and "\n" not in err
    assert main(["report", str(run_dir), "--format", "parquet"]) == 2
    assert "give --out" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "results.jsonl").write_text("{not json\n{}\n", encoding="utf-8")
    assert main(["report", str(corrupt)]) == 2
    assert "corrupt" in capsys.readouterr().err
    for bad in (["--slo-ms", "-3"], ["--baseline-format", "onnx"], ["--format", "pdf"]):
        with pytest.raises(SystemExit) as exc:
            main(["report", str(run_dir), *bad])
        assert exc.value.code == 2


def test_command_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, bench.cli.report as r, argparse; p = argparse.ArgumentParser(); "
        "r.register(p.add_subparsers()); "
        "heavy = [m for m in ('pandas', 'matplotlib', 'rich', 'tensorflow', 'numpy') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_reports_package_never_imports_tensorflow(run_dir: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from reports.api import render_report; "
        f"render_report([Path({str(run_dir)!r})], 'html'); "
        "bad = [m for m in ('tensorflow', 'infer_core', 'bench') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
