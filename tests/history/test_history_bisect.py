"""`infer-bench bisect` on a real git repository the test builds: 6 commits, the 4th swaps the model for one
with a much larger dense layer (far more than 3x slower). Every probe is a real `infer-bench run` of the
repository's scenario in that commit's worktree (TFLite models: the workers need no TensorFlow import).

What bisect says when it stops inconclusive is checked on hand-made inputs: its wording on made-up probes,
and the gate's count (or why there is none) on results files with chosen per-process values.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from histdata import cli, write_run

from bench.cli.bisect import inconclusive_line
from bench.results import history
from bench.runner.bisect import Needs, Probe, _frame, needs_of, probe_of

BUILD = r"""
import sys
from pathlib import Path
import numpy as np
import tensorflow as tf

out = Path(sys.argv[1])
for width, name in ((16, "small.tflite"), (4096, "large.tflite")):
    rng = np.random.default_rng(0)
    w1 = tf.constant(rng.normal(0, 0.05, (256, width)).astype(np.float32))
    w2 = tf.constant(rng.normal(0, 0.05, (width, 10)).astype(np.float32))
    f = tf.function(lambda x: tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2),
                    input_signature=[tf.TensorSpec([1, 256], tf.float32, name="x")])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    (out / name).write_bytes(converter.convert())
