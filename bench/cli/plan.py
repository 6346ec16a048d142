"""`infer-bench plan [FILE]`: the expanded cells and their worker groups, without running anything.

Starts in well under half a second: it imports neither TensorFlow, pandas nor rich.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.scenario import Scenario
    from bench.scenario.sweep import Expansion, Group


def register(subparsers: Any) -> None:
    from bench.cli.run import add_sweep_flags

    p = subparsers.add_parser(
        "plan", help="show what a scenario would run, grouped by worker process (runs nothing)",
        description="Validate a scenario and print its cells grouped by worker process (one fresh "
        "process per group and repetition), in the order the runner would start them.",
    )
    add_sweep_flags(p)
    p.set_defaults(func=main)


def estimate_s(s: Scenario, e: Expansion, startup_s: float = 6.0) -> tuple[float, float]:
    """A rough wall-time range: worker start-up (TensorFlow import, load) plus per-cell timing."""
    p = s.policy
    reps = s.run.repetitions
    per_cell_lo = p.warmup_time + p.min_time
    per_cell_hi = p.warmup_time + p.max_time
    workers = len(e.groups) * reps
    cells = len(e.cells) * reps
    return workers * startup_s + cells * per_cell_lo, workers * startup_s + cells * per_cell_hi


def _batches(g: Group) -> list[int]:
    return sorted({c.batch_size for c in g.cells})


def _members(g: Group) -> str:
    """What alternates inside the worker at each batch size, when more than one cell does."""
    members = list(dict.fromkeys(c.key.variant + ("" if c.key.call == "fastest" else f" ({c.key.call})") for c in g.cells))
    return f"; interleaved: {', '.join(members)}" if len(members) > 1 else ""


def _adaptive_wall(s: Scenario) -> str:
    """Auto: the estimate covers the minimum of processes; more rounds may follow until the budget ends."""
    if not s.run.adaptive:
        return ""
    if s.run.time_budget is None:
        return f" for the first {s.run.repetitions} processes per group; more rounds until the target or {s.run.max_processes} processes per group"
    return (f" for the first {s.run.repetitions} processes per group; then rounds until the target or the "
            f"{s.run.time_budget:g} s budget (the round running then finishes)")


def adaptive_lines(s: Scenario) -> list[str]:
    """What `repetitions = "auto"` will do: the target, the bounds, the budget."""
    run = s.run
    if not run.adaptive:
        return []
    budget = f"no new round after {run.time_budget:g} s" if run.time_budget else "no time budget"
    return [f"repetitions auto: rounds of fresh workers until every ratio's between-process interval is within "
            f"±{run.target:.0%} (at least {run.repetitions}, at most {run.max_processes} processes per group; {budget})"]


def render(s: Scenario, e: Expansion) -> list[str]:
    """The plan as lines of text (pure)."""
    from bench.scenario.sweep import schedule

    reps, seed = s.run.repetitions, s.run.shuffle_seed
    lo, hi = estimate_s(s, e)
    lines = [
        f"scenario: {s.path or 'built-in default'}",
        f"{len(e.cells)} cells in {len(e.groups)} worker groups x {reps} repetition(s) = "
        f"{len(e.groups) * reps} worker processes" + (f" (order shuffled, seed {seed})" if seed is not None else ""),
        *adaptive_lines(s),
        f"policy: warmup >= {s.policy.warmup_iterations} it & {s.policy.warmup_time:g} s; timed >= "
        f"{s.policy.min_iterations} it & {s.policy.min_time:g} s until the median's 95% CI is within "
        f"+-{s.policy.ci_target:.1%}, at most {s.policy.max_time:g} s; worker timeout {s.run.timeout:g} s",
        f"estimated wall time: {lo:.0f}-{hi:.0f} s" + _adaptive_wall(s),
    ]
    if e.excluded:
        lines.append(f"excluded by rules: {e.excluded} cells")
    for model, variant in e.unavailable:
        lines.append(f"not run: {model} has no file for {variant}")
    lines.append("")
    turns = (f"; each variant's turn: {s.policy.switch_warmup} untimed + {s.policy.turn_calls} timed calls"
             if s.policy.mode == "interleaved" else "")
    lines.append(f"groups (one worker process each; batch sizes run inside it; measure mode {s.policy.mode}{turns}):")
    for i, g in enumerate(e.groups, start=1):
        points = list(dict.fromkeys(c.load_point for c in g.cells if c.load_point))  # serving load points, if any
        lines.append(f"  {i:>3}. {g.group_id:<50} batch {', '.join(str(b) for b in _batches(g))}{_members(g)}"
                     + (f"  load {', '.join(points)}" if points else ""))
    if reps > 1 or seed is not None:
        order = [f"{job.group.group_id}#{job.repetition}" for job in schedule(e.groups, reps, seed)[: 2 * len(e.groups)]]
        lines += ["", "worker order (first rounds): " + " -> ".join(order)]
    return lines


def _fleet_lines(s: Scenario, cluster: str | None) -> tuple[Scenario, list[str]]:
    """With --cluster: the hosts resolved on the cluster (refused as `run` would); without: as written."""
    from bench.runner.session import on_cluster

    if cluster is None:
        return s, ["", f"hosts (resolved when run with --cluster): {', '.join(s.sweep.hosts)}"]
    resolved, fleet = on_cluster(s, cluster, fingerprints=False)
    assert fleet is not None
    try:
        return resolved, ["", f"cluster {cluster}:", *(f"  {t}: {', '.join(m)}" for t, m in fleet.targets.items())]
    finally:
        fleet.close()


def main(args: argparse.Namespace) -> int:
    from bench.cli.run import overrides_from, scenario_from_args
    from bench.runner.session import expand_checked, load_scenario

    s = load_scenario(scenario_from_args(args), overrides_from(args))
    lines: list[str] = []
    if args.cluster is not None or s.sweep.hosts:
        s, lines = _fleet_lines(s, args.cluster)
    text = "\n".join([*render(s, expand_checked(s)), *lines])
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `infer-bench plan | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
