"""The results file format: one JSON object per line (JSON Lines), shared by writer and readers.

`bench` writes these records; `reports` reads them. The format lives here, in `reports`, because
dependencies point one way (bench -> reports) and a reader must know exactly what it accepts.

Schema history (bump SCHEMA_VERSION on any incompatible change and say what changed):
  1 - first version: header / parity / cell records as documented below.
  2 - serving load: cells gain the identity field "load_point" and the optional "load" block; new record
      kinds "capacity" and "tune". Version-1 records are migrated on read (`migrate`): load_point "" and
      load None, i.e. a single-stream measurement, so old runs and baselines load and match as before.
  3 - capacity and tune: the min-max over fresh processes is named a range: "capacity" records' "interval" and
      each tune row's "interval" become "range" (a version-2 or older record is renamed on read, `migrate`);
      a capacity record's "estimates" holds one entry per process, None where no rate passed in it. Load blocks
      gain "queries_unfinished" and "unfinished_over_ns" (absent in older records: read as 0 and None).

Record kinds
------------
header  {"schema", "kind": "header", "run_id", "created" (ISO 8601 UTC), "scenario_path",
         "scenario_text", "policy": {...measurement policy...}, "env": {...environment fingerprint...}}
parity  {"schema", "kind": "parity", "run_id", "model", "tolerance": {"rtol", "atol"},
         "pairs": [{"a", "b", "output", "max_abs", "max_rel", "top1_agreement" (float|None),
                    "fp32": bool, "ok": bool, "matched_by": "name"|"position"}],
         "error": str|None}
adaptive {"schema", "kind": "adaptive", "run_id", "rounds", "stopped" ("target" | "time_budget" |
         "max_processes" | ...), "elapsed_s", "target", "min_processes", "max_processes", "time_budget",
         "ratios": [{"label", "pairs", "half_width" (float|None), "reached": bool}]}: appended once an
         adaptive run (`repetitions = "auto"`) stops; says which ratios reached the target and why it ended.
cell    {"schema", "kind": "cell", "run_id", then every field of `CellRecord` below, in its order:
         "cell_id", "group_id", "repetition" (int, 0-based), identity (IDENTITY_FIELDS), "status"
         (STATUSES), "error" (str|None), "exit_code" (int|None), "signal" (int|None), "stderr_tail"
         (str|None), "latencies_ns" (list[int], every timed iteration), "iterations", "stop_reason"
         ("ci_target"|"max_time"|"max_iterations"|None), "load_s", "first_call_s", "warmup_iterations",
         "warmup_s", "throughput" (samples/s from the median, or None), "peak_rss_bytes",
         "gpu_peak_bytes" (int|None), "call_path" (str), "retraces" (int|None), "loadavg_start"
         ([1m, 5m, 15m]|None), "loadavg_end", "started", "ended" (unix seconds), "host",
         "flops_per_sample" (int|None), "profile" (dict|None), "worker" (the worker process's facts:
         pid, Python, TensorFlow version, oneDNN, devices seen, and "runtime_start": {step: seconds} of the
         process's runtime start — "import tensorflow", "import ai_edge_litert", "runtime: first session",
         "runtime: eager context" — paid once before its first model loads, the same on every cell of the
         process and in none of its load_s, load_phases or first_call_s; without it (runs before it was
         recorded) the model the process loaded first has it in its load_s; dict|None), "load_phases"
         (seconds per phase of this model's own load; dict|None), "mode" ("interleaved": the cell's calls alternated round by round
         with the other cells of its worker process at the same batch size, so their samples pair by index;
         "duet": timed in the window it shared with a partner worker (see "duet"); "separate": one variant per
         process, timed alone; None in runs made before it was recorded), "input_shapes"
         ({input name: shape} measured; None before it was recorded), "load_point" (identity: "" = today's single-stream
         measurement, else "single_stream" | "server:QPS" | "concurrency:N" | "offline"), "load" (dict|None, see below),
         "fleet_host" (the cluster host that ran it; None = local), "window_ns" (duet workers: [start, end] of the
         cell's timed loop in ns on the machine's CLOCK_MONOTONIC, one clock for all its processes; None otherwise),
         "duet" (duet workers' cells: {"id" (the duet: the two workers started together), "partners" (the cell ids
         of the partner worker timed in the same window; [] when timed alone), "partner_lost" (the partner's
         process ended before it had measured its cells: this and later cells are timed alone), "lost_ns" (when
         this worker saw it, on CLOCK_MONOTONIC; None)}; None otherwise)}
         "window_ns" and "duet" are optional (runs before them: None); only cells that name each other as
         partners are paired as a duet in reports.
         "fleet_target" (identity) and "fleet_host" are optional: a record without them is local; a run on
         a cluster also has "fleet" in its header ({"address", "targets", "hosts": {name: fingerprint}}).
load     the block of a load cell (bench.worker.load.cell.load_block): "point", "scenario", "target_qps",
         "concurrency", "executor_threads", "samples_per_query" (the cell's batch size), "batching"
         (TF Serving parameters|None), "inter_op_threads" (as enforced), "slo_ms", "percentile", "confidence",
         "duration_s", "achieved_qps", "queries_issued", "queries_completed", "queries_rejected", "queries_unfinished"
         (issued, never completed: each counts as +inf in the percentiles and makes the point invalid),
         "unfinished_over_ns" (the latency every unfinished query is known to exceed|None), "max_waiting",
         "latency_ns" and "issue_delay_ns" ({p50, p90, p99, max}; latency runs from the scheduled arrival, over
         every issued query; None where the percentile falls on an unfinished query, i.e. over unfinished_over_ns),
         "windows" ([{scheduled, completed, mean_ns}]), "valid", "reasons" ([str]), "min_duration_met",
         "min_queries_met", "generator_lagging", "observed_ns" (the observed percentile; None when it falls on an
         unfinished query), "bound_ns" (the early-stopping bound|None), "late", "late_allowed", "slo_met_observed", "slo_met_bound", "stable",
         and for capacity steps "phase" ("search"|"confirm"), "passed", "rule".
capacity {"schema", "kind": "capacity", "run_id", "model", "variant", "slo_ms", "percentile", "rule",
         "capacity_qps" (first search; None when no rate met the SLO), "range" ([min, max] of the processes'
         estimates|None: a range, not a statistical interval), "estimates" ([qps|None per process, the search's
         first; None: no rate passed in that process]), "best_observed_ns", "settings" (load settings), "error"}
tune     {"schema", "kind": "tune", "run_id", "model", "slo_ms", "percentile", "objective", "rows" (ranked
         candidates: settings, "range" (min-max of its processes' estimates), rounds survived), "winner",
         "baseline_qps", "gain",
         "batching_parameters" (TF Serving text|None), "threads" (dict)}
         A field this version does not name is kept as it is (readers ignore it).

A reader skips a torn last line (a parent killed mid-write) and reports it; any other unparsable
line, or a record whose schema is not one of READABLE_VERSIONS, is refused with a message that says what
to do; older readable versions are migrated to SCHEMA_VERSION on read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

from reports.errors import ResultsFileError

SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)

Status = Literal["ok", "failed", "timeout", "crashed", "skipped"]
STATUSES: tuple[Status, ...] = get_args(Status)
FAILED_STATUSES: tuple[Status, ...] = ("failed", "timeout", "crashed")  # a cell that should have been measured

# What makes two cells "the same cell" across runs: used to match cells in reports and compare.
IDENTITY_FIELDS = (
    "model",
    "variant",  # one of VARIANTS (DESIGN.md, Variant names)
    "device",  # "cpu", "gpu:0", ...
    "batch_size",
    "intra_op_threads",  # 0 = TensorFlow's default
    "inter_op_threads",
    "env_toggles",  # canonical string "K=V,K2=V2" ('' when none)
    "affinity",  # canonical string "0-1" or '' when not pinned
    "python",  # interpreter label ('' = the harness's own)
    "call",  # "fastest" (the harness's lowest-overhead path) or "idiomatic" (typical user code); absent = fastest
    "load_point",  # '' = single-stream measurement; "server:50", "concurrency:4", "offline", "single_stream"
    "fleet_target",  # [sweep] hosts: a cluster host, or a host class with distribute ('' = local; absent in old runs)
)
# What an identity field means when a record lacks it (the one home of these defaults: readers, importers, seeds).
IDENTITY_DEFAULTS: dict[str, Any] = {
    "model": "", "variant": "", "device": "cpu", "batch_size": 0, "intra_op_threads": 0, "inter_op_threads": 0,
    "env_toggles": "", "affinity": "", "python": "", "call": "fastest", "load_point": "", "fleet_target": "",
}
# Identity fields added after schema 1: at their defaults they stay out of seeds and imported cell ids, so those do
# not change for cells that do not use them.
LATER_IDENTITY_FIELDS = ("call", "load_point", "fleet_target")


def without_later_defaults(identity: Mapping[str, Any]) -> list[Any]:
    """The identity's values in IDENTITY_FIELDS order, less later fields at their defaults."""
    return [identity.get(k, IDENTITY_DEFAULTS[k]) for k in IDENTITY_FIELDS
            if not (k in LATER_IDENTITY_FIELDS and identity.get(k, IDENTITY_DEFAULTS[k]) == IDENTITY_DEFAULTS[k])]

