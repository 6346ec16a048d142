"""Jobs on the machines of a Ray cluster: one benchmark per machine at a time, records streamed back.

`open_fleet(address, scenario)` connects (Ray missing or the cluster unreachable: one FleetError line),
finds the live infer-bench hosts, resolves `[sweep] hosts` into targets (an unknown name or label is
refused before anything runs, listing the machines that exist), refuses hosts whose versions differ
from the driver's, and fetches every machine's fingerprint for the run header.

`RayExecutor(fleet).run(...)` dispatches from the driver: a machine gets a job only when it has none
of ours running, and each Ray task also needs the machine's one unit of `infer-bench-host:<name>`,
so two benchmarks never share a machine even across drivers. Placement is hard node affinity; tasks
are never retried (a retried benchmark is another measurement) and run in a fresh Ray worker
(max_calls=1), which starts the usual worker subprocess there (bench.runner.executors.remote).
Results come back per job with `ray.wait` and are appended on the driver through the same
JobRecorder as local jobs, each record naming its `fleet_host`.

Faults: a machine whose node dies has its running job's cells recorded failed "host lost" and gets
no more jobs; a job left with no live machine fails the same way at once (Ray would leave a task
that needs a dead node's resource pending forever, ray-project/ray#45909), and the sweep goes on.
Ctrl-C (or any error) cancels our running tasks (force: the Ray worker is killed, and its worker
subprocess dies with it by PR_SET_PDEATHSIG); a driver killed outright loses its tasks to Ray's
owner-death cleanup, with the same effect. Finished records are on disk; `--resume` continues.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.runner.executors.hosts import (
    FleetError,
    Host,
    check_alike,
    check_versions,
    host_resource,
    live_hosts,
    local_versions,
    resolve,
)
from bench.runner.jobs import NO_OUTCOME, Append, JobRecorder, JobResult, Reporter, TaskBuilder
from bench.scenario import Scenario
from bench.scenario.sweep import Job

CONNECT_TIMEOUT_S = 5.0
FINGERPRINT_TIMEOUT_S = 120.0
POLL_S = 0.5
NODE_DEATH_S = 15.0  # how long a failed task's machine may take to be marked dead (Ray's health checks: ~10 s)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise FleetError("running on a cluster needs Ray: pip install 'infer-bench[ray]'") from None
    return ray


def _reachable(address: str) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise FleetError(f"--cluster {address!r}: give the head's HOST:PORT, e.g. 10.0.0.5:6379")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise FleetError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc})") from None


CONNECT_TRIES = "5"  # Ray's attempts (about a second each) to reach the head's GCS; its default is 20


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Ray's C++ side writes its retry warnings straight to fd 2: keep them in a file while connecting."""
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("wb") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _refusal(exc: Exception, log: str, address: str) -> FleetError:
    if "InvalidAuthToken" in log or "Unauthenticated" in log:
        return FleetError(f"the Ray cluster at {address} refused this machine's token: set RAY_AUTH_TOKEN (and "
                          "RAY_AUTH_MODE=token) to the cluster's token")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return FleetError(f"cannot join the Ray cluster at {address}: {first}")


def connect(address: str) -> Any:
    """ray, connected to the cluster at `address` (the token comes from RAY_AUTH_TOKEN / Ray's token file)."""
    ray = import_ray()
    _reachable(address)
    if ray.is_initialized():
        return ray
    os.environ.setdefault("RAY_gcs_server_port_wait_time_s", CONNECT_TRIES)
    with tempfile.TemporaryDirectory(prefix="infer-bench-ray-") as tmp:
        log = Path(tmp) / "connect.log"
        try:
            with _stderr_to(log):
                ray.init(address=address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
        except Exception as exc:  # Ray raises ConnectionError, AuthenticationError, RuntimeError ...
            raise _refusal(exc, log.read_text(errors="replace"), address) from None
    return ray


@dataclass
class Fleet:
    """A connected cluster and the part of it a scenario uses."""

    address: str
    ray: Any
    hosts: dict[str, Host]  # every live infer-bench host
    targets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # fleet_target -> machines it may run on
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)

    def used(self) -> list[Host]:
        return [self.hosts[n] for n in dict.fromkeys(n for names in self.targets.values() for n in names)]

    def header(self) -> dict[str, Any]:
        """The run header's "fleet": where it ran and every machine's fingerprint."""
        return {"address": self.address, "targets": {t: list(n) for t, n in self.targets.items()},
                "hosts": {h.name: {"labels": dict(h.labels), "versions": dict(h.versions),
                                   "fingerprint": self.fingerprints.get(h.name)} for h in self.used()}}

    def close(self) -> None:
        self.ray.shutdown()


