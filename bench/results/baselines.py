"""Named baselines: copies of results files kept under a directory, checked when read.

Layout (BASELINE_FORMAT 1), default root `.infer-bench/baselines/` (or $INFER_BENCH_BASELINES,
or --baselines-dir):

    <root>/<name>/baseline.json     {"format", "name", "created", "sources", "files",
                                      "sha256": {file: hex}, "run_ids", "cells", "processes"}
    <root>/<name>/results-<i>.jsonl  byte-for-byte copies of the saved results files

Format history: 1 - first version.

A baseline is written into a temporary directory and renamed into place, so a killed save leaves
no half baseline. Reading one checks the format version, that every file is there, its checksum,
and that each parses as a results file: a missing or corrupt baseline raises BaselineError (exit 2)
and is never taken as "nothing to compare", which would pass a gate.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BaselineError
from reports.errors import ResultsFileError
from reports.schema import read_run_file, resolve_results_path

BASELINE_FORMAT = 1
META = "baseline.json"
DEFAULT_ROOT = Path(".infer-bench") / "baselines"
ENV_VAR = "INFER_BENCH_BASELINES"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Baseline:
    name: str
    path: Path
    meta: dict[str, Any]

    @property
    def files(self) -> list[Path]:
        return [self.path / f for f in self.meta["files"]]


def baselines_root(override: Path | str | None = None) -> Path:
    """--baselines-dir, else $INFER_BENCH_BASELINES, else .infer-bench/baselines (under the cwd)."""
    if override:
        return Path(override)
    return Path(os.environ.get(ENV_VAR) or DEFAULT_ROOT)


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise BaselineError(
            f"baseline name {name!r} is not allowed: use letters, digits, '.', '_' or '-' "
            "(at most 100, starting with a letter or digit)"
        )
    return name


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _summary(files: list[Path]) -> dict[str, Any]:
    """Run ids and counts of the results files; raises ResultsFileError on a bad file."""
    runs = [read_run_file(f) for f in files]
    run_ids = sorted({str((r.header or {}).get("run_id") or "") for r in runs} - {""})
    identities = {(c.get("model"), c.get("variant"), c.get("device"), c.get("batch_size")) for r in runs for c in r.cells}
    return {"run_ids": run_ids, "cells": len(identities), "processes": sum(len(r.cells) for r in runs)}


def save(run_paths: list[Path], name: str, root: Path, force: bool = False) -> Baseline:
    """Copy the results of one or more runs into a new baseline called `name`."""
    check_name(name)
    sources = [resolve_results_path(Path(p)) for p in run_paths]
    summary = _summary(sources)
    if summary["processes"] == 0:
        raise BaselineError(f"{', '.join(map(str, sources))}: no cell records; nothing to keep as a baseline")
    target = root / name
    if target.exists() and not force:
        raise BaselineError(f"baseline {name!r} already exists in {root}; pass --force to replace it")
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        meta = _write_files(staging, name, sources, summary)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Baseline(name, target, meta)


def _write_files(staging: Path, name: str, sources: list[Path], summary: dict[str, Any]) -> dict[str, Any]:
    files = []
    for i, source in enumerate(sources):
        copy = staging / f"results-{i}.jsonl"
        shutil.copyfile(source, copy)
        files.append(copy.name)
    meta = {
        "format": BASELINE_FORMAT,
        "name": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sources": [str(s) for s in sources],
        "files": files,
        "sha256": {f: _sha256(staging / f) for f in files},
        **summary,
    }
    with (staging / META).open("w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    return meta


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename the finished staging directory to the target, replacing an old baseline."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def load(name: str, root: Path) -> Baseline:
    """A saved baseline, checked: format version, files present, checksums, parsable results."""
    check_name(name)
    path = root / name
    if not path.is_dir():
        known = ", ".join(b for b in names(root)) or "none"
        raise BaselineError(f"no baseline {name!r} in {root} (saved baselines: {known}); "
                            f"save one with: infer-bench baseline save RUN_DIR --name {name}")
    meta = _read_meta(path)
    baseline = Baseline(name, path, meta)
    for file in baseline.files:
        _check_file(baseline, file)
    return baseline


def _read_meta(path: Path) -> dict[str, Any]:
    where = path / META
    try:
        meta = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{where}: missing; the baseline is corrupt, save it again") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"{where}: unreadable ({exc}); the baseline is corrupt, save it again") from None
    if not isinstance(meta, dict) or meta.get("format") != BASELINE_FORMAT:
        version = meta.get("format") if isinstance(meta, dict) else None
        raise BaselineError(f"{where}: baseline format {version!r}, this infer-bench reads format "
                            f"{BASELINE_FORMAT}; save the baseline again with this version")
    files = meta.get("files")
    if not isinstance(files, list) or not files or not isinstance(meta.get("sha256"), dict):
        raise BaselineError(f"{where}: no list of results files; the baseline is corrupt, save it again")
    return meta


def _check_file(baseline: Baseline, file: Path) -> None:
    if not file.is_file():
        raise BaselineError(f"{file}: missing from baseline {baseline.name!r}; save the baseline again")
    if _sha256(file) != baseline.meta["sha256"].get(file.name):
        raise BaselineError(f"{file}: checksum differs from when baseline {baseline.name!r} was saved "
                            "(the file was changed or truncated); save the baseline again")
    try:
        read_run_file(file)
    except ResultsFileError as exc:
        raise BaselineError(f"baseline {baseline.name!r} is corrupt: {exc}") from None


def names(root: Path) -> list[str]:
    """Names of the directories under root that look like baselines (not staging leftovers)."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_all(root: Path) -> list[tuple[str, Baseline | None, str]]:
    """Every baseline under root: (name, the baseline or None, the problem when it is corrupt)."""
    out: list[tuple[str, Baseline | None, str]] = []
    for name in names(root):
        try:
            out.append((name, load(name, root), ""))
        except BaselineError as exc:
            out.append((name, None, str(exc)))
    return out