VARIANTS = (
    "checkpoint",
    "frozen",
    "saved_model",
    "saved_model+xla",
    "keras",
    "keras+xla",
    "tflite",
    "tflite+fp16",
    "tflite+int8dyn",
    "tflite+int8",
)
FP32_VARIANTS = ("checkpoint", "frozen", "saved_model", "saved_model+xla", "keras", "keras+xla", "tflite")


@dataclass
class CellRecord:
    """One cell of one worker process (a repetition): the only way a cell record is built and read.

    Identity comes from the plan (sweep.Cell), measurement fields from the worker; a cell that a
    worker did not finish gets a record all the same, with its status and error.
    """

    cell_id: str
    group_id: str
    repetition: int
    model: str
    variant: str
    device: str = "cpu"
    batch_size: int = 1
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    env_toggles: str = ""
    affinity: str = ""
    python: str = ""
    call: str = "fastest"
    fleet_target: str = ""
    status: Status = "ok"
    error: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    stderr_tail: str | None = None
    latencies_ns: list[int] = field(default_factory=list)
    iterations: int = 0
    stop_reason: str | None = None
    load_s: float | None = None
    first_call_s: float | None = None
    warmup_iterations: int | None = 0
    warmup_s: float | None = None
    throughput: float | None = None
    peak_rss_bytes: int | None = None
    gpu_peak_bytes: int | None = None
    call_path: str = ""
    retraces: int | None = None
    loadavg_start: list[float] | None = None
    loadavg_end: list[float] | None = None
    started: float | None = None
    ended: float | None = None
    host: str | None = None
    flops_per_sample: int | None = None
    profile: dict[str, Any] | None = None
    worker: dict[str, Any] | None = None
    load_phases: dict[str, float] | None = None
    mode: str | None = None  # "interleaved" (calls alternated with the process's other cells) | "duet" | "separate"; None = before v0.2
    input_shapes: dict[str, list[int]] | None = None  # the shapes the cell was measured with, per input
    load_point: str = ""
    load: dict[str, Any] | None = None
    fleet_host: str | None = None
    window_ns: list[int] | None = None  # duet: [start, end] of the timed loop on CLOCK_MONOTONIC
    duet: dict[str, Any] | None = None  # duet: {"id", "partners", "partner_lost", "lost_ns"}
    extra: dict[str, Any] = field(default_factory=dict)  # fields this version does not name, kept as they are

    kind = "cell"

    def identity(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in IDENTITY_FIELDS}

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        extra = body.pop("extra")
        return {"kind": self.kind, **body, **extra}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> CellRecord:
        known = {f.name for f in fields(cls)} - {"extra"}
        extra = {k: v for k, v in record.items() if k not in known and k not in ("kind", "schema", "run_id")}
        return cls(**{k: v for k, v in record.items() if k in known}, extra=extra)


