"""`.ci/stress`, the suite on a busy machine: its own logic on tiny self-contained test files (a burner that runs
while pytest does and is gone after, pytest's exit status, --repeat stopping at the first failure, --each's
rounds and tally, a stopped script stopping pytest with its teardown, bad arguments). Each call is a real
`.ci/stress` with real pytest processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
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


def stress_env() -> dict[str, str]:
    """This interpreter, and none of this pytest session's PYTEST_ variables."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}, "PYTHON": sys.executable}


def stress(*args: str) -> subprocess.CompletedProcess[str]:
    """`.ci/stress ARGS` to the end."""
    return subprocess.run([str(STRESS), *args], capture_output=True, text=True, timeout=300, env=stress_env())


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


def test_a_stopped_script_stops_pytest_with_its_teardown_and_the_burner(tmp_path: Path) -> None:
    """SIGTERM to the script while a test runs: pytest gets SIGINT (as from Ctrl-C, even where the script was
    started with SIGINT ignored, as a background job of a non-interactive shell is), so its fixtures tear down
    (the services they start with them); then the burner goes and the script exits 143."""
    started, torn_down = tmp_path / "started", tmp_path / "torn-down"
    (tmp_path / "test_long.py").write_text(f'''
import time
from pathlib import Path
import pytest

@pytest.fixture
def service():
    Path({str(started)!r}).write_text("")
    yield
    Path({str(torn_down)!r}).write_text("")

def test_runs_long(service):
    time.sleep(600)
''')
    script = subprocess.Popen([str(STRESS), str(tmp_path / "test_long.py"), "-n", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=stress_env(),
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 120
        while not started.exists():
            assert script.poll() is None and time.monotonic() < deadline, "the test never started"
            time.sleep(0.1)
        script.send_signal(signal.SIGTERM)
        _, err = script.communicate(timeout=180)
    finally:
        script.kill()
    assert script.returncode == 143, err
    assert torn_down.exists(), "pytest was stopped without its teardown"
    assert gone(burner_pid(err))
    assert not [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, str(tmp_path / "test_long.py"))]


def _cmdline_has(proc: Path, text: str) -> bool:
    try:
        return text.encode() in (proc / "cmdline").read_bytes()
    except OSError:
        return False


def test_bad_arguments_are_one_line_and_exit_2() -> None:
    for args, what in ((["--repeat", "0"], "--repeat needs a whole number >= 1, got '0'"),
                       (["--each=x"], "--each needs a whole number >= 1, got 'x'"),
                       (["--repeat"], "--repeat needs a number")):
        done = stress(*args)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and what in done.stderr, done.stderr
        assert "burner" not in done.stderr  # refused before anything started

