"""Scenarios, results and process checks shared by the fleet tests."""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from pathlib import Path
from typing import Any

SCENARIO = """\
[run]
repetitions = {repetitions}
timeout = 120
[measure]
warmup_iterations = 2
warmup_time = 0
min_time = {min_time}
min_iterations = 10
ci_target = {ci_target}
max_time = {min_time}
[sweep]
formats = ["tflite"]
batch_sizes = {batch_sizes}
hosts = {hosts}
[sweep.env]
INFER_BENCH_FLEET_MARK = "{mark}"
{models}
"""
ZOO_MODEL = '[[models]]\nzoo = "mnist_cnn"\n'


def file_model(path: Path) -> str:
    return f'[[models]]\nname = "mnist_file"\npath = "{path}"\n'


def write_scenario(tmp_path: Path, hosts: list[str], models: str = ZOO_MODEL, repetitions: int = 1,
                   min_time: float = 0.05, batch_sizes: str = "[1]") -> tuple[Path, str]:
    """A scenario file and its mark: every worker it starts has INFER_BENCH_FLEET_MARK=<mark> in its environment."""
    mark = secrets.token_hex(6)
    ci_target = 0.0001 if min_time > 0.5 else 0.05  # long jobs run to max_time
    text = SCENARIO.format(repetitions=repetitions, min_time=min_time, ci_target=ci_target, batch_sizes=batch_sizes,
                           hosts=json.dumps(hosts), mark=mark, models=models)
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    return path, mark


def records(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(header, cell records) of a run directory."""
    lines = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines() if line.strip()]
    return next(r for r in lines if r["kind"] == "header"), [r for r in lines if r["kind"] == "cell"]


def cells_written(run_dir: Path) -> int:
    """Cell records on disk so far, read while the run writes: the file may have no header yet (it is created
    before the header goes in) or a partial last line."""
    path = run_dir / "results.jsonl"
    count = 0
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            count += json.loads(line).get("kind") == "cell"
        except ValueError:
            continue
    return count


def job_intervals(cells: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """fleet host -> sorted (start, end) of each worker run (a group's repetition) measured there."""
    jobs: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for c in cells:
        jobs[(c["fleet_host"], c["group_id"], c["repetition"])].append(c)
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (host, _, _), cs in jobs.items():
        out[host].append((min(c["started"] for c in cs), max(c["ended"] for c in cs)))
    return {h: sorted(v) for h, v in out.items()}


def workers_with(mark: str) -> list[int]:
    """Pids of live worker processes (python -m bench.worker) started for the scenario with `mark`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"bench.worker" in cmdline and f"INFER_BENCH_FLEET_MARK={mark}".encode() in environ and state != "Z":
            pids.append(int(entry.name))
    return pids


def _parent(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def under_node(pid: int, node_dir: Path) -> bool:
    """The process descends from the Ray node whose directory is `node_dir` (its raylet names it)."""
    for _ in range(6):
        pid = _parent(pid)
        if pid <= 1:
            return False
        if f"{node_dir}/" in _cmdline(pid):
            return True
    return False


def worker_on(mark: str, node_dir: Path) -> bool:
    """A worker of this scenario runs on the Ray node whose directory is `node_dir`."""
    return any(under_node(pid, node_dir) for pid in workers_with(mark))


def no_orphans(mark: str) -> bool:
    return not workers_with(mark)
