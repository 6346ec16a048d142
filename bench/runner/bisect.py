"""`infer-bench bisect`: the first commit between a good and a bad one where a cell became slower.

For each probed commit: a git worktree of it (cached under the work directory), its environment set up
once (a `--setup` command run in the worktree, or by default a venv per commit that sees this
environment's packages and has the commit installed with `pip install --no-deps --no-build-isolation -e .`,
so TensorFlow is not downloaded again), then real `infer-bench run`s of the scenario in that checkout,
alternated with runs of the good commit (good, probe, probe, good, ...: drift falls on both). The two sides
are compared with the gate's statistics (reports.compare: processes as the unit of evidence). Binary search
narrows the range; a probe the statistics cannot call gets more rounds up to a maximum, then bisect stops
inconclusive rather than guess, with what it lacks (`Needs`): N more repetitions per side, or why no N can be
given. Every run goes into the history database.

A probe counts as slow when its slowdown is significant and at least halfway (geometrically) to the bad
commit's: with bad 3x slower than good, a probe must be >= 1.73x slower to be called bad and within that
to be called good, so a commit is judged by which end it resembles.
"""

from __future__ import annotations

import math
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.errors import BenchError

Say = Callable[[str], None]
SETUP_TIMEOUT_S = 1800
RUN_TIMEOUT_S = 3600


class BisectError(BenchError):
    """Bisect cannot start or go on: unknown commits, a failing setup or run, a bad commit that is not slower."""


@dataclass(frozen=True)
class Options:
    repo: Path
    good: str
    bad: str
    scenario: Path  # relative to the repository root (or absolute: then used as it is for every commit)
    work: Path
    setup: str | None = None  # None: the default venv per commit
    rounds: int = 3  # runs of each side per probe
    repetitions: int = 1  # worker processes per run
    max_rounds: int = 6
    threshold: float = 0.05
    alpha: float = 0.05
    db: str | None = None


@dataclass
class Probe:
    sha: str
    verdict: str  # "slower" | "unchanged" | "faster" | "inconclusive" | "failed"
    ratio: float
    low: float
    high: float
    reps_needed: int | None  # processes per side the gate's power computation asks for (None: it cannot say)
    rounds: int
    cell: str
    processes: int = 0  # ok worker processes per side so far (the smaller side)
    log_sd: float = math.nan  # between-process spread the gate saw (pooled SD of log per-process values)
    threshold: float = math.nan  # the slowdown this probe was judged against


# Why an inconclusive probe's missing processes cannot be counted (None: they can)
Unknown = Literal["unmeasured", "beyond_limit", "near_threshold"]


@dataclass(frozen=True)
class Needs:
    """What an inconclusive probe lacks, in fields for the CLI to word: `more` processes per side, or, where
    the gate's power computation gives no count, `unknown` says why (the spread is the input it needs):
    - unmeasured: too few processes to measure a spread between them at all;
    - beyond_limit: at the spread seen, catching the threshold takes more than `limit` processes a side
      (the most the computation tries): a noisy machine, or a spread estimated from very few processes;
    - near_threshold: at the spread seen the processes so far should already catch the threshold, so the
      change itself sits near it: more processes narrow the interval, but no count follows from the spread.
    """

    have: int  # ok processes per side so far
    more: int | None  # processes per side to add
    unknown: Unknown | None
    log_sd: float
    threshold: float
    limit: int  # reports.power.MAX_REPS: the most processes per side the count looks at
    few: int  # reports.power.FEW_PROCESSES: the fewest per side the gate tests at all


def needs_of(probe: Probe, limit: int, few: int) -> Needs:
    """The missing processes of an inconclusive probe, from the gate's count and spread."""
    count = probe.reps_needed
    unknown: Unknown | None = None
    if count is None:
        unknown = "beyond_limit" if math.isfinite(probe.log_sd) else "unmeasured"
    elif count <= probe.processes:
        unknown = "near_threshold"
    more = count - probe.processes if unknown is None and count is not None else None
    return Needs(probe.processes, more, unknown, probe.log_sd, probe.threshold, limit, few)


@dataclass
class Outcome:
    first_bad: str | None
    last_good: str | None
    probes: list[Probe] = field(default_factory=list)
    inconclusive: Probe | None = None
    needs: Needs | None = None  # what the inconclusive probe lacks


# ------------------------------------------------------------------ git


