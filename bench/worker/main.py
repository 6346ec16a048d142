"""Worker process entry point: `python -m bench.worker --fd N`, task JSON on stdin.

The parent (bench.runner.procs) sets the environment before this process starts, so TensorFlow reads
its start-up variables (TF_USE_LEGACY_KERAS, TF_ENABLE_ONEDNN_OPTS, CUDA_VISIBLE_DEVICES, ...)
as intended. Each task is a function `run(task, emit)`; `emit` sends one JSON message to the
parent over the dedicated pipe and flushes it at once, so a worker that dies later loses nothing
it already reported. A user-facing error (an `infer_core`/`bench` error) is sent as a message
of kind "error" and the worker exits 3; anything else is a crash (traceback on stderr, exit 1).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

from bench.errors import user_errors

Emit = Callable[[dict[str, Any]], None]

# task name -> "module:function"; modules are imported only when their task runs.
TASKS: dict[str, str] = {
    "predict": "bench.worker.tasks:predict",
    "convert": "bench.worker.tasks:convert",
    "zoo_build": "bench.worker.tasks:zoo_build",
    "measure": "bench.worker.measure:run",
    "profile": "bench.worker.profile:profile",
    "coldstart": "bench.worker.profile:coldstart",
    "load_search": "bench.worker.load.task:search",
}

EXIT_USER_ERROR = 3
EXIT_PARENT_GONE = 4
PARENT_PID_ENV = "INFER_BENCH_PARENT_PID"  # set by bench.runner.procs
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent dies (PR_SET_PDEATHSIG).

    The worker runs in its own process group, so nothing else takes it down: a parent killed with
    SIGKILL (a cancelled Ray task, a killed driver) would leave a TensorFlow worker measuring beside
    the next job. The parent may have died before the call: then exit at once."""
    expected = os.environ.get(PARENT_PID_ENV)
    if not expected or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != int(expected):
        os._exit(EXIT_PARENT_GONE)


def make_emit(stream: BinaryIO) -> Emit:
    def emit(message: dict[str, Any]) -> None:
        stream.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        stream.flush()

    return emit


def _resolve(name: str) -> Callable[[dict[str, Any], Emit], None]:
    if name not in TASKS:
        raise SystemExit(f"unknown worker task {name!r}; known: {', '.join(sorted(TASKS))}")
    module, func = TASKS[name].split(":")
    return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.worker")
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args(argv)
    die_with_parent()
    stream = os.fdopen(args.fd, "wb", buffering=0)
    emit = make_emit(stream)
    task = json.loads(sys.stdin.read())
    try:
        _resolve(task["task"])(task, emit)
    except user_errors() as exc:
        emit({"kind": "error", "error_class": type(exc).__name__, "message": str(exc),
              "exit_code": getattr(exc, "exit_code", 2)})
        return EXIT_USER_ERROR
    except Exception:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
