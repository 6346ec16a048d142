"""Read series out of the history database: rows in, `reports.history.Series` out.

A series is (machine, cell identity, metric) on one branch. Its commits are ordered by their parent links
(`commit_order`): from the branch's newest commit down its chain of parents, so a rebased or amended commit
whose recorded time is older than its parent's still comes after it; commits off that chain (another line of
work, a parent the database never saw, a run without a commit) fall in by time. Every ok process of every run
of a commit is one value of that commit's point (the runs of one commit stay together).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.results.history.db import Database, HistoryError
from bench.results.history.schema import METRIC_COLUMNS
from reports.history import Point, Series


@dataclass(frozen=True)
class Filter:
    branch: str | None = None
    machine: str | None = None  # a host name or a machine id prefix
    model: str | None = None
    metric: str = "p50"
    include_dirty: bool = False


def _query(f: Filter) -> tuple[str, list[Any]]:
    if f.metric not in METRIC_COLUMNS:
        raise HistoryError(f"unknown metric {f.metric!r}; choose one of {', '.join(METRIC_COLUMNS)}")
    where, params = ["p.status = 'ok'", f"p.{METRIC_COLUMNS[f.metric]} IS NOT NULL"], []
    if f.branch is not None:
        where.append("r.branch = ?")
        params.append(f.branch)
    if f.machine is not None:
        where.append("(m.host = ? OR m.machine_id LIKE ?)")
        params += [f.machine, f.machine + "%"]
    if f.model is not None:
        where.append("c.model = ?")
        params.append(f.model)
    if not f.include_dirty:
        where.append("(r.dirty IS NULL OR r.dirty = 0)")
    return (
        f"SELECT r.machine_id, m.host, c.cell_key, c.identity, r.branch, r.commit_sha, co.committed, r.created, "
        f"r.run_id, r.dirty, p.{METRIC_COLUMNS[f.metric]} FROM processes p "
        "JOIN cells c ON c.run_id = p.run_id AND c.cell_id = p.cell_id "
        "JOIN runs r ON r.run_id = p.run_id JOIN machines m ON m.machine_id = r.machine_id "
        "LEFT JOIN commits co ON co.sha = r.commit_sha WHERE " + " AND ".join(where), params)


def load_series(database: Database, f: Filter = Filter()) -> list[Series]:
    """Every series matching the filter, each with its commits in order."""
    text, params = _query(f)
    with database.errors("read"):
        rows = database.rows(text, params)
        parents = {sha: parent for sha, parent in database.rows("SELECT sha, parent FROM commits")} if rows else {}
    grouped: dict[tuple[Any, ...], dict[str, list[Any]]] = {}
    meta: dict[tuple[Any, ...], tuple[str, str]] = {}
    for mid, host, key, identity, branch, sha, committed, created, run_id, dirty, value in rows:
        skey = (mid, key, branch)
        meta[skey] = (host, identity)
        commit = sha or f"run:{run_id}"
        entry = grouped.setdefault(skey, {}).setdefault(commit, [committed or created, created, set(), [], False,
                                                                 created])
        entry[1] = min(entry[1], created)
        entry[5] = max(entry[5], created)
        entry[2].add(run_id)
        entry[3].append(float(value))
        entry[4] = entry[4] or bool(dirty)
    return [_series(skey, meta[skey], commits, f.metric, parents) for skey, commits in sorted(grouped.items(), key=_order)]


def _order(item: tuple[tuple[Any, ...], Any]) -> tuple[str, str, str]:
    (mid, key, branch), _ = item
    return (str(branch), key, mid)


def _series(skey: tuple[Any, ...], meta: tuple[str, str], commits: dict[str, list[Any]], metric: str,
            parents: Mapping[str, str | None]) -> Series:
    mid, _key, branch = skey
    times = {sha: (str(e[0]), str(e[1])) for sha, e in commits.items()}
    last_runs = {sha: str(e[5]) for sha, e in commits.items()}
    points = tuple(Point(sha, tuple(e[3]), str(e[0]), len(e[2]), e[4])
                   for sha, e in ((sha, commits[sha]) for sha in commit_order(times, last_runs, parents)))
    return Series(mid, meta[0], json.loads(meta[1]), metric, branch, points)


def commit_order(times: Mapping[str, tuple[str, str]], last_run: Mapping[str, str],
                 parents: Mapping[str, str | None]) -> list[str]:
    """The commits of one series, oldest first, by their parent links; pure.

    `times`: each commit's (commit time or, unknown, its first run's time; first run's time), ISO text in UTC;
    `last_run`: its newest run's time; `parents`: every commit the database knows -> its parent (or None).
    The newest commit is the head (no commit of the series descends from it) measured last; its chain of
    parents, walked through commits the series does not hold, is the branch. Other heads' chains (a
    parent the database never saw breaks a chain) merge in by time, each commit taking the latest time
    among itself and its ancestors on its chain, so a chain keeps its parent order; a tie goes to the branch.
    """
    up = {sha: _nearest_ancestor(sha, times, parents) for sha in times}
    children = {a for a in up.values() if a is not None}
    heads = sorted((c for c in times if c not in children), key=lambda c: (last_run.get(c, ""), times[c]), reverse=True)
    used: set[str] = set()
    chains: list[Iterator[tuple[tuple[str, str], int, str]]] = []
    for head in [*heads, *sorted(times, key=times.__getitem__)]:  # the rest: only commits in a cycle of parents
        chain: list[str] = []
        at: str | None = head
        while at is not None and at not in used:
            used.add(at)
            chain.append(at)
            at = up[at]
        if chain:
            chains.append(_keyed(chain[::-1], times, len(chains)))
    return [sha for _, _, sha in heapq.merge(*chains)]


def _nearest_ancestor(sha: str, members: Mapping[str, Any], parents: Mapping[str, str | None]) -> str | None:
    """The closest ancestor of `sha` that is in `members`, following known parents (None: the chain breaks)."""
    seen = {sha}
    at = parents.get(sha)
    while at is not None and at not in members and at not in seen:
        seen.add(at)
        at = parents.get(at)
    return at if at is not None and at in members and at not in seen else None


def _keyed(chain: list[str], times: Mapping[str, tuple[str, str]],
           place: int) -> Iterator[tuple[tuple[str, str], int, str]]:
    """A chain (oldest first) as merge keys: the running latest time, then the chain's place (0: the branch)."""
    latest = ("", "")
    for sha in chain:
        latest = max(latest, times[sha])
        yield latest, place, sha


