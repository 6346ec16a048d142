"""`infer-bench run [FILE]`: validate, export zoo models, check parity, measure, report.

With no FILE: the built-in sweep (mnist_cnn in the five base formats, batch sizes 1, 8, 32, 128,
every device present). Heavy imports (rich, the reports) happen inside `main`, so `--help` is fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.scenario import ModelEntry, Overrides, Scenario
    from bench.store import ResumeInfo, RunStore
    from bench.sweep import Expansion, Job

QUICK_HELP = "smoke-run preset: batch sizes 1 and 8, warmup 0.1 s, min_time 0.2 s, max_time 1 s"
FAILED = ("failed", "crashed", "timeout")


def add_sweep_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by `run` and `plan`: they override the scenario file."""
    p.add_argument("scenario", nargs="?", type=Path, metavar="FILE",
                   help="scenario TOML (default: the built-in mnist_cnn sweep)")
    p.add_argument("--quick", action="store_true", help=QUICK_HELP)
    p.add_argument("--formats", metavar="LIST", help="comma-separated formats/variants, e.g. frozen,tflite+int8")
    p.add_argument("--batch-sizes", metavar="LIST", help="comma-separated batch sizes, e.g. 1,8,32")
    p.add_argument("--devices", metavar="LIST", help="comma-separated devices: cpu, gpu, gpu:1")
    p.add_argument("--repetitions", type=int, metavar="N", help="fresh worker processes per group (interleaved)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run", help="measure a scenario (default: built-in mnist_cnn sweep) in isolated workers",
        description="Measure every cell of a scenario, one fresh worker process per group, and write "
        "results/<run-id>/results.jsonl (results/latest points at it), report.md and report.html. "
        f"--quick: {QUICK_HELP}.",
    )
    add_sweep_flags(p)
    p.add_argument("--out", type=Path, metavar="DIR", help="run directory (default: <scenario out>/<run-id>)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="finish an interrupted run: only unfinished cells")
    p.add_argument("--no-report", action="store_true", help="skip report.md / report.html and the summary table")
    p.set_defaults(func=main)


# ------------------------------------------------------------------ scenario and overrides


def overrides_from(args: argparse.Namespace) -> Overrides:
    from bench.errors import ScenarioError
    from bench.scenario import Overrides, parse_batch_sizes_flag, parse_devices_flag, parse_formats_flag

    if args.repetitions is not None and args.repetitions < 1:
        raise ScenarioError(f"--repetitions: must be at least 1, got {args.repetitions}")
    return Overrides(
        quick=args.quick,
        formats=parse_formats_flag(args.formats) if args.formats else (),
        batch_sizes=parse_batch_sizes_flag(args.batch_sizes) if args.batch_sizes else (),
        devices=parse_devices_flag(args.devices) if args.devices else (),
        repetitions=args.repetitions,
    )


def present_devices() -> tuple[str, ...]:
    from infer_core.devices import gpu_hint

    return ("cpu", "gpu:0") if gpu_hint() else ("cpu",)


def load_scenario(path: Path | None, overrides: Overrides, devices_if_default: bool = True) -> Scenario:
    from bench import scenario

    if path is not None:
        base = scenario.load(path)
    else:
        base = scenario.default(present_devices() if devices_if_default and not overrides.devices else ("cpu",))
    return scenario.apply_overrides(base, overrides)


def expand_checked(s: Scenario) -> Expansion:
    from bench.errors import ScenarioError
    from bench.sweep import expand

    e = expand(s)
    if not e.cells:
        raise ScenarioError(f"{s.path or 'the built-in scenario'}: nothing to run: every cell is excluded or has no model file")
    return e


# ------------------------------------------------------------------ the run directory


def open_new(args: argparse.Namespace, s: Scenario, overrides: Overrides, e: Expansion) -> RunStore:
    from bench import fingerprint
    from bench.store import RunStore, new_run_id, update_latest

    run_id = new_run_id()
    run_dir = args.out if args.out is not None else Path(s.run.out) / run_id
    store = RunStore.create(run_dir, run_id)
    update_latest(run_dir)
    pythons = [s.python_paths.get(label, sys.executable) if label else sys.executable for label in s.sweep.python]
    store.append({
        "kind": "header", "created": _now(), "scenario_path": s.path, "scenario_text": s.text,
        "policy": s.policy.to_json(), "env": fingerprint.collect(pythons), "overrides": overrides.to_json(),
        "plan": {"cells": len(e.cells), "groups": len(e.groups), "repetitions": s.run.repetitions},
    })
    return store


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def open_resumed(args: argparse.Namespace) -> tuple[RunStore, ResumeInfo, Scenario, Overrides]:
    """Reopen a run; its scenario comes from the header (or FILE) and its stored overrides."""
    from bench import scenario
    from bench.store import RunStore

    store, info = RunStore.resume(args.resume)
    header = info.run.header or {}
    overrides = scenario.Overrides.from_json(header.get("overrides") or {})
    if args.scenario is not None:
        base = scenario.load(args.scenario)
    else:
        path = str(header.get("scenario_path") or "")
        base = scenario.parse(str(header.get("scenario_text", "")), path, Path(path).parent if path else Path.cwd())
    return store, info, scenario.apply_overrides(base, overrides), overrides


# ------------------------------------------------------------------ zoo exports and parity


def export_zoo(s: Scenario, e: Expansion, say: Any) -> dict[str, Path]:
    from bench.zoo_export import ensure_exported

    used = {c.key.model for c in e.cells}
    dirs: dict[str, Path] = {}
    for m in s.models:
        if m.zoo is not None and m.name in used:
            say(f"preparing zoo model {m.zoo} (exported once, then cached)")
            dirs[m.zoo] = ensure_exported(m.zoo)
    return dirs


def model_parity(m: ModelEntry, variants: list[str], model_dirs: dict[str, Path]) -> dict[str, Any]:
    """The same inputs through each variant (on the CPU, in workers), outputs compared pairwise."""
    from bench.parity import Entry, parity_record, predict_all
    from bench.runner import model_spec
    from bench.sweep import GroupKey

    zoo_dir = model_dirs.get(m.zoo or "")
    entries = [Entry(v, model_spec(m.resolved(), GroupKey(m.name, v, "cpu"), zoo_dir)) for v in variants]
    inputs = Path(m.inputs_file) if m.inputs_file else None
    return parity_record(m.name, predict_all(entries, seed=0, inputs_file=inputs))


def parity_records(s: Scenario, e: Expansion, model_dirs: dict[str, Path], skip: frozenset[str], say: Any) -> list[dict[str, Any]]:
    """One parity record per model with two or more fp32 formats in the sweep."""
    from bench.errors import BenchError
    from infer_core.errors import InferCoreError
    from reports.schema import FP32_VARIANTS

    records = []
    for m in s.models:
        variants = sorted({c.key.variant for c in e.cells if c.key.model == m.name} & set(FP32_VARIANTS), key=FP32_VARIANTS.index)
        if m.name in skip or len(variants) < 2:
            continue
        say(f"checking output parity of {m.name}: {', '.join(variants)}")
        try:
            body = model_parity(m, variants, model_dirs)
        except (BenchError, InferCoreError) as exc:
            body = {"tolerance": None, "pairs": [], "error": str(exc)}
        records.append({**body, "kind": "parity", "model": m.name})
    return records


# ------------------------------------------------------------------ reports


def write_reports(run_dir: Path, say: Any) -> str | None:
    """report.md, report.html and the terminal summary; None when the reports cannot be made."""
    try:
        from reports.api import render_reports
        from reports.errors import ReportsError
    except ImportError as exc:
        say(f"report not written: reports are not available ({exc})")
        return None
    try:
        out = render_reports([run_dir], ["md", "html", "term"], color=sys.stdout.isatty())  # one aggregation
        (run_dir / "report.md").write_text(str(out["md"]), encoding="utf-8")
        (run_dir / "report.html").write_text(str(out["html"]), encoding="utf-8")
        return str(out["term"])
    except (ReportsError, ImportError) as exc:
        say(f"report not written: {exc}")
        return None


def outcome_code(records: list[dict[str, Any]], parity: list[dict[str, Any]]) -> int:
    bad_cells = any(r.get("status") in FAILED for r in records)
    bad_parity = any(p.get("error") or not all(pair.get("ok", True) for pair in p.get("pairs", []) if pair.get("fp32")) for p in parity)
    return 1 if bad_cells or bad_parity else 0


def problem_lines(records: list[dict[str, Any]]) -> list[str]:
    """Every cell that is not ok, with its reason (the summary's last word before the totals)."""
    return [cell_line(r) for r in records if r.get("status") != "ok"]


def tally(records: list[dict[str, Any]]) -> str:
    from collections import Counter

    counts = Counter(str(r.get("status")) for r in records)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing measured"


# ------------------------------------------------------------------ main


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _median_ms(record: Mapping[str, Any]) -> str:
    from bench.measure import median

    lat = record.get("latencies_ns") or []
    return f"median {median(lat) / 1e6:.3f} ms ({len(lat)} it, {record.get('stop_reason')})" if lat else ""


def cell_line(record: Mapping[str, Any]) -> str:
    """One finished cell, in words, for logs and the progress display."""
    status = str(record.get("status"))
    detail = _median_ms(record) if status == "ok" else str(record.get("error") or "")
    return f"{status:<8} {record.get('cell_id')} r{record.get('repetition')}  {detail}"


class LineReporter:
    """Plain lines on stderr (CI logs, pipes): one per finished cell."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    def job_started(self, job: Job, index: int, total: int) -> None:
        _say(f"[worker {index + 1}/{total}] {job.group.group_id} repetition {job.repetition}")

    def progress(self, cell_id: str, iterations: int, median_ns: float) -> None:
        pass

    def cell_done(self, record: Mapping[str, Any]) -> None:
        self.done += 1
        _say(f"  [{self.done}/{self.total}] {cell_line(record)}")

    def __enter__(self) -> LineReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class RichReporter:
    """rich progress bars: every cell of the run, and the current cell with its live median."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=self.console)
        self.overall = self.bar.add_task("cells", total=total)
        self.current = self.bar.add_task("starting", total=None)

    def job_started(self, job: Job, index: int, total: int) -> None:
        self.bar.update(self.current, description=f"worker {index + 1}/{total}: {job.group.group_id} r{job.repetition} (loading)")

    def progress(self, cell_id: str, iterations: int, median_ns: float) -> None:
        self.bar.update(self.current, description=f"{cell_id}: {iterations} it, median {median_ns / 1e6:.3f} ms")

    def cell_done(self, record: Mapping[str, Any]) -> None:
        from rich.markup import escape

        self.bar.advance(self.overall)
        self.bar.console.print(escape(cell_line(record)), highlight=False)

    def __enter__(self) -> RichReporter:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


def make_reporter(total: int) -> LineReporter | RichReporter:
    return RichReporter(total) if sys.stderr.isatty() else LineReporter(total)


def run_schedule(store: RunStore, s: Scenario, jobs: list[Job], model_dirs: dict[str, Path]) -> None:
    from bench.runner import TaskBuilder, run_jobs

    with make_reporter(sum(len(j.cells) for j in jobs)) as reporter:
        run_jobs(jobs, TaskBuilder(s, model_dirs), store.append, reporter)


def start(args: argparse.Namespace) -> tuple[RunStore, Scenario, Expansion, frozenset[tuple[str, int]], frozenset[str]]:
    """A new run directory, or the one to resume: (store, scenario, cells, done cells, models with parity)."""
    if args.resume is not None:
        store, info, s, _ = open_resumed(args)
        if info.torn_line:
            _say(f"{store.path}:{info.torn_line}: incomplete last line (a run killed mid-write) dropped")
        return store, s, expand_checked(s), info.done, info.has_parity
    overrides = overrides_from(args)
    s = load_scenario(args.scenario, overrides)
    e = expand_checked(s)
    return open_new(args, s, overrides, e), s, e, frozenset(), frozenset()


def measure_all(store: RunStore, s: Scenario, e: Expansion, done: frozenset[tuple[str, int]], has_parity: frozenset[str]) -> None:
    from bench.sweep import schedule

    model_dirs = export_zoo(s, e, _say)
    for record in parity_records(s, e, model_dirs, has_parity, _say):
        store.append(record)
    jobs = schedule(e.groups, s.run.repetitions, s.run.shuffle_seed, done)
    if not jobs:
        _say("every cell is already measured")
    run_schedule(store, s, jobs, model_dirs)


def main(args: argparse.Namespace) -> int:
    from reports.schema import read_run_file

    store, s, e, done, has_parity = start(args)
    with store:
        _say(f"run {store.run_id}: {len(e.cells)} cells in {len(e.groups)} worker groups x "
             f"{s.run.repetitions} repetition(s) -> {store.run_dir}")
        try:
            measure_all(store, s, e, done, has_parity)
        except KeyboardInterrupt:
            _say(f"finished cells are in {store.path}; finish the run with: infer-bench run --resume {store.run_dir}")
            raise
    run = read_run_file(store.path)
    summary = None if args.no_report else write_reports(store.run_dir, _say)
    if summary:
        print(summary)
    for line in problem_lines(run.cells):
        print(line)
    print(f"{tally(run.cells)}; results: {store.path}")
    return outcome_code(run.cells, run.parity)
