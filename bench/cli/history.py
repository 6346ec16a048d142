"""`infer-bench history add|list|check|html|rebuild`: every run in a database, change points over commits.

The database is .infer-bench/history.sqlite unless --db or $INFER_BENCH_DB names another (a PostgreSQL URL
for a team's shared one). The store is bench.results.history; change points, the check and the page are
reports.history / reports.history_html; this module reads arguments, prints and returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DB_HELP = ("history database: a SQLite file path or a postgresql:// URL (default $INFER_BENCH_DB, else "
           ".infer-bench/history.sqlite)")


def _fraction(text: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction (give 5% or 0.05)") from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"{text!r} out of range (give 5% or 0.05)")
    return value


def _series_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--branch", help="only runs of this branch")
    p.add_argument("--machine", help="only this machine (host name or machine id)")
    p.add_argument("--model", help="only this model")
    p.add_argument("--metric", default="p50", choices=("p50", "p90", "p99", "mean"), help="per-process statistic (default p50)")
    p.add_argument("--include-dirty", action="store_true", help="also runs of a working directory with uncommitted changes")


def _detect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threshold", type=_fraction, default=0.05,
                   help="smallest step that counts as a change point, as 5%% or 0.05 (default 5%%)")
    p.add_argument("--alpha", type=float, default=0.01, help="significance level of the permutation test (default 0.01)")
    p.add_argument("--min-size", type=int, default=3, help="commits needed on each side of a change point (default 3)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("history", help="keep every run in a database; change points, dashboard",
                              description="Keep runs in a history database (SQLite by default, PostgreSQL by URL) "
                              "and find the commits where a cell got slower.")
    p.add_argument("--db", help=DB_HELP)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add runs (commit, branch and machine from each run's header)")
    add.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run directories or results.jsonl")
    add.add_argument("--commit", help="the commit the run measured (overrides the header; resolved by git)")
    add.add_argument("--branch", help="the branch (overrides the header)")
    add.add_argument("--repo", type=Path, help="the git repository the commits belong to (default: here)")
    add.set_defaults(func=_add)
    lst = sub.add_parser("list", help="list the series: machine x cell x metric")
    _series_args(lst)
    lst.set_defaults(func=_list)
    chk = sub.add_parser("check", help="change points in recent history; exit 1 on a new regression")
    _series_args(chk)
    _detect_args(chk)
    chk.add_argument("--last", type=int, default=10, help="fail on a regression in the newest N commits (default 10)")
    chk.add_argument("--summary", type=Path, metavar="FILE", help="also append the Markdown to FILE ($GITHUB_STEP_SUMMARY)")
    chk.set_defaults(func=_check)
    html = sub.add_parser("html", help="write the offline dashboard (one chart per series)")
    _series_args(html)
    _detect_args(html)
    html.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory for index.html")
    html.set_defaults(func=_html)
    reb = sub.add_parser("rebuild", help="recreate the database from results files")
    reb.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="run directories or folders holding runs")
    reb.add_argument("--repo", type=Path, help="the git repository the commits belong to (default: here)")
    reb.set_defaults(func=_rebuild)


def _add(args: argparse.Namespace) -> int:
    from bench.results.history import connect, ingest

    with connect(args.db) as database:
        for run in args.runs:
            result = ingest(database, run, args.commit, args.branch, args.repo)
            rev = result.revision
            where = f"commit {(rev.sha or '?')[:12]} on {rev.branch or '?'}" if rev else ""
            if result.added:
                print(f"added run {result.run_id}: {result.cells} cells, {result.processes} processes, {where} "
                      f"-> {database.where}")
            else:
                print(f"run {result.run_id} is already in {database.where}: nothing added")
            for note in result.notes:
                print(f"note: {note}", file=sys.stderr)
    return 0


def _filter(args: argparse.Namespace) -> Any:
    from bench.results.history import Filter

    return Filter(args.branch, args.machine, args.model, args.metric, args.include_dirty)


def _list(args: argparse.Namespace) -> int:
    """One line per series; with >= 5 commits, how much its commits' values have varied (5th-95th percentile
    around the median: reports.history.run_to_run_spread, the figure `report` and `compare` can show too)."""
    from bench.results.history import connect, load_series
    from reports.history import run_to_run_spread, run_values

    with connect(args.db) as database:
        series = load_series(database, _filter(args))
    if not series:
        print(f"no series in {database.where}; add runs with `infer-bench history add RUN`")
    for s in series:
        last = s.points[-1]
        spread = run_to_run_spread(run_values(s.points))
        noise = f"\trun-to-run {(spread.low - 1) * 100:+.0f}%..{(spread.high - 1) * 100:+.0f}%" if spread else ""
        print(f"{s.label}\t{s.host}\t{s.branch or '-'}\t{len(s.points)} commits\tlast {last.commit[:12]} "
              f"{last.median / 1e6:.4g} ms{noise}")
    return 0


def _settings(args: argparse.Namespace) -> Any:
    from reports.changepoints import Settings

    try:
        return Settings(alpha=args.alpha, min_magnitude=args.threshold, min_size=args.min_size)
    except ValueError as exc:
        from bench.results.history import HistoryError

        raise HistoryError(str(exc)) from None


def _check(args: argparse.Namespace) -> int:
    from bench.results.history import connect, load_series
    from reports.history import check, markdown

    settings = _settings(args)
    with connect(args.db) as database:
        series = load_series(database, _filter(args))
    result = check(series, settings, args.last)
    text = markdown(result, settings)
    print(text, end="")
    if args.summary:
        with args.summary.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0 if result.ok else 1


def _html(args: argparse.Namespace) -> int:
    from bench.files import write_text
    from bench.results.history import connect, load_series
    from reports.history import findings
    from reports.history_html import render

    settings = _settings(args)
    with connect(args.db) as database:
        series = load_series(database, _filter(args))
        where = database.where
    found = {i: findings(s, settings) for i, s in enumerate(series)}
    page = write_text(args.out / "index.html", render(series, found, f"infer-bench history · {where}"))
    print(f"wrote {page}: {len(series)} series, {sum(map(len, found.values()))} change points")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    from bench.results.history import target
    from bench.results.history.db import redacted
    from bench.results.history.rebuild import rebuild

    results = rebuild(args.db, args.paths, args.repo)
    print(f"rebuilt {redacted(target(args.db))} from {len(results)} results files: "
          f"{sum(r.added for r in results)} runs, {sum(r.processes for r in results)} processes")
    for r in results:
        for note in r.notes:
            print(f"note: {r.source}: {note}", file=sys.stderr)
    return 0
