"""pytest plugin behind `.ci/stress --each K`: every selected test runs K times, and a tally per test closes
the output.

Each round is a parameter of its own (`stress_round`, id `stressRofK`), so each run is a test item with its own
id and temporary directory, and the test processes share the rounds out as they share any tests. The tally
counts, per test (the id less the round), the rounds that passed, failed (in setup, call or teardown) or
skipped; the controller sees every report, also from xdist's workers.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

OPTION = "--stress-each"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(OPTION, type=int, default=0, metavar="K", help="run every selected test K times (.ci/stress)")


def _rounds(config: pytest.Config) -> int:
    return int(config.getoption(OPTION))


def _round_id(index: int, rounds: int) -> str:
    return f"stress{index + 1}of{rounds}"


@pytest.fixture
def stress_round(request: pytest.FixtureRequest) -> int:
    """Which of the K rounds this run of the test is (1-based)."""
    return int(request.param) + 1


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    rounds = _rounds(metafunc.config)
    if rounds > 0:
        metafunc.fixturenames.append("stress_round")
        metafunc.parametrize("stress_round", range(rounds), indirect=True,
                             ids=[_round_id(i, rounds) for i in range(rounds)])


def base_id(nodeid: str, rounds: int) -> str:
    """The test's id without its round (the round's id is the only parameter, or one among others)."""
    for i in range(rounds):
        token = _round_id(i, rounds)
        if token in nodeid:
            return nodeid.replace(f"[{token}]", "").replace(f"{token}-", "").replace(f"-{token}", "")
    return nodeid


class Tally:
    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.failed: set[str] = set()
        self.skipped: set[str] = set()
        self.passed: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed.add(report.nodeid)
        elif report.skipped:
            self.skipped.add(report.nodeid)
        elif report.when == "call":
            self.passed.add(report.nodeid)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        counts: dict[str, dict[str, int]] = defaultdict(lambda: {"passed": 0, "failed": 0, "skipped": 0})
        for nodeid in self.failed:
            counts[base_id(nodeid, self.rounds)]["failed"] += 1
        for nodeid in self.skipped - self.failed:
            counts[base_id(nodeid, self.rounds)]["skipped"] += 1
        for nodeid in self.passed - self.failed - self.skipped:
            counts[base_id(nodeid, self.rounds)]["passed"] += 1
        terminalreporter.section(f"each test {self.rounds} times")
        for test, c in sorted(counts.items()):
            extra = "".join(f", {c[k]} {k}" for k in ("failed", "skipped") if c[k])
            terminalreporter.write_line(f"{c['passed']:>4} of {self.rounds} passed{extra}  {test}")


def pytest_configure(config: pytest.Config) -> None:
    rounds = _rounds(config)
    if rounds > 0 and not hasattr(config, "workerinput"):  # the tally on the controller (or a run without xdist)
        config.pluginmanager.register(Tally(rounds), "stress-each-tally")
