"""`infer-bench baseline save RUN_DIR --name NAME | list | show NAME`: named baselines (bench.results.baselines)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("baseline", help="save, list and show named baselines for compare",
                              description="Keep results as named baselines under .infer-bench/baselines "
                              "(or --baselines-dir / $INFER_BENCH_BASELINES).")
    p.add_argument("--baselines-dir", type=Path, help="where baselines are kept")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    save = sub.add_parser("save", help="keep one or more runs as a baseline")
    save.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run directories or results.jsonl")
    save.add_argument("--name", required=True, help="the baseline's name, as `compare --baseline NAME` will use it")
    save.add_argument("--force", action="store_true", help="replace a baseline of that name")
    save.set_defaults(func=_save)
    lst = sub.add_parser("list", help="list saved baselines")
    lst.set_defaults(func=_list)
    show = sub.add_parser("show", help="show one baseline")
    show.add_argument("name", help="a saved baseline's name (see `baseline list`)")
    show.set_defaults(func=_show)


def _root(args: argparse.Namespace) -> Path:
    from bench.results.baselines import baselines_root

    return baselines_root(args.baselines_dir)


def _save(args: argparse.Namespace) -> int:
    from bench.results.baselines import save

    baseline = save(args.runs, args.name, _root(args), force=args.force)
    meta = baseline.meta
    print(f"saved baseline {baseline.name!r} in {baseline.path}: {meta['cells']} cells, "
          f"{meta['processes']} processes, runs {', '.join(meta['run_ids']) or '?'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from bench.results.baselines import list_all

    root = _root(args)
    entries = list_all(root)
    if not entries:
        print(f"no baselines in {root}")
    for name, baseline, problem in entries:
        if baseline is None:
            print(f"{name}\tCORRUPT: {problem}")
        else:
            m = baseline.meta
            print(f"{name}\t{m['created']}\t{m['cells']} cells\t{m['processes']} processes\t{', '.join(m['sources'])}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from bench.results.baselines import load
    from reports.load import load_runs

    baseline = load(args.name, _root(args))
    m = baseline.meta
    print(f"baseline {baseline.name} (format {m['format']}), saved {m['created']} in {baseline.path}")
    print(f"from: {', '.join(m['sources'])}; runs: {', '.join(m['run_ids'])}")
    runs = load_runs(baseline.files)
    table = runs.cells.groupby(["model", "variant", "device", "batch_size"], observed=True)["status"]
    for (model, variant, device, batch), statuses in table:
        ok = int((statuses == "ok").sum())
        print(f"  {model} · {variant} · {device} · b{batch}: {ok}/{len(statuses)} processes ok")
    return 0
