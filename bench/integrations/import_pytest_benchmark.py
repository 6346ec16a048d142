"""pytest-benchmark JSON -> a results run that `report` and `compare` read.

pytest-benchmark times code inside the pytest process, so one JSON file is one process: importing
N files (N pytest sessions of the same tests) gives N repetitions of each benchmark, which is what
compare's rank test needs (at least 3 per side; fewer and only a 2x change is called).

Raw timings are needed: pytest-benchmark writes them (`stats.data`, seconds per call, one value per
round, each the mean over that round's iterations) always with `--benchmark-json FILE`, and with
`--benchmark-save`/`--benchmark-autosave` only when `--benchmark-save-data` is added. The summary
statistics alone (min/median/mean/...) cannot give a bootstrap interval or a per-process value of
p90/p99, so a file without them is refused with a message that says how to get them.

Identity: a benchmark made by infer-bench's pytest plugin carries its cell identity in
`extra_info["infer_bench"]`; any other benchmark becomes model=<its full test name>, variant "",
device "cpu", batch size `extra_info["batch_size"]` or 1.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.errors import ImportFileError
from reports.schema import IDENTITY_DEFAULTS, IDENTITY_FIELDS, CellRecord, without_later_defaults

SOURCE = "pytest-benchmark"
PLUGIN_KEY = "infer_bench"


def read_document(path: Path) -> dict[str, Any]:
    """Parse one pytest-benchmark JSON file and check its shape."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFileError(f"{path}: not a pytest-benchmark JSON file ({exc})") from None
    benchmarks = document.get("benchmarks") if isinstance(document, dict) else None
    if not isinstance(benchmarks, list):
        raise ImportFileError(f"{path}: no \"benchmarks\" list; write it with pytest --benchmark-json {path.name}")
    if not benchmarks:
        raise ImportFileError(f"{path}: no benchmarks in the file (were the tests run with --benchmark-skip?)")
    check_raw_data(path, benchmarks)
    return dict(document)


def check_raw_data(path: Path | str, benchmarks: Sequence[Mapping[str, Any]]) -> None:
    """Refuse benchmarks without raw timings, naming them and the flag that keeps them."""
    lacking = [str(b.get("fullname") or b.get("name")) for b in benchmarks if not _data_of(b)]
    if lacking:
        shown = ", ".join(lacking[:3]) + (f" and {len(lacking) - 3} more" if len(lacking) > 3 else "")
        raise ImportFileError(
            f"{path}: {len(lacking)} of {len(benchmarks)} benchmarks have no raw timings (stats.data): {shown}; "
            "only summary statistics are there, which give no per-process values or intervals. "
            "Write the file with pytest --benchmark-json FILE (always keeps them), or add "
            "--benchmark-save-data to --benchmark-save/--benchmark-autosave"
        )


def _data_of(benchmark: Mapping[str, Any]) -> list[float]:
    stats = benchmark.get("stats")
    data = stats.get("data") if isinstance(stats, Mapping) else None
    return list(data) if isinstance(data, list) else []


def identity(benchmark: Mapping[str, Any]) -> dict[str, Any]:
    """The cell identity of one benchmark (see the module docstring)."""
    extra = benchmark.get("extra_info") or {}
    own = extra.get(PLUGIN_KEY)
    if isinstance(own, Mapping):
        return {name: own.get(name, _DEFAULTS.get(name, "")) for name in IDENTITY_FIELDS}
    out = dict(_DEFAULTS)
    out["model"] = str(benchmark.get("fullname") or benchmark.get("name") or "?")
    out["batch_size"] = int(extra.get("batch_size") or 1)
    return out


_DEFAULTS: dict[str, Any] = {**IDENTITY_DEFAULTS, "batch_size": 1}  # a pytest-benchmark call is one sample


def _cell_id(ident: Mapping[str, Any]) -> str:
    text = json.dumps(without_later_defaults(ident), default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _timestamp(document: Mapping[str, Any]) -> float | None:
    try:
        return _dt.datetime.fromisoformat(str(document.get("datetime"))).timestamp()
    except ValueError:
        return None


def cell_record(benchmark: Mapping[str, Any], repetition: int, host: str, started: float | None) -> dict[str, Any]:
    """One results cell record from one pytest-benchmark benchmark entry (with raw data)."""
    ident = identity(benchmark)
    data = _data_of(benchmark)
    stats = benchmark.get("stats") or {}
    rounds_iterations = int(stats.get("iterations") or 1)
    latencies = [int(round(float(x) * 1e9)) for x in data]
    median = sorted(latencies)[len(latencies) // 2]
    extra = benchmark.get("extra_info") or {}
    found = extra.get(PLUGIN_KEY)
    own: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    return CellRecord(
        cell_id=_cell_id(ident), group_id=f"{SOURCE}:{ident['model']}", repetition=repetition, **ident,
        exit_code=0, latencies_ns=latencies, iterations=len(latencies),
        load_s=own.get("load_s"), first_call_s=own.get("first_call_s"), warmup_iterations=own.get("warmup_iterations"),
        throughput=ident["batch_size"] * 1e9 / median if median > 0 else None,
        call_path=own.get("call_path") or f"{SOURCE} (mean of {rounds_iterations} call(s) per round)",
        started=started, ended=started, host=host,
    ).to_json()


def header_record(documents: Sequence[tuple[str, Mapping[str, Any]]], run_id: str) -> dict[str, Any]:
    """The run header: the first file's machine and commit as the environment fingerprint."""
    machine = documents[0][1].get("machine_info") or {}
    commit = documents[0][1].get("commit_info") or {}
    cpu = machine.get("cpu") or {}
    env = {
        "host": str(machine.get("node") or "unknown-host"),
        "os": f"{machine.get('system', '')} {machine.get('release', '')}".strip(),
        "cpu": {"model": cpu.get("brand_raw") or machine.get("processor"), "logical_cores": cpu.get("count")},
        "python": machine.get("python_version"),
        "python_implementation": machine.get("python_implementation"),
        "git": {"commit": commit.get("id"), "dirty": commit.get("dirty")},
        "imported_from": SOURCE,
    }
    return {
        "kind": "header", "run_id": run_id,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "scenario_path": None, "scenario_text": "",
        "policy": {"source": SOURCE, "files": [name for name, _ in documents],
                   "pytest_benchmark_version": documents[0][1].get("version")},
        "env": env,
    }


def to_records(documents: Sequence[tuple[str, Mapping[str, Any]]], run_id: str) -> list[dict[str, Any]]:
    """Header + one cell record per benchmark per file (file i = repetition i). Pure."""
    records = [header_record(documents, run_id)]
    for repetition, (_, document) in enumerate(documents):
        host = str((document.get("machine_info") or {}).get("node") or "unknown-host")
        started = _timestamp(document)
        for benchmark in document["benchmarks"]:
            records.append(cell_record(benchmark, repetition, host, started))
    return records


def import_files(paths: Sequence[Path], out_dir: Path) -> tuple[Path, int, int]:
    """Read the JSON files, write out_dir/results.jsonl; returns (path, cells, repetitions)."""
    from bench.results.store import RunStore, new_run_id

    documents = [(str(p), read_document(Path(p))) for p in paths]
    run_id = new_run_id()
    records = to_records(documents, run_id)
    with RunStore.create(out_dir, run_id) as store:
        for record in records:
            store.append(record)
    cells = len({r["cell_id"] for r in records if r["kind"] == "cell"})
    return store.path, cells, len(documents)
