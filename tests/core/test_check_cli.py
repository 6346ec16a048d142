"""`infer-bench check` as a new user types it (issue 15, item 4): several models as positional
arguments; one format alone is not a pass."""

from __future__ import annotations

from pathlib import Path

from tests.core.helpers import cli, one_line_error


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