def _on_node(ray: Any, host: Host) -> Any:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id=host.node_id, soft=False)


def fetch_fingerprints(ray: Any, hosts: list[Host]) -> dict[str, dict[str, Any]]:
    from bench.runner.executors.remote import host_fingerprint

    task = ray.remote(host_fingerprint)
    refs = [task.options(num_cpus=0, max_retries=0, scheduling_strategy=_on_node(ray, h)).remote() for h in hosts]
    try:
        values = ray.get(refs, timeout=FINGERPRINT_TIMEOUT_S)
    except Exception as exc:
        raise FleetError(f"cannot read the machines' fingerprints: {str(exc).strip().splitlines()[0]}") from None
    return {h.name: dict(v) for h, v in zip(hosts, values, strict=True)}


def open_fleet(address: str, scenario: Scenario, fingerprints: bool = True) -> Fleet:
    """Connect and check the machines `[sweep] hosts` names (see the module docstring); `fingerprints`: read
    every machine's for a new run's header (distribute always reads them, to check the machines are alike)."""
    if not scenario.sweep.hosts:
        raise FleetError(f"{scenario.path or 'the scenario'}: --cluster needs [sweep] hosts = [...] (names, labels, or \"all\")")
    ray = connect(address)
    fleet = Fleet(address, ray, live_hosts(ray.nodes()))
    fleet.targets = resolve(scenario.sweep.hosts, fleet.hosts, scenario.sweep.distribute)
    check_versions(fleet.used(), local_versions())
    if fingerprints or scenario.sweep.distribute:
        fleet.fingerprints = fetch_fingerprints(ray, fleet.used())
    if scenario.sweep.distribute:
        check_alike(fleet.targets, fleet.fingerprints)
    return fleet


# ------------------------------------------------------------------ dispatch