CELL_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CellRecord) if f.name != "extra")


@dataclass
class RunFile:
    """The parsed contents of one results.jsonl."""

    path: Path
    header: dict[str, Any] | None
    cells: list[dict[str, Any]] = field(default_factory=list)
    parity: list[dict[str, Any]] = field(default_factory=list)
    adaptive: list[dict[str, Any]] = field(default_factory=list)  # what ended a `repetitions = "auto"` run
    serving: list[dict[str, Any]] = field(default_factory=list)  # "capacity" and "tune" records
    torn_line: int | None = None  # 1-based number of a skipped, incomplete last line


def jsonable(value: Any) -> Any:
    """`value` with non-finite floats as None (JSON has no NaN) and numpy scalars as Python ones."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return jsonable(value.item())
    return value


def dumps(record: dict[str, Any]) -> str:
    """One record as one line (no trailing newline); stamps the schema version."""
    return json.dumps({"schema": SCHEMA_VERSION, **record}, separators=(",", ":"), allow_nan=False)


def _parse_lines(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any] | None]]:
    lines = text.split("\n")
    last = len(lines) - 1 if lines and lines[-1] == "" else len(lines)
    for number, line in enumerate(lines[:last], start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            is_last = number == last and not text.endswith("\n")
            if is_last:
                yield number, None
                continue
            raise ResultsFileError(f"{path}:{number}: not valid JSON ({exc.msg}); the file is corrupt") from None
        if not isinstance(record, dict):
            raise ResultsFileError(f"{path}:{number}: expected a JSON object per line")
        yield number, record


def migrate(record: dict[str, Any]) -> dict[str, Any]:
    """A record of an older readable version as SCHEMA_VERSION: version 1 cells gain load_point "" and load None;
    versions 1 and 2 name the capacity's and tune rows' min-max "range" (it was "interval")."""
    version = record.get("schema")
    if version == SCHEMA_VERSION or version not in READABLE_VERSIONS:
        return record
    record = {**record, "schema": SCHEMA_VERSION}
    if version == 1 and record.get("kind") == "cell":
        record.setdefault("load_point", "")
        record.setdefault("load", None)
    if record.get("kind") == "capacity" and "interval" in record:
        record["range"] = record.pop("interval")
    if record.get("kind") == "tune":
        record["rows"] = [_renamed(row) for row in record.get("rows") or []]
        if isinstance(record.get("winner"), dict):
            record["winner"] = _renamed(record["winner"])
    return record


def _renamed(row: Any) -> Any:
    """A tune row with its "interval" (a min-max) as "range"."""
    if not isinstance(row, dict) or "interval" not in row:
        return row
    out = {k: v for k, v in row.items() if k != "interval"}
    out["range"] = row["interval"]
    return out


def _check_version(path: Path, number: int, record: dict[str, Any]) -> None:
    version = record.get("schema")
    if version not in READABLE_VERSIONS:
        raise ResultsFileError(
            f"{path}:{number}: results schema version {version!r}, this infer-bench reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}; re-run the benchmark with this version, or read it with the "
            f"infer-bench version that wrote it"
        )


def read_run_file(path: Path) -> RunFile:
    """Parse a results.jsonl; refuses unknown schema versions, tolerates a torn last line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such results file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsFileError(f"{path}: cannot read results file ({exc})") from None
    run = RunFile(path=path, header=None)
    for number, record in _parse_lines(path, text):
        if record is None:
            run.torn_line = number
            continue
        _check_version(path, number, record)
        record = migrate(record)
        kind = record.get("kind")
        if kind == "header":
            run.header = record
        elif kind == "cell":
            run.cells.append(record)
        elif kind == "parity":
            run.parity.append(record)
        elif kind == "adaptive":
            run.adaptive.append(record)
        elif kind in ("capacity", "tune"):
            run.serving.append(record)
        else:
            raise ResultsFileError(f"{path}:{number}: unknown record kind {kind!r}")
    return run


def resolve_results_path(path: Path) -> Path:
    """Accept a run directory or the results.jsonl inside it."""
    if path.is_dir():
        path = path / "results.jsonl"
    if not path.exists():
        raise ResultsFileError(f"{path}: no such results file (give a run directory or its results.jsonl)")
    return path
