"""The README's examples run, in the order they appear, in a fresh directory (issue 15, item 6).

Every line of every ```bash block is run with bash in one temporary directory holding a copy of
`scenarios/` (what a clone gives a user); a ```python block whose first line is `# NAME.py` is written
to that file first. Each command must exit 0. Only the commands that take minutes are skipped, each
listed below with the reason; a listed command the README no longer has fails the test, so the list
cannot go stale.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CI_RUN = "runs scenarios/ci.toml (3 groups x 10 repetitions = 30 worker processes): minutes"

TAKES_MINUTES = {
    'pip install -e ".[test]"': "installs this package, which the tests already run from (minutes from a cold cache)",
    "infer-bench run": "the full default sweep: 28 cells in one interleaved worker, rounds of fresh workers until the "
        "ratios are known to ±3% or 90 s of measuring: about 2 minutes",
    "python -m pytest -q": "the whole test suite, this test included",
    "infer-bench run --quick": "one interleaved worker for the five formats plus one parity worker, each loading all "
        "five: the two --quick runs of model paths above run the same code",
    "infer-bench run scenarios/ckpt_vs_frozen.toml": "10 variants x 3 repetitions at the default policy: minutes",
    "infer-bench run scenarios/ci.toml --out results/pr-123": CI_RUN,
    "infer-bench run scenarios/ci.toml --out results/main && infer-bench baseline save results/main --name main": CI_RUN,
    "infer-bench run scenarios/ci.toml --out results/pr   && infer-bench compare --baseline main results/pr "
    "--threshold 5%": CI_RUN,
    "echo $?": "prints the exit code of the skipped compare above",
    'infer-bench compare results/main results/pr --format md >> "$GITHUB_STEP_SUMMARY"':
        "compares results/main and results/pr, the two skipped ci.toml runs",
    "pytest --infer-bench-scenario scenarios/ci.toml --benchmark-only --benchmark-json bench.json": CI_RUN,
    "pytest --infer-bench-scenario scenarios/ci.toml --infer-bench-compare main": CI_RUN,
    "infer-bench import pytest-benchmark bench-1.json bench-2.json bench-3.json --out results/pytest":
        "imports the files of three pytest-benchmark sessions of ci.toml (skipped above)",
}
# Commands that need what a fresh directory cannot have: another run, a git repository, a server, a cluster.
NEEDS_OUTSIDE = {
    "infer-bench history add results/pr --commit v1.2 --branch release":
        "needs a pull request's run (results/pr) and a git repository with tag v1.2 (tests/history covers both)",
    'infer-bench history check --branch main --summary "$GITHUB_STEP_SUMMARY"':
        "writes CI's job summary file; tests/history runs check with --summary",
    "infer-bench bisect --good v1.2 --bad HEAD --scenario scenarios/ci.toml":
        "needs a git repository with tag v1.2; tests/history/test_history_bisect.py bisects a repository it builds",
    "INFER_BENCH_DB=postgresql://bench@db/bench infer-bench history add results/latest":
        "needs a PostgreSQL server named db; tests/history starts a real one on a Unix socket",
    "pip install 'infer-bench[ray]'": "installs the Ray extra (CI installs it)",
    "ray get-auth-token --generate > cluster.token": "the Ray head's setup (tests/fleet starts a loopback cluster)",
    "RAY_AUTH_MODE=token ray start --head --port 6379 --node-ip-address 10.0.0.5 --include-dashboard false "
    "--disable-usage-stats": "starts a Ray head on a private network address",
    "infer-bench host join --address 10.0.0.5:6379 --name c6i-large --label cpu=icelake --token-file cluster.token":
        "joins a target machine to that cluster",
    "infer-bench host list --address 10.0.0.5:6379": "asks that cluster",
    "infer-bench run scenarios/fleet.toml --cluster 10.0.0.5:6379": "runs on that cluster",
    "infer-bench run scenarios/serving.toml": "every load point runs for its minimum duration (10 s) per format: minutes",
    "infer-bench capacity mnist_cnn --slo-ms 5 --slo-percentile 99":
        "a capacity search doubles, bisects and confirms in fresh workers, 10 s per step: minutes (tests/load runs one)",
    "infer-bench capacity models/mnist/frozen.pb --slo-ms 5 --max-batch-size 8 --allowed-batch-sizes 2,4,8":
        "the same search with batching: minutes",
    "infer-bench tune mobilenet_v2 --slo-ms 20": "successive halving over many candidates: minutes (tests/load runs one)",
    "infer-bench profile-diff models/mnist/checkpoint models/mnist/frozen.pb --batch 32 --coldstart --repeat 3":
        "3 cold starts per side in fresh workers (46 s here); tests/profiling/test_cli_zoo.py runs the same diff "
        "with --repeat 2",
    "infer-bench profile mobilenet_v2 --format saved_model --batch 32 --trace trace.json":
        "exports and profiles mobilenet_v2 (20 s here); tests/profiling profiles mobilenet_v2 and writes a trace",
}
TAKES_MINUTES = {**TAKES_MINUTES, **NEEDS_OUTSIDE}


@dataclass(frozen=True)
class Step:
    line: int
    kind: str  # "bash" or "file"
    text: str  # the command (its comment cut), or the file's content
    name: str = ""  # the file name for "file"


def _command(line: str) -> str:
    return re.split(r"\s+#\s", line, maxsplit=1)[0].strip()


def readme_steps(text: str) -> list[Step]:
    """The bash commands and named Python files of the README, in order."""
    steps: list[Step] = []
    for block in re.finditer(r"^```(\w+)\n(.*?)^```", text, flags=re.S | re.M):
        lang, body = block.group(1), block.group(2)
        first = text[: block.start()].count("\n") + 2
        if lang == "python" and (named := re.match(r"# (\S+\.py)\n", body)):
            steps.append(Step(first, "file", body, named.group(1)))
        elif lang == "bash":
            steps += [Step(first + i, "bash", _command(line)) for i, line in enumerate(body.splitlines())
                      if _command(line) and not line.lstrip().startswith("#")]
    return steps


def test_the_skip_list_names_only_commands_the_readme_has() -> None:
    commands = {s.text for s in readme_steps((ROOT / "README.md").read_text()) if s.kind == "bash"}
    assert set(TAKES_MINUTES) <= commands, set(TAKES_MINUTES) - commands


def test_the_readme_examples_run_in_order(tmp_path: Path) -> None:
    bindir = Path(sys.executable).parent
    assert (bindir / "infer-bench").exists(), f"infer-bench is not installed next to {sys.executable}"
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("INFER_BENCH_BASELINES", None)
    ran: list[str] = []
    for step in readme_steps((ROOT / "README.md").read_text()):
        if step.kind == "file":
            (tmp_path / step.name).write_text(step.text)
            continue
        if step.text in TAKES_MINUTES:
            continue
        started = time.monotonic()
        proc = subprocess.run(["bash", "-c", step.text], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        ran.append(f"{time.monotonic() - started:5.1f} s  README.md:{step.line}: {step.text}")
        assert proc.returncode == 0, (f"README.md:{step.line}: `{step.text}` exited {proc.returncode}\n"
                                      f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}\nran before it:\n" + "\n".join(ran))
    print("\n".join(ran))
    assert len(ran) >= 20