@contextlib.contextmanager
def _interrupt_flag() -> Iterator[Callable[[], bool]]:
    """Ctrl-C as a flag the driver's loop checks between Ray calls. A KeyboardInterrupt raised inside Ray's client
    calls was lost once under load (the run went on to its end after SIGINT and exited 0); the flag does not depend
    on how Ray's client handles it."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    hit = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: hit.set())
    try:
        yield hit.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


def host_lost(name: str) -> dict[str, Any]:
    return {"status": "failed", "error": f"host lost: machine {name} left the cluster (its node died) before this "
            "job finished; --resume runs it again"}


@dataclass
class _Running:
    job: Job
    host: str
    recorder: JobRecorder


class RayExecutor:
    """Runs jobs on the fleet's machines (see the module docstring)."""

    def __init__(self, fleet: Fleet, poll_s: float = POLL_S) -> None:
        from bench.runner.executors.remote import run_on_host

        self.fleet, self.ray, self.poll_s = fleet, fleet.ray, poll_s
        self.task = self.ray.remote(max_calls=1)(run_on_host)  # a fresh Ray worker per job
        self.dead: set[str] = set()
        self.sums: dict[tuple[str, str], dict[str, str]] = {}  # (model, variant) -> the driver's file checksums

    def run(self, jobs: list[Job], builder: TaskBuilder, append: Append, reporter: Reporter) -> list[JobResult]:
        queue = list(enumerate(jobs))
        running: dict[Any, _Running] = {}
        results: list[JobResult] = []
        try:
            with _interrupt_flag() as interrupted:
                while (queue or running) and not interrupted():
                    self._step(queue, running, builder, append, reporter, results, len(jobs))
                if interrupted():
                    raise KeyboardInterrupt
        except BaseException:
            self._cancel(running)
            raise
        return results

    def _step(self, queue: list[tuple[int, Job]], running: dict[Any, _Running], builder: TaskBuilder, append: Append,
              reporter: Reporter, results: list[JobResult], total: int) -> None:
        self._watch_nodes(running, results)
        self._fail_orphans(queue, append, reporter, results)
        self._submit(queue, running, builder, append, reporter, total)
        self._collect(running, results)

    def _pool(self, job: Job) -> tuple[str, ...]:
        return self.fleet.targets.get(job.group.key.fleet_target, ())

    def _checksums(self, builder: TaskBuilder, job: Job) -> dict[str, str]:
        """The driver's checksums of a job's files, read once per model and variant (files can be large)."""
        from bench.runner.executors.remote import model_checksums

        key = (job.group.key.model, job.group.key.variant)
        if key not in self.sums:
            self.sums[key] = model_checksums(builder, job)
        return self.sums[key]

    def _submit(self, queue: list[tuple[int, Job]], running: dict[Any, _Running], builder: TaskBuilder,
                append: Append, reporter: Reporter, total: int) -> None:
        busy = {r.host for r in running.values()} | self.dead
        for name, host in self.fleet.hosts.items():
            pick = next(((i, j) for i, j in queue if name in self._pool(j)), None) if name not in busy else None
            if pick is None:
                continue
            queue.remove(pick)
            index, job = pick
            reporter.job_started(job, index, total)
            ref = self.task.options(num_cpus=0, max_retries=0, resources={host_resource(name): 1},
                                    scheduling_strategy=_on_node(self.ray, host), name=f"infer-bench {job.group.group_id}#{job.repetition}",
                                    ).remote(job, builder, self._checksums(builder, job))
            running[ref] = _Running(job, name, JobRecorder(job, append, reporter, {"fleet_host": name}))

    def _collect(self, running: dict[Any, _Running], results: list[JobResult]) -> None:
        if not running:
            return
        ready, _ = self.ray.wait(list(running), num_returns=1, timeout=self.poll_s)
        for ref in ready:
            results.append(self._result(ref, running.pop(ref)))

    def _result(self, ref: Any, run: _Running) -> JobResult:
        from ray.exceptions import NodeDiedError, RayError

        try:
            done = self.ray.get(ref)
        except NodeDiedError:
            self.dead.add(run.host)
            return run.recorder.finish(NO_OUTCOME, host_lost(run.host))
        except RayError as exc:  # its Ray worker died: with its machine (a dying node's workers go first) or alone
            if self._node_died(run.host):
                self.dead.add(run.host)
                return run.recorder.finish(NO_OUTCOME, host_lost(run.host))
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return run.recorder.finish(NO_OUTCOME, {"status": "crashed", "error": f"the Ray task on {run.host} failed: {text}"})
        for message in done.outcome.messages:
            run.recorder.on_message(message)
        return run.recorder.finish(done.outcome, done.fields)

    def _node_died(self, name: str, settle_s: float = NODE_DEATH_S) -> bool:
        """Whether the machine's node is dead, waiting as long as the cluster takes to notice (health checks)."""
        deadline = time.monotonic() + settle_s
        while True:
            alive = live_hosts(self.ray.nodes())
            if name not in alive or alive[name].node_id != self.fleet.hosts[name].node_id:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(self.poll_s)

    def _watch_nodes(self, running: dict[Any, _Running], results: list[JobResult]) -> None:
        """Machines whose node died: their running job is cancelled and recorded "host lost"."""
        try:
            alive = live_hosts(self.ray.nodes())
        except Exception as exc:  # the head is gone: nothing can be scheduled any more
            raise FleetError(f"lost the Ray cluster at {self.fleet.address} ({str(exc).strip()[:200] or type(exc).__name__}); "
                             "finished records are kept: infer-bench run --resume RUN_DIR continues") from None
        lost = {n for n, h in self.fleet.hosts.items() if n not in alive or alive[n].node_id != h.node_id}
        self.dead |= lost
        for ref, run in list(running.items()):
            if run.host in self.dead:
                self._cancel({ref: run})
                results.append(run.recorder.finish(NO_OUTCOME, host_lost(run.host)))
                running.pop(ref)

    def _fail_orphans(self, queue: list[tuple[int, Job]], append: Append, reporter: Reporter,
                      results: list[JobResult]) -> None:
        """Queued jobs none of whose machines is alive fail now instead of waiting forever."""
        for item in list(queue):
            pool = self._pool(item[1])
            if all(n in self.dead for n in pool):
                queue.remove(item)
                recorder = JobRecorder(item[1], append, reporter, {"fleet_host": pool[0] if len(pool) == 1 else None})
                results.append(recorder.finish(NO_OUTCOME, host_lost(", ".join(pool) or item[1].group.key.fleet_target)))

    def _cancel(self, running: Mapping[Any, _Running]) -> None:
        for ref in running:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # a task on a dead node, or already finished: nothing left to stop
                pass

