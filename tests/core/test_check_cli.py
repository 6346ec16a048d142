"""`infer-bench check` as a new user types it (issue 15, item 4): several models as positional
arguments; one format alone is not a pass."""

from __future__ import annotations

from pathlib import Path

from tests.core.helpers import cli, graph_of_an_unknown_op, one_line_error


def test_several_positional_models_are_compared(mnist_dir: Path) -> None:
    proc = cli("check", str(mnist_dir / "frozen.pb"), str(mnist_dir / "saved_model"), str(mnist_dir / "model.tflite"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "all fp32 formats agree (3 formats)" in proc.stdout
    for pair in ("frozen │ saved_model", "frozen │ tflite", "saved_model │ tflite"):
        assert pair in proc.stdout.replace("  ", " ").replace("  ", " ").replace("  ", " "), proc.stdout


def test_one_format_is_nothing_to_compare(mnist_dir: Path) -> None:
    """It loads and predicts, and says so; but a check on one format compares nothing: exit 2, never a pass."""
    proc = cli("check", str(mnist_dir / "frozen.pb"))
    line = one_line_error(proc)
    assert "frozen loads and predicts; nothing to compare it with" in line
    assert "agree" not in proc.stdout and "output parity" not in proc.stdout  # no empty table


def test_format_with_several_models_is_refused(mnist_dir: Path) -> None:
    line = one_line_error(cli("check", str(mnist_dir / "frozen.pb"), str(mnist_dir / "model.tflite"), "--format", "frozen"))
    assert "--format applies to one MODEL" in line


def test_when_the_first_worker_fails_the_others_still_compare(tmp_path: Path, mnist_dir: Path) -> None:
    """Parity workers start side by side and wait for the first one's inputs; when it fails before
    writing them, the others are run again in turn, the next one writing the inputs. The failing model is
    well-formed, so the parent's preflight passes it and its worker is the one to fail."""
    bad = graph_of_an_unknown_op(tmp_path / "unknown_op.pb")
    proc = cli("check", str(bad), str(mnist_dir / "saved_model"), str(mnist_dir / "model.tflite"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "infer-bench: error: frozen: " in proc.stderr and "unknown_op.pb" in proc.stderr and "NoSuchOp" in proc.stderr
    row = next(line for line in proc.stdout.splitlines() if "saved_model" in line and "tflite" in line)
    assert "agree" in row
