"""`infer-bench bisect` on a real git repository the test builds: 6 commits, the 4th swaps the model for one
with a much larger dense layer (far more than 3x slower). Every probe is a real `infer-bench run` of the
repository's scenario in that commit's worktree (TFLite models: the workers need no TensorFlow import).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from histdata import cli

from bench.results import history

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


@pytest.mark.slow
def test_bisect_stops_inconclusive_rather_than_guess(tmp_path: Path, models: Path) -> None:
    """A bad commit that changed nothing measurable (commit 2 only edits NOTES), probed with one run of two
    processes a side and no more rounds allowed: too few processes to call (the gate needs 3 a side), so
    bisect says how many more it needs and exits 3 instead of naming a commit. Two real runs."""
    shas = make_repo(tmp_path / "repo", models)
    done = cli("bisect", "--good", shas[0], "--bad", shas[1], "--scenario", "bench.toml", "--repo", str(tmp_path / "repo"),
               "--setup", "true", "--work", str(tmp_path / "work"), "--rounds", "1", "--max-rounds", "1",
               "--repetitions", "2", "--db", str(tmp_path / "h.sqlite"), timeout=600)
    assert done.returncode == 3, done.stdout + done.stderr[-3000:]
    (line,) = done.stdout.strip().splitlines()
    said = re.fullmatch(rf"inconclusive — needs (\d+) more repetitions per side at commit {shas[1][:12]} "
                        r"\([\d.]+x \[[\d.]+, [\d.]+\]\); rerun with --max-rounds (\d+)", line)
    assert said, line
    needs, rounds = int(said[1]), int(said[2])
    assert needs >= 1 and rounds == 1 + -(-needs // 2)  # rounds of 2 processes that add that many
    assert "first slower commit" not in done.stdout
    probes = [line for line in done.stderr.splitlines() if line.startswith("probe ")]
    assert len(probes) == 1 and "inconclusive" in probes[0] and "(net/tflite/cpu/b1, 1 runs each side)" in probes[0]


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