def list_runs(database: Database, limit: int = 20) -> list[tuple[Any, ...]]:
    return database.rows("SELECT r.run_id, r.commit_sha, r.branch, m.host, r.created, r.source FROM runs r "
                         "JOIN machines m ON m.machine_id = r.machine_id ORDER BY r.created DESC LIMIT ?", (limit,))


def counts(database: Database) -> dict[str, int]:
    return {t: int(database.rows(f"SELECT COUNT(*) FROM {t}")[0][0])
            for t in ("machines", "commits", "runs", "cells", "processes")}


def sources(database: Database) -> Sequence[str]:
    return [r[0] for r in database.rows("SELECT source FROM runs ORDER BY created")]


def past_medians(database: Database, machine: str, keys: Sequence[str], run_id: str,
                 created: str) -> dict[str, dict[str, dict[int, float]]]:
    """Per cell key, the per-process medians (ns) of every run on `machine` other than `run_id` and made no later
    than `created`: {cell key: {run id: {repetition: median}}}, runs oldest first (what reports.rerun needs)."""
    if not keys:
        return {}
    marks = ", ".join("?" for _ in keys)
    text = ("SELECT c.cell_key, r.run_id, p.repetition, p.median_ns FROM processes p "
            "JOIN cells c ON c.run_id = p.run_id AND c.cell_id = p.cell_id JOIN runs r ON r.run_id = p.run_id "
            f"WHERE r.machine_id = ? AND r.run_id <> ? AND r.created <= ? AND c.cell_key IN ({marks}) "
            "AND p.status = 'ok' AND p.median_ns IS NOT NULL ORDER BY r.created, r.run_id, p.repetition")
    with database.errors("read"):
        rows = database.rows(text, [machine, run_id, created, *keys])
    out: dict[str, dict[str, dict[int, float]]] = {}
    for key, past_run, repetition, median in rows:
        out.setdefault(str(key), {}).setdefault(str(past_run), {})[int(repetition)] = float(median)
    return out