"""

SCENARIO = """[run]
repetitions = 1
[measure]
warmup_time = 0.02
min_time = 0.1
max_time = 0.3
[sweep]
formats = ["tflite"]
batch_sizes = [1]
[[models]]
name = "net"
files = { tflite = "model.tflite" }
"""

SLOW_COMMIT = 4  # 1-based: the commit that makes the model slower


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout.strip()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
    subprocess.run([sys.executable, "-c", BUILD, str(out)], check=True, env=env, timeout=300, capture_output=True)
    return out


def make_repo(root: Path, models: Path) -> list[str]:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "bench.toml").write_text(SCENARIO)
    shas = []
    for i in range(1, 7):
        if i in (1, SLOW_COMMIT):
            (root / "model.tflite").write_bytes((models / ("large.tflite" if i == SLOW_COMMIT else "small.tflite")).read_bytes())
        (root / "NOTES").write_text(f"change {i}\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"commit {i}" + (": a much larger dense layer" if i == SLOW_COMMIT else ""))
        shas.append(git(root, "rev-parse", "HEAD"))
    return shas


@pytest.mark.slow
def test_bisect_names_the_commit_that_made_the_model_slower(tmp_path: Path, models: Path) -> None:
    shas = make_repo(tmp_path / "repo", models)
    db = str(tmp_path / "h.sqlite")
    done = cli("bisect", "--good", shas[0], "--bad", "main", "--scenario", "bench.toml", "--repo", str(tmp_path / "repo"),
               "--setup", "test -f model.tflite", "--work", str(tmp_path / "work"), "--rounds", "2",
               "--repetitions", "2", "--db", db, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert f"first slower commit: {shas[SLOW_COMMIT - 1]} commit {SLOW_COMMIT}: a much larger dense layer" in done.stdout
    assert f"last good: {shas[SLOW_COMMIT - 2]}" in done.stdout
    probes = [line for line in done.stderr.splitlines() if line.startswith("probe ")]
    assert len(probes) == 3  # bad, then the binary search over 5 commits (2 probes)
    with history.connect(db) as database:  # every run of every probe is in the history, on branch "bisect"
        rows = database.rows("SELECT commit_sha, COUNT(*) FROM runs WHERE branch = 'bisect' GROUP BY commit_sha")
    per_commit = dict(rows)
    assert per_commit[shas[0]] == 3 * 2 and sum(per_commit.values()) == 3 * 2 * 2


# One line, either form: "needs N more repetitions per side at commit C (R); rerun with --max-rounds M" or
# "needs more repetitions per side at commit C (R), how many cannot be computed: WHY; rerun [...] with --max-rounds M"
INCONCLUSIVE = re.compile(r"inconclusive — needs (?:(?P<more>\d+) more repetitions per side at commit (?P<sha>[0-9a-f]{12}) "
                          r"\([\d.]+x \[[\d.]+, [\d.]+\]\)|more repetitions per side at commit (?P<sha2>[0-9a-f]{12}) "
                          r"\([\d.]+x \[[\d.]+, [\d.]+\]\), how many cannot be computed: (?P<why>[^;]+)); "
                          r"rerun (?:on a quieter machine or )?with --max-rounds (?P<rounds>\d+)")


@pytest.mark.slow
def test_bisect_stops_inconclusive_rather_than_guess(tmp_path: Path, models: Path) -> None:
    """A bad commit that changed nothing measurable (commit 2 only edits NOTES), probed with one run of two
    processes a side and no more rounds allowed: too few processes to call (the gate needs 3 a side), so
    bisect stops inconclusive with what it lacks and exits 3 instead of naming a commit. Two real runs.
    Whether the gate can count the missing processes depends on the spread this machine gave the two
    processes (a busy machine's can be too wide to count): the line has one of its two forms, each worded
    from its fields (the wording itself is checked below on hand-made probes)."""
    shas = make_repo(tmp_path / "repo", models)
    done = cli("bisect", "--good", shas[0], "--bad", shas[1], "--scenario", "bench.toml", "--repo", str(tmp_path / "repo"),
               "--setup", "true", "--work", str(tmp_path / "work"), "--rounds", "1", "--max-rounds", "1",
               "--repetitions", "2", "--db", str(tmp_path / "h.sqlite"), timeout=600)
    assert done.returncode == 3, done.stdout + done.stderr[-3000:]
    (line,) = done.stdout.strip().splitlines()
    said = INCONCLUSIVE.fullmatch(line)
    assert said, line
    assert (said["sha"] or said["sha2"]) == shas[1][:12]
    rounds = int(said["rounds"])
    if said["more"] is not None:
        assert int(said["more"]) >= 1 and rounds == 1 + -(-int(said["more"]) // 2)  # rounds of 2 processes that add that many
    else:  # two processes a side measure a spread: only one too wide to count leaves no number
        assert said["why"].endswith("change takes more than 500 a side to see") and "over 2 processes a side" in said["why"]
        assert rounds == 2
    assert "first slower commit" not in done.stdout
    probes = [line for line in done.stderr.splitlines() if line.startswith("probe ")]
    assert len(probes) == 1 and "inconclusive" in probes[0] and "(net/tflite/cpu/b1, 1 runs each side)" in probes[0]


def probe(reps_needed: int | None, processes: int, log_sd: float, threshold: float = 0.05) -> Probe:
    return Probe("90f3ee5fda3a" + "0" * 28, "inconclusive", 0.98, 0.6, 1.01, reps_needed, 1, "m/tflite/cpu/b1",
                 processes=processes, log_sd=log_sd, threshold=threshold)


def test_the_inconclusive_line_counts_the_missing_repetitions_and_the_rounds_that_add_them() -> None:
    p = probe(reps_needed=9, processes=2, log_sd=0.05)
    needs = needs_of(p, limit=500, few=3)
    assert (needs.more, needs.unknown) == (7, None)
    assert inconclusive_line(p, needs, repetitions=2, max_rounds=1) == (
        "inconclusive — needs 7 more repetitions per side at commit 90f3ee5fda3a (0.98x [0.60, 1.01]); "
        "rerun with --max-rounds 5")  # 4 more rounds of 2 processes add 8 >= 7
    assert inconclusive_line(p, needs, repetitions=7, max_rounds=3).endswith("rerun with --max-rounds 4")


@pytest.mark.parametrize(("made", "why", "rerun"), [
    (probe(None, 2, 0.3), "at the spread seen (log SD 0.30 over 2 processes a side) a 5% change takes more than 500 "
     "a side to see", "rerun on a quieter machine or with --max-rounds 2"),
    (probe(None, 1, math.nan), "with 1 process a side the spread between processes is not measured",
     "rerun with --max-rounds 2"),  # 2 more processes a side for the gate's 3, in rounds of 2
    (probe(6, 8, 0.01, threshold=0.732), "at the spread seen (log SD 0.01 over 8 processes a side) these processes "
     "should see a 73.2% change, so the change lies near that threshold", "rerun with --max-rounds 2"),
])
def test_without_a_count_the_line_says_why_and_what_to_rerun(made: Probe, why: str, rerun: str) -> None:
    """No N when the gate's count has no input (one process a side: no spread), runs past its limit (a spread
    too wide), or is already met (the change sits near the threshold): the line says which, never a made-up N."""
    needs = needs_of(made, limit=500, few=3)
    assert needs.more is None and needs.unknown is not None
    line = inconclusive_line(made, needs, repetitions=2, max_rounds=1)
    assert line == ("inconclusive — needs more repetitions per side at commit 90f3ee5fda3a (0.98x [0.60, 1.01]), "
                    f"how many cannot be computed: {why}; {rerun}")
    assert INCONCLUSIVE.fullmatch(line) and not re.search(r"needs \d", line)


def per_process_runs(root: Path, side: str, medians_ms: list[list[float]]) -> list[Path]:
    """One results file per round, each process's samples all at its median (its value exactly)."""
    return [write_run(root / f"{side}{k}", f"{side}-{k}", {"m": [[int(ms * 1e6)] * 20 for ms in round_]})
            for k, round_ in enumerate(medians_ms)]


