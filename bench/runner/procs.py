"""The one process boundary: start a worker, stream its messages, contain whatever happens to it.

The parent never imports TensorFlow. It builds the worker's full command line and environment
(set before TensorFlow starts), hands the task over stdin as JSON, and reads JSON-lines messages
from a dedicated pipe (TensorFlow writes freely to stdout/stderr, so those go to a log file whose
tail is kept). It waits on the pipe with a deadline — never busy-waits next to the process being
measured — and on expiry kills the worker's whole process group. The worker runs in its own process
group and dies with its parent (PR_SET_PDEATHSIG, set by the worker at start), so a parent killed
outright — a cancelled cluster task, a killed driver — leaves no worker behind.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STDERR_TAIL_CHARS = 4000

Message = dict[str, Any]


@dataclass(frozen=True)
class WorkerSpec:
    """Everything fixed at a worker's start-up."""

    task: Mapping[str, Any]
    env: Mapping[str, str] = field(default_factory=dict)
    python: str = sys.executable
    timeout_s: float = 600.0
    affinity: tuple[int, ...] = ()


@dataclass
class WorkerOutcome:
    messages: list[Message]
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    timed_out: bool
    stderr_tail: str
    interrupted: bool = False

    @property
    def clean(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def describe(self) -> str:
        """How the worker ended, in words (for records and error messages)."""
        if self.interrupted:
            return "interrupted by the user"
        if self.timed_out:
            return "timed out and was killed"
        if self.signal is not None:
            name = signal.Signals(self.signal).name if self.signal in signal.Signals._value2member_map_ else self.signal
            hint = " (the kernel's OOM killer sends SIGKILL)" if self.signal == signal.SIGKILL else ""
            return f"killed by signal {name}{hint}"
        return f"exited with code {self.exit_code}"


def worker_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The worker's environment: ours, quiet TensorFlow logs, the harness importable, plus `extra`."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["INFER_BENCH_PARENT_PID"] = str(os.getpid())  # the worker dies with us (bench.worker.main.die_with_parent)
    env.update(extra)
    return env


def _command(spec: WorkerSpec, fd: int) -> list[str]:
    cmd = [spec.python, "-m", "bench.worker", "--fd", str(fd)]
    if spec.affinity:
        cmd = ["taskset", "-c", ",".join(str(c) for c in spec.affinity), *cmd]
    return cmd


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_messages(
    proc: subprocess.Popen[bytes], rfd: int, deadline: float, on_message: Callable[[Message], None] | None
) -> tuple[list[Message], bool]:
    """Read JSON lines from the pipe until EOF or the deadline; returns (messages, timed_out)."""
    messages: list[Message] = []
    buffer = b""
    with selectors.DefaultSelector() as sel:
        sel.register(rfd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return messages, True
            if not sel.select(timeout=min(remaining, 1.0)):
                continue
            chunk = os.read(rfd, 1 << 16)
            if not chunk:
                return messages, False
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    message = json.loads(line)
                    messages.append(message)
                    if on_message is not None:
                        on_message(message)


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - STDERR_TAIL_CHARS))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def run_worker(spec: WorkerSpec, on_message: Callable[[Message], None] | None = None) -> WorkerOutcome:
    """Run one worker to the end (or the deadline); every message it sent is returned and streamed."""
    rfd, wfd = os.pipe()
    log = tempfile.NamedTemporaryFile(prefix="infer-bench-worker-", suffix=".log", delete=False)
    log_path = Path(log.name)
    interrupted = False
    try:
        proc = subprocess.Popen(
            _command(spec, wfd),
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=worker_env(spec.env),
            pass_fds=(wfd,),
            start_new_session=True,
            cwd=os.getcwd(),
        )
        os.close(wfd)
        wfd = -1
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(dict(spec.task)).encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        deadline = time.monotonic() + spec.timeout_s
        try:
            messages, timed_out = _read_messages(proc, rfd, deadline, on_message)
        except KeyboardInterrupt:
            interrupted, messages, timed_out = True, [], False
        if timed_out or interrupted:
            _kill_group(proc)
        try:
            returncode = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            returncode, timed_out = proc.wait(), True
        except KeyboardInterrupt:  # Ctrl-C after the pipe closed: still take the worker down
            _kill_group(proc)
            proc.wait()
            raise
        if interrupted:
            raise KeyboardInterrupt
        return WorkerOutcome(
            messages=messages,
            exit_code=returncode if returncode >= 0 else None,
            signal=-returncode if returncode < 0 else None,
            timed_out=timed_out,
            stderr_tail=_tail(log_path),
        )
    finally:
        os.close(rfd)
        if wfd >= 0:
            os.close(wfd)
        log.close()
        log_path.unlink(missing_ok=True)
