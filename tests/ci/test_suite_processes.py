"""How the suite is shared out between its test processes (pytest-xdist, `--dist loadgroup` in pyproject.toml)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_tests_that_share_the_ray_cluster_run_in_one_test_process() -> None:
    """Two test processes (`--dist loadgroup`, the suite's setting), fleet tests beside others: every fleet test
    goes to the same process, which starts the one loopback Ray cluster (tests/conftest.py's scheduler)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "-v", "-p", "no:cacheprovider",
                           "tests/fleet/test_hosts.py", "tests/history/test_history_bisect.py", "-k",
                           "selectors or versions or unlike or sweep_axis or fleet_fields or inconclusive_line or without_a_count"],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ran = re.findall(r"^\[(gw\d+)\].* PASSED (tests/\S+)", done.stdout, re.M)
    fleet = {worker for worker, test in ran if test.startswith("tests/fleet/")}
    assert len([t for _, t in ran if t.startswith("tests/fleet/")]) == 5 and len(fleet) == 1, ran
    assert {worker for worker, _ in ran} == {"gw0", "gw1"}, ran  # the others were shared out