def git(repo: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BisectError(f"{repo}: git {' '.join(args)} failed ({exc})") from None
    if out.returncode != 0:
        raise BisectError(f"{repo}: git {' '.join(args)}: {out.stderr.strip().splitlines()[-1:] or ['failed']}")
    return out.stdout.strip()


def resolve(repo: Path, name: str) -> str:
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    except BisectError:
        raise BisectError(f"commit {name!r} is not in the git repository at {repo.resolve()}") from None


def commits_between(repo: Path, good: str, bad: str) -> list[str]:
    """The commits after `good` up to and including `bad`, oldest first (along the ancestry path)."""
    if subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", good, bad], capture_output=True).returncode:
        raise BisectError(f"good commit {good[:12]} is not an ancestor of bad commit {bad[:12]}")
    listed = git(repo, "rev-list", "--reverse", "--ancestry-path", f"{good}..{bad}")
    return listed.split() if listed else []


def subject(repo: Path, sha: str) -> str:
    return git(repo, "show", "-s", "--format=%s", sha)


# ------------------------------------------------------------------ checkouts and environments


def checkout(opts: Options, sha: str) -> Path:
    """A worktree of the commit under the work directory (made once)."""
    tree = (opts.work / "trees" / sha[:12]).resolve()
    if not (tree / ".git").exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tree, ignore_errors=True)
        git(opts.repo, "worktree", "prune")
        git(opts.repo, "worktree", "add", "--detach", str(tree), sha)
    return tree


