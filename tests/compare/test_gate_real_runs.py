"""The README's CI job, end to end on real runs: main and a pull request checked out side by side,
runs alternated (A B, then B A), `compare` gating with the two baseline runs pooled.

The pull request's model does about three times the work (its network runs on twice the batch
again), a change no noisy machine can hide, so the test cannot flake on timing: the job must
fail on it (exit 1, the summary naming the cell and the size). An unchanged rerun of main, made in
the same rounds, must pass (exit 0) where the gate could have failed it: 6 processes a side, whose
exact rank test reaches p = 1/924 against the level 0.01 (3 against 3 could not: its smallest p is
1/20). Its runs are ordered A B B A around main's (main-1 same-1 same-2 main-2), so a machine that
slows down or speeds up steadily while the job runs moves both sides alike. The gate's error rates at
5-20% are measured by benchmarks/bench_gate_error_rates.py, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.compare.compare_fixtures import assert_document_can_reject
from tests.core.helpers import snippet

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

# TFLite files: their workers never import TensorFlow (LiteRT alone starts in well under a second), so the
# twelve worker processes of the job cost seconds, not a TensorFlow import each; the gate is the same.
BUILD = """
import json, numpy as np, tensorflow as tf
for path, extra in {paths!r}:
    rng = np.random.default_rng(0)
    w1 = tf.constant(rng.normal(0, 0.1, (3, 3, 1, 32)).astype(np.float32))
    w2 = tf.constant(rng.normal(0, 0.01, (28 * 28 * 32, 10)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="x")])
    def net(x):
        inp = tf.concat([x] * (1 + extra), axis=0) if extra else x
        logits = tf.matmul(tf.reshape(tf.nn.relu(tf.nn.conv2d(inp, w1, 1, "SAME")), [-1, 28 * 28 * 32]), w2)
        return {{"y": tf.nn.softmax(logits[: tf.shape(x)[0]])}}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([net.get_concrete_function()], net)
    open(path, "wb").write(converter.convert())
print(json.dumps("ok"))
"""

SCENARIO = """
[run]
repetitions = 3
shuffle_seed = 1
timeout = 120

[measure]
warmup_time = 0.1
min_time = 0.2
max_time = 0.5

[sweep]
formats = ["tflite"]
batch_sizes = [16]
intra_op_threads = [1]

[[models]]
name = "net"
files = { tflite = "model.tflite" }
"""


def infer_bench(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("INFER_BENCH_BASELINES", None)
    return subprocess.run([sys.executable, "-m", "bench.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """main/ and pr/ checkouts (same scenario, pr's model ~3x slower) and runs main-1 pr-1 same-1, then same-2 pr-2
    main-2 (same-k: main's checkout again): each pair of sides compared takes turns in time, A B B A."""
    root = tmp_path_factory.mktemp("ci-job")
    for side in ("main", "pr"):
        (root / side).mkdir()
        (root / side / "ci.toml").write_text(SCENARIO)
    snippet(BUILD.format(paths=[(str(root / "main" / "model.tflite"), 0), (str(root / "pr" / "model.tflite"), 2)]))
    order = (("main", "main"), ("pr", "pr"), ("same", "main"))
    for round_, sides in ((1, order), (2, order[::-1])):
        for side, checkout in sides:
            proc = infer_bench("run", "ci.toml", "--out", root / "results" / f"{side}-{round_}", "--no-report",
                               cwd=root / checkout)
            assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def test_the_job_fails_on_a_real_slowdown_and_its_summary_says_what_and_how_much(job: Path) -> None:
    summary = job / "summary.md"
    results = job / "results"
    proc = infer_bench("compare", "--baseline-run", results / "main-1", "--baseline-run", results / "main-2",
                       results / "pr-1", results / "pr-2", "--threshold", "5%", "--summary", summary,
                       "--format", "json", cwd=job)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    document = json.loads(proc.stdout)
    (cell,) = document["cells"]
    assert cell["verdict"] == "slower" and cell["n_baseline"] == cell["n_current"] == 6
    assert cell["ratio"] > 1.5 and cell["ci_low"] > 1.05
    text = summary.read_text()
    first = text.splitlines()[0]
    assert "slower" in first.lower() or "regress" in first.lower(), first
    assert "net" in text and f"{cell['ratio'] - 1:+.1%}" in text  # what got slower, by how much
    assert "smallest" in text.lower() or "detect" in text.lower()  # how small a change it could have seen


def test_an_unchanged_rerun_passes_where_the_gate_could_have_failed_it(job: Path) -> None:
    results = job / "results"
    proc = infer_bench("compare", "--baseline-run", results / "main-1", "--baseline-run", results / "main-2",
                       results / "same-1", results / "same-2", "--threshold", "5%", "--format", "json", cwd=job)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    document = json.loads(proc.stdout)
    (cell,) = document["cells"]
    assert (cell["n_baseline"], cell["n_current"]) == (6, 6)
    assert_document_can_reject(document)  # a "slower" was within the rank test's reach
    # passes: exit 0, no cell called slower (nor faster); a busy machine may leave it inconclusive (exit 3 only
    # under --strict), the job's default
    assert document["exit_code"] == 0 and cell["verdict"] in ("unchanged", "inconclusive"), cell
