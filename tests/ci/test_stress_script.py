"""`.ci/stress`, the suite on a busy machine: its own logic on tiny self-contained test files (a burner that runs
while pytest does and is gone after, pytest's exit status, --repeat stopping at the first failure, --each's
rounds and tally, bad arguments). Each call is a real `.ci/stress` with real pytest processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRESS = ROOT / ".ci" / "stress"

# A test of the burner itself: it runs, and it uses CPU (its clock ticks grow) while the tests run.
BURNER_TEST = '''
import os, time
from pathlib import Path

def burner_ticks(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime

def test_the_burner_burns():
    pid = int(os.environ["INFER_BENCH_STRESS_BURNER"])
    first, deadline = burner_ticks(pid), time.monotonic() + 60
    while burner_ticks(pid) == first:
        assert time.monotonic() < deadline, "the burner used no CPU in 60 s"
        time.sleep(0.05)
'''


def stress(*args: str) -> subprocess.CompletedProcess[str]:
    """`.ci/stress ARGS` with this interpreter, outside this pytest session (none of its PYTEST_ variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([str(STRESS), *args], capture_output=True, text=True, timeout=300,
                          env={**env, "PYTHON": sys.executable})


def burner_pid(stderr: str) -> int:
    found = re.search(r"burner pid (\d+) keeps one core busy", stderr)
    assert found, stderr
    return int(found[1])


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_each_runs_every_test_k_times_beside_the_burner_and_tallies(tmp_path: Path) -> None:
    """Two test processes, each test 3 times: the burner burns while they run and is gone after; one round of
    one parametrised case fails, so pytest's status 1 comes back and the tally names that case."""
    (tmp_path / "test_each.py").write_text(BURNER_TEST + '''
import pytest

@pytest.mark.parametrize("x", ["a", "b"])
def test_fails_in_round_two(x, stress_round):
    assert not (x == "b" and stress_round == 2)
''')
    done = stress("--each", "3", str(tmp_path / "test_each.py"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "8 passed" in done.stdout and "1 failed" in done.stdout  # 3 tests x 3 rounds
    tally = done.stdout[done.stdout.index("each test 3 times"):]
    assert re.search(r"^\s+3 of 3 passed  test_each\.py::test_the_burner_burns$", tally, re.M), tally
    assert re.search(r"^\s+3 of 3 passed  test_each\.py::test_fails_in_round_two\[a\]$", tally, re.M), tally
    assert re.search(r"^\s+2 of 3 passed, 1 failed  test_each\.py::test_fails_in_round_two\[b\]$", tally, re.M), tally
    assert gone(burner_pid(done.stderr))


def test_repeat_stops_at_the_first_failure_with_pytests_status(tmp_path: Path) -> None:
    """Run 2 of 3 fails: the script stops there with pytest's status 1 (no third run), the burner gone. In one
    test process (`-n 0` after the script's `-n 2`: pytest arguments pass through, the last one counts)."""
    runs = tmp_path / "runs"
    (tmp_path / "test_flaky.py").write_text(f'''
from pathlib import Path

def test_fails_on_the_second_run():
    runs = Path({str(runs)!r})
    runs.write_text(runs.read_text() + "x" if runs.exists() else "x")
    assert len(runs.read_text()) != 2
''')
    done = stress("--repeat", "3", str(tmp_path / "test_flaky.py"), "-n", "0")
    assert done.returncode == 1, done.stdout + done.stderr
    assert runs.read_text() == "xx"
    assert "run 2 of 3 failed (pytest exit status 1)" in done.stderr and "run 3 of 3" not in done.stderr
    assert gone(burner_pid(done.stderr))


def test_bad_arguments_are_one_line_and_exit_2() -> None:
    for args, what in ((["--repeat", "0"], "--repeat needs a whole number >= 1, got '0'"),
                       (["--each=x"], "--each needs a whole number >= 1, got 'x'"),
                       (["--repeat"], "--repeat needs a number")):
        done = stress(*args)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and what in done.stderr, done.stderr
        assert "burner" not in done.stderr  # refused before anything started

