"""Helpers for core tests: run the CLI or a Python snippet in a real subprocess (TensorFlow never
loads in the pytest process, so Keras 3 and tf-keras tests can sit side by side)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def env(legacy: bool = False, **extra: str) -> dict[str, str]:
    e = dict(os.environ)
    e.update({"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1",
              "TF_USE_LEGACY_KERAS": "1" if legacy else "0",
              "PYTHONPATH": os.pathsep.join([str(ROOT), e.get("PYTHONPATH", "")])})
    e.update(extra)
    return e


def cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`infer-bench ARGS` in a subprocess, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env(), timeout=timeout)


def snippet(code: str, legacy: bool = False, cwd: Path | None = None, timeout: float = 600) -> Any:
    """Run Python `code` in a fresh interpreter; it prints one JSON value on its last stdout line."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env(legacy), timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"snippet failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """Assert the CLI failed like a user-facing error: exit 2, one line on stderr, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("infer-bench: error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    return lines[0]


def graph_of_an_unknown_op(path: Path) -> Path:
    """A well-formed GraphDef of one node whose op TensorFlow lacks: the parent's preflight passes it, and it fails
    only in a worker, when TensorFlow imports the graph (a model error found after the worker started)."""
    node = b"\x0a\x01x" + b"\x12\x08NoSuchOp"  # NodeDef: 1 = name "x", 2 = op "NoSuchOp"
    path.write_bytes(b"\x0a" + bytes([len(node)]) + node)  # GraphDef: 1 = node
    return path