def _run_setup(command: Sequence[str] | str, tree: Path, sha: str, what: str) -> None:
    env = {**os.environ, "INFER_BENCH_BISECT_COMMIT": sha}
    try:
        out = subprocess.run(command, cwd=tree, shell=isinstance(command, str), capture_output=True, text=True,
                             timeout=SETUP_TIMEOUT_S, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BisectError(f"commit {sha[:12]}: {what} failed ({exc})") from None
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or [f"exit code {out.returncode}"]
        raise BisectError(f"commit {sha[:12]}: {what} failed: {tail[0]}")


def default_env(opts: Options, sha: str, tree: Path) -> str:
    """A venv for the commit that sees this environment's packages (a .pth file), the commit installed -e."""
    venv = (opts.work / "venvs" / sha[:12]).resolve()
    python = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        _run_setup([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tree, sha, "making a venv")
        purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=False).stdout.strip()
        # `import` lines of a .pth run at start-up; addsitedir also reads the .pth files there (editable installs)
        lines = [f"import site; site.addsitedir({d!r})" for d in site.getsitepackages()]
        Path(purelib, "_infer_bench_parent.pth").write_text("\n".join(lines) + "\n")
        if (tree / "pyproject.toml").exists() or (tree / "setup.py").exists():
            _run_setup([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", "."],
                       tree, sha, "pip install -e .")
        (venv / ".ready").write_text(sha + "\n")
    return str(python)


def environment(opts: Options, sha: str, say: Say) -> tuple[Path, str]:
    """(worktree, python) for a commit: set up once, then cached."""
    tree = checkout(opts, sha)
    if opts.setup is None:
        return tree, default_env(opts, sha, tree)
    marker = opts.work / "trees" / f"{sha[:12]}.setup-done"
    if not marker.exists():
        say(f"setting up {sha[:12]}: {opts.setup}")
        _run_setup(opts.setup, tree, sha, f"setup command {opts.setup!r}")
        marker.write_text(opts.setup + "\n")
    return tree, sys.executable


# ------------------------------------------------------------------ runs and verdicts


class Runner:
    """Runs the scenario in commits' checkouts and keeps every run directory (and puts it in history)."""

    def __init__(self, opts: Options, say: Say) -> None:
        self.opts, self.say = opts, say
        self.count = 0

    def run(self, sha: str) -> Path:
        tree, python = environment(self.opts, sha, self.say)
        self.count += 1
        out = (self.opts.work / "runs" / f"{self.count:03d}-{sha[:12]}").resolve()
        shutil.rmtree(out, ignore_errors=True)
        scenario = self.opts.scenario if self.opts.scenario.is_absolute() else tree / self.opts.scenario
        cmd = [python, "-m", "bench.cli", "run", str(scenario), "--out", str(out), "--no-report",
               "--repetitions", str(self.opts.repetitions)]
        env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME")}
        # `run` records itself into a history database (commits that have that): keep it out of ours, where
        # _record files the probe under the commit probed and branch "bisect" (flags cannot say so: old commits'
        # `run` has no --no-history)
        env["INFER_BENCH_DB"] = str((self.opts.work / "probe-history.sqlite").resolve())
        try:
            done = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BisectError(f"commit {sha[:12]}: infer-bench run failed ({exc})") from None
        if not (out / "results.jsonl").exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
            raise BisectError(f"commit {sha[:12]}: infer-bench run wrote no results: {tail[0]}")
        self._record(out, sha)
        return out

    def _record(self, run_dir: Path, sha: str) -> None:
        from bench.results.history import connect, ingest

        with connect(self.opts.db) as database:
            ingest(database, run_dir, commit=sha, branch="bisect", repo=self.opts.repo)


def _frame(good_runs: list[Path], probe_runs: list[Path], threshold: float, alpha: float) -> Any:
    from reports.compare import compare
    from reports.load import load_runs

    return compare(load_runs(good_runs), load_runs(probe_runs), "p50", threshold, alpha).frame


def _cell_name(row: Any) -> str:
    return f"{row['model']}/{row['variant']}/{row['device']}/b{row['batch_size']}"


def probe_of(sha: str, frame: Any, cell: str | None, rounds: int, threshold: float) -> Probe:
    """The probe's result from the gate's diff frame (its watched cell, or the most slowed one)."""
    verdict, row = judge(frame, cell)
    reps = row.get("reps_needed")
    return Probe(sha, verdict, float(row["ratio"]), float(row["ci_low"]), float(row["ci_high"]),
                 None if reps is None or (isinstance(reps, float) and math.isnan(reps)) else int(reps),
                 rounds, _cell_name(row), processes=min(int(row["n_baseline"]), int(row["n_current"])),
                 log_sd=float(row["log_sd"]), threshold=threshold)


def judge(frame: Any, cell: str | None) -> tuple[str, Any]:
    """The verdict of the watched cell (None: the most slowed cell) and its row."""
    rows = [r for _, r in frame.iterrows() if cell is None or _cell_name(r) == cell]
    if not rows:
        raise BisectError(f"cell {cell} is not in the probe's results")
    if any(r["verdict"] == "failed" for r in rows):
        return "failed", next(r for r in rows if r["verdict"] == "failed")
    row = max(rows, key=lambda r: r["ratio"] if math.isfinite(r["ratio"]) else -1.0)
    return str(row["verdict"]), row


class Bisector:
    def __init__(self, opts: Options, say: Say) -> None:
        self.opts, self.say = opts, say
        self.runner = Runner(opts, say)
        self.good_sha = resolve(opts.repo, opts.good)
        self.good_runs: list[Path] = []

    def probe(self, sha: str, threshold: float, cell: str | None) -> Probe:
        """Runs of `sha` alternated with runs of good until the gate can call it (or max_rounds)."""
        mine: list[Path] = []
        while True:
            for r in range(len(mine), max(self.opts.rounds, len(mine) + 1)):
                pair = (self.good_sha, sha) if r % 2 == 0 else (sha, self.good_sha)
                for side in pair:
                    run = self.runner.run(side)
                    (self.good_runs if side == self.good_sha else mine).append(run)
            result = probe_of(sha, _frame(self.good_runs[-len(mine):], mine, threshold, self.opts.alpha), cell,
                              len(mine), threshold)
            if result.verdict != "inconclusive" or len(mine) >= self.opts.max_rounds:
                break
        self.say(f"probe {sha[:12]}: {result.verdict} {result.ratio:.2f}x [{result.low:.2f}, {result.high:.2f}] "
                 f"({result.cell}, {len(mine)} runs each side)")
        return result


def bisect(opts: Options, say: Say) -> Outcome:
    """Binary search for the first slower commit in (good, bad]."""
    b = Bisector(opts, say)
    bad_sha = resolve(opts.repo, opts.bad)
    chain = commits_between(opts.repo, b.good_sha, bad_sha)
    if not chain:
        raise BisectError(f"no commits between good {b.good_sha[:12]} and bad {bad_sha[:12]}")
    say(f"bisecting {len(chain)} commits after {b.good_sha[:12]} up to {bad_sha[:12]}")
    first = b.probe(bad_sha, opts.threshold, None)
    outcome = Outcome(None, None, [first])
    if first.verdict != "slower":
        return _stop(outcome, first, f"bad commit {bad_sha[:12]} is not slower than good {b.good_sha[:12]}")
    threshold = max(opts.threshold, math.sqrt(first.ratio) - 1)
    say(f"a probe counts as slow at >= {1 + threshold:.2f}x (halfway to the bad commit's {first.ratio:.2f}x)")
    lo, hi = -1, len(chain) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        p = b.probe(chain[mid], threshold, first.cell)
        outcome.probes.append(p)
        if p.verdict in ("inconclusive", "failed"):
            return _stop(outcome, p, "")
        lo, hi = (lo, mid) if p.verdict == "slower" else (mid, hi)
    outcome.first_bad = chain[hi]
    outcome.last_good = chain[lo] if lo >= 0 else b.good_sha
    return outcome


def _stop(outcome: Outcome, probe: Probe, reason: str) -> Outcome:
    if probe.verdict == "inconclusive":
        from reports.power import FEW_PROCESSES, MAX_REPS

        outcome.inconclusive = probe
        outcome.needs = needs_of(probe, MAX_REPS, FEW_PROCESSES)
        return outcome
    if probe.verdict == "failed":
        raise BisectError(f"commit {probe.sha[:12]}: cells failed to run; bisect cannot judge speed there")
    raise BisectError(reason + f" ({probe.verdict}, {probe.ratio:.2f}x); check --good/--bad and the scenario")