@pytest.mark.parametrize(("good", "probed", "more", "unknown", "log_sd"), [
    # 2 processes a side 10% apart: log SD ln(1.1)/sqrt(2) = 0.0674; 45 a side see +5% at 95% power (reports.power)
    ([[1.0, 1.1]], [[1.0, 1.1]], 43, None, math.log(1.1) / math.sqrt(2)),
    # 50% apart: log SD 0.287, past the 500 a side the count tries
    ([[1.0, 1.5]], [[1.0, 1.5]], None, "beyond_limit", math.log(1.5) / math.sqrt(2)),
    # one process a side: no spread measured
    ([[1.0]], [[1.02]], None, "unmeasured", math.nan),
    # 6 a side 0.1% apart, 4.9% slower: significant but inside +5%, its interval across 1.05; 6 a side were enough
    ([[1.0 + 0.001 * i for i in range(6)]], [[1.049 * (1.0 + 0.001 * i) for i in range(6)]], None, "near_threshold",
     None),
])
def test_the_gate_decides_between_a_count_and_a_reason(tmp_path: Path, good: list[list[float]], probed: list[list[float]],
                                                       more: int | None, unknown: str | None, log_sd: float | None) -> None:
    """The probe's fields come from the gate's diff frame of real results files with chosen per-process values."""
    frame = _frame(per_process_runs(tmp_path, "good", good), per_process_runs(tmp_path, "probe", probed), 0.05, 0.05)
    made = probe_of("a" * 40, frame, None, rounds=1, threshold=0.05)
    assert made.verdict == "inconclusive" and made.processes == len(good[0])
    needs: Needs = needs_of(made, limit=500, few=3)
    assert (needs.more, needs.unknown) == (more, unknown)
    if log_sd is not None:
        assert needs.log_sd == pytest.approx(log_sd, nan_ok=True)


def test_bisect_refuses_an_unknown_commit(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "f").write_text("x")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    done = cli("bisect", "--good", "v0.0-nope", "--bad", "HEAD", "--scenario", "s.toml", "--repo", str(repo),
               "--setup", "true", "--work", str(tmp_path / "w"), "--db", str(tmp_path / "h.sqlite"))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "commit 'v0.0-nope' is not in the git repository" in line
