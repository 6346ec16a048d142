"""The one way the harness writes a file a user asked for (reports, JSON, traces, pages).

Atomically: a temporary file in the same directory, then a rename, so a reader (a browser, CI, a
second infer-bench) never sees half a file and a killed write leaves the old one in place. The mode
is what the user's umask gives a new file (mkstemp alone would make it 0600: a report is for reading).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.errors import BenchError


class OutputError(BenchError):
    """An output file cannot be written where the user asked."""


def _mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_bytes(path: Path, data: bytes) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, _mode())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write here ({exc.strerror or exc})") from None
        raise
    return path


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))
