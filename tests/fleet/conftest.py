"""A real Ray cluster on loopback for the fleet tests: a head and three target machines.

Started once per session with token authentication on: the head (`ray start --head`, no CPUs, no
dashboard) and three nodes joined by `infer-bench host join` itself, each with one CPU, its own Ray
directory and its own process group, so a test can kill one machine outright (and join it again, as a
new node under the same name, to leave the cluster as it found it). Stopped (every process group
killed) at the end. No Ray: the tests skip here and fail in CI (require_service).
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HOSTS = {"a": "rack=one", "b": "rack=two", "c": "rack=two"}  # name -> label; "c" is the one a test kills
INFER_BENCH = [sys.executable, "-m", "bench.cli"]
# Deadlines, not waits: every wait here polls for its condition and ends when it holds, so these only bound how
# long a broken cluster is waited for; generous, because a busy machine starts Ray's processes slowly.
START_TIMEOUT_S = 300.0
COMMAND_TIMEOUT_S = 600.0  # one `infer-bench` command against the cluster (a whole small sweep)
EVENT_TIMEOUT_S = 300.0  # a record, a worker, a worker's death


@dataclass
class Cluster:
    address: str
    env: dict[str, str]  # the token and auth mode, for drivers started as subprocesses
    root: Path
    groups: dict[str, int] = field(default_factory=dict)  # node name ("head", "a", ...) -> process group id
    dirs: dict[str, Path] = field(default_factory=dict)  # machine name -> its node's Ray directory (now)
    starts: int = 0

    def join(self, name: str) -> None:
        """Start machine `name` (a new node, its own directory and log) and wait until it has joined."""
        self.start(name)
        self.wait_joined(name)

    def start(self, name: str) -> None:
        self.starts += 1
        self.dirs[name] = self.root / f"{name}{self.starts}"
        cmd = [*INFER_BENCH, "host", "join", "--address", self.address, "--name", name, "--label", HOSTS[name],
               "--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--temp-dir", str(self.dirs[name]), "--block"]
        self.groups[name] = _start(cmd, self.env, self._log(name))

    def wait_joined(self, *names: str) -> None:
        """Until each machine's node has started and takes tasks. "Ray runtime started" comes before the rest of
        the cluster can schedule on the new node (a run right after it was refused: "cannot read the machines'
        fingerprints ... doesn't exist any more or is infeasible"), and a machine joined again is listed twice
        until its old node is declared dead: wait for what a run needs, one live node per name that answers."""
        for name in names:
            wait_until(_started(self._log(name)), START_TIMEOUT_S, f"host {name} to join")
        wait_until(lambda: self.ready(*names), START_TIMEOUT_S, f"host(s) {', '.join(names)} to take tasks", poll_s=1.0)

    def ready(self, *names: str) -> bool:
        """Each machine is one live node whose fingerprint task came back (`host list` runs one on every live
        machine and fails when one cannot take it)."""
        listed = self.run("host", "list", "--address", self.address, "--json")
        if listed.returncode != 0:
            return False
        live = [row for row in map(json.loads, listed.stdout.splitlines()) if row["alive"]]
        return all(len([r for r in live if r["name"] == name and r["fingerprint"]]) == 1 for name in names)

    def _log(self, name: str) -> Path:
        return self.dirs[name].with_suffix(".log")

    def kill(self, name: str) -> None:
        """The machine's Ray processes die at once, as when a machine loses power."""
        try:
            os.killpg(self.groups.pop(name), signal.SIGKILL)
        except (KeyError, ProcessLookupError):
            pass

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*INFER_BENCH, *args], capture_output=True, text=True, env=self.env, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*INFER_BENCH, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], env: dict[str, str], log: Path) -> int:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return proc.pid


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(poll_s)


def _started(log: Path) -> Callable[[], bool]:
    """`ray start` says so once the node is registered with the head."""
    return lambda: log.exists() and b"Ray runtime started" in log.read_bytes()


def _head(cluster: Cluster, port: int) -> None:
    ray = str(Path(sys.executable).with_name("ray"))
    cmd = [ray, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "0",
           "--include-dashboard", "false", "--temp-dir", str(cluster.root / "head"), "--disable-usage-stats"]
    cluster.groups["head"] = _start(cmd, cluster.env, cluster.root / "head.log")


@pytest.fixture(scope="session")
def cluster(require_service: Callable[[bool, str], None], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_service(importlib.util.find_spec("ray") is not None, "Ray is not installed (pip install 'infer-bench[ray]')")
    root = Path("/tmp") / f"ib-ray-{secrets.token_hex(3)}"  # short: Ray's socket paths must stay under 108 bytes
    root.mkdir()
    token = secrets.token_hex(16)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0",
           "INFER_BENCH_TEST_HOOKS": "1"}
    port = _free_port()
    c = Cluster(f"127.0.0.1:{port}", env, root)
    try:
        _head(c, port)
        wait_until(_started(root / "head.log"), START_TIMEOUT_S, "the Ray head")
        for name in HOSTS:
            c.start(name)
        c.wait_joined(*HOSTS)
        yield c
    finally:
        for name in list(c.groups):
            c.kill(name)
        # dying Ray processes may still write a log line or two: remove until nothing is left
        wait_until(lambda: _removed(root), 60, f"{root} to be removed")


def _removed(root: Path) -> bool:
    shutil.rmtree(root, ignore_errors=True)
    return not root.exists()

