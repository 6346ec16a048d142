"""What the history database knows about the noise of a run's cells on this machine.

With five or more past runs of a cell on the same machine (the fingerprint decides "same"), `report`, `run` and
`compare` say how much runs of that cell have varied there: the run-to-run spread a single run cannot see
(`reports.history.run_to_run_spread`, the same function the dashboard and `report A B C` use). `rerun_history`
hands the past runs' per-process medians of a run's cells to the reports, whose ratios then get a rerun interval
from the history (`reports.rerun`). Nothing is created or written: without a database, or with one that cannot
be read, there is simply nothing to say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.results.history.db import Database, HistoryError, _is_url, connect, redacted, target
from bench.results.history.ingest import cell_key, machine_id, machine_of
from bench.results.history.query import Filter, load_series, past_medians
from reports.history import Series, run_to_run_spread, run_values
from reports.rerun import Identity, Medians, PastRuns, identity_of
from reports.schema import IDENTITY_FIELDS, read_run_file, resolve_results_path

SHOWN = 3  # the widest few; the rest are counted


def _widest(series: Sequence[Series], keys: set[str], source: str) -> list[tuple[float, str]]:
    found = []
    for s in series:
        if cell_key(s.identity) in keys:
            spread = run_to_run_spread(run_values(s.points), source)
            if spread is not None:
                found.append((spread.max_over_min, f"{s.label.removesuffix(' · ' + s.metric)}: {spread.text()}"))
    return sorted(found, reverse=True)


def known_noise(run_dirs: Sequence[Path], db: str | None = None) -> list[str]:
    """Lines for the report's "How far to trust" section: the run-to-run spread of this run's cells on its
    machine, from the history database (`--db`, $INFER_BENCH_DB or .infer-bench/history.sqlite) when it has
    five or more past runs of them; [] otherwise."""
    where = target(db)
    if not _is_url(where) and not Path(where).is_file():
        return []
    source = f"history database {redacted(where)}"
    try:
        with connect(db) as database:
            return _lines(database, run_dirs, source)
    except HistoryError as exc:
        return [f"the run-to-run spread of past runs is not shown: {exc}"]


def rerun_history(run_dirs: Sequence[Path], db: str | None = None) -> PastRuns | None:
    """The earlier runs of these runs' cells on their machines (`--db`, $INFER_BENCH_DB or
    .infer-bench/history.sqlite), for the rerun intervals of ratios; None without a database or when it cannot be
    read (the reports then say their rerun intervals cover this run's noise only)."""
    where = target(db)
    if not _is_url(where) and not Path(where).is_file():
        return None
    try:
        with connect(db) as database:
            cells = {run_id: found for run_id, found in (_past_of(database, Path(d)) for d in run_dirs) if run_id}
    except HistoryError:
        return None
    return PastRuns(f"history database {redacted(where)}", cells)


def _past_of(database: Database, run_dir: Path) -> tuple[str, dict[Identity, Mapping[str, Medians]]]:
    """(run id, {cell identity: {past run id: {repetition: median}}}) of one run; ("", {}) without a header."""
    run = read_run_file(resolve_results_path(run_dir))
    header = run.header or {}
    if not header.get("run_id"):
        return "", {}
    keys = {cell_key({k: c.get(k) for k in IDENTITY_FIELDS}): identity_of(c) for c in run.cells if c.get("status") == "ok"}
    mid = machine_id(machine_of(header.get("env") or {}))
    past = past_medians(database, mid, sorted(keys), str(header["run_id"]),
                        str(header.get("created") or "9999"))  # no time: every other run counts as earlier
    return str(header["run_id"]), {keys[key]: runs for key, runs in past.items()}


def _lines(database: Database, run_dirs: Sequence[Path], source: str) -> list[str]:
    found: list[tuple[float, str]] = []
    for run_dir in run_dirs:
        run = read_run_file(resolve_results_path(Path(run_dir)))
        keys = {cell_key({k: c.get(k) for k in IDENTITY_FIELDS}) for c in run.cells if c.get("status") == "ok"}
        mid = machine_id(machine_of((run.header or {}).get("env") or {}))
        found += _widest(load_series(database, Filter(machine=mid)), keys, source)
    found.sort(reverse=True)
    lines = [text for _, text in found[:SHOWN]]
    if len(found) > SHOWN:
        lines.append(f"{len(found) - SHOWN} more cells have a history on this machine ({source}): infer-bench history list")
    return lines
