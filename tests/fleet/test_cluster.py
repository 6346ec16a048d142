"""A real Ray cluster on loopback (conftest.py): fleet sweeps, a lost machine, an unknown host, a killed driver.

Timings on one machine mean nothing here; these tests check correctness only: where jobs ran, that one
machine never ran two at once, that every cell has a record, and that no worker outlives its job.
The workers measure the zoo's mnist_cnn as TFLite (LiteRT loads in a fraction of a second).
The test that kills machine "c" comes last in this file and joins it again at its end; no other test uses "c".
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.fleet.conftest import COMMAND_TIMEOUT_S, EVENT_TIMEOUT_S, INFER_BENCH, Cluster, wait_until
from tests.fleet.helpers import (
    ZOO_MODEL,
    cells_written,
    file_model,
    job_intervals,
    no_orphans,
    records,
    worker_on,
    write_scenario,
)

pytestmark = pytest.mark.slow


def _tflite() -> Path:
    from bench.runner.zoo_export import ensure_exported

    return ensure_exported("mnist_cnn") / "model.tflite"


def test_two_models_on_two_hosts_one_job_per_host_at_a_time(cluster: Cluster, tmp_path: Path) -> None:
    scenario, mark = write_scenario(tmp_path, ["a", "b"], ZOO_MODEL + file_model(_tflite()),
                                    repetitions=2)
    out = cluster.run("run", str(scenario), "--cluster", cluster.address, "--out", str(tmp_path / "run"), "--no-report")
    assert out.returncode == 0, out.stderr[-3000:]
    header, cells = records(tmp_path / "run")
    assert len(cells) == 2 * 2 * 2 and {c["status"] for c in cells} == {"ok"}
    assert all(c["fleet_host"] == c["fleet_target"] for c in cells)
    assert {(c["model"], c["fleet_target"]) for c in cells} == {(m, h) for m in ("mnist_cnn", "mnist_file") for h in "ab"}
    assert len({(c["cell_id"], c["repetition"]) for c in cells}) == len(cells)
    for host, spans in job_intervals(cells).items():
        assert len(spans) == 4, host
        assert all(end <= nxt for (_, end), (nxt, _) in zip(spans, spans[1:])), f"{host} ran two jobs at once: {spans}"
    fleet = header["fleet"]
    assert fleet["targets"] == {"a": ["a"], "b": ["b"]} and set(fleet["hosts"]) == {"a", "b"}
    assert all(h["fingerprint"]["cpu"] and h["versions"]["ray"] for h in fleet["hosts"].values())
    from reports.api import render_report

    report = str(render_report([tmp_path / "run"], "md"))
    assert "## Hosts" in report and "### mnist\\_cnn · cpu · host a" in report and "| mnist\\_file | tflite | cpu | 1 | b |" in report
    assert no_orphans(mark)


def test_a_host_no_machine_offers_is_refused_before_anything_runs(cluster: Cluster, tmp_path: Path) -> None:
    scenario, _ = write_scenario(tmp_path, ["a", "nosuch"])
    out = cluster.run("run", str(scenario), "--cluster", cluster.address, "--out", str(tmp_path / "run"))
    assert out.returncode == 2, out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("infer-bench: error: [sweep] hosts: no live machine is 'nosuch'; machines:")
    assert "a (rack=one)" in line and "b (rack=two)" in line and not (tmp_path / "run").exists()
    scenario, _ = write_scenario(tmp_path, ["rack=three"])
    plan = cluster.run("plan", str(scenario), "--cluster", cluster.address)
    assert plan.returncode == 2 and "no live machine is 'rack=three'" in plan.stderr
    listed = cluster.run("host", "list", "--address", cluster.address, "--json")
    every = [json.loads(line) for line in listed.stdout.splitlines()]
    rows = {r["name"]: r for r in every if r["alive"]}
    assert listed.returncode == 0 and set(rows) == {"a", "b", "c"}, listed.stderr
    assert rows["a"]["labels"] == {"rack": "one"} and rows["a"]["version_ok"] and rows["a"]["fingerprint"]["cpu"]
    assert {r["state"] for r in rows.values()} <= {"idle", "busy"}
    assert all(r["state"] == "gone" for r in every if not r["alive"])  # machine c's node before it joined again
    wrong = subprocess.run([*INFER_BENCH, "plan", str(scenario), "--cluster", cluster.address], capture_output=True,
                           text=True, env={**cluster.env, "RAY_AUTH_TOKEN": "0" * 32}, timeout=COMMAND_TIMEOUT_S)
    assert wrong.returncode == 2 and wrong.stderr.strip() == (
        f"infer-bench: error: the Ray cluster at {cluster.address} refused this machine's token: set RAY_AUTH_TOKEN "
        "(and RAY_AUTH_MODE=token) to the cluster's token")


def _stop_after_a_record(cluster: Cluster, driver: subprocess.Popen[str], run_dir: Path, mark: str, kept: int,
                         how: signal.Signals) -> tuple[int, str]:
    """Once the run holds more than `kept` records and the next job's worker runs on machine a: signal the driver."""
    try:
        wait_until(lambda: cells_written(run_dir) > kept, EVENT_TIMEOUT_S, "a new record")
        wait_until(lambda: worker_on(mark, cluster.dirs["a"]), EVENT_TIMEOUT_S, "the next job's worker")
    finally:
        driver.send_signal(how)
        _, stderr = driver.communicate(timeout=COMMAND_TIMEOUT_S)
    wait_until(lambda: no_orphans(mark), EVENT_TIMEOUT_S, f"the worker to die after {how.name} to the driver")
    return len(records(run_dir)[1]), stderr


def test_interrupted_or_killed_drivers_leave_no_worker_and_resume_finishes(cluster: Cluster, tmp_path: Path) -> None:
    scenario, mark = write_scenario(tmp_path, ["a"], repetitions=5, min_time=0.6)
    run_dir = tmp_path / "run"
    driver = cluster.popen("run", str(scenario), "--cluster", cluster.address, "--out", str(run_dir), "--no-report")
    kept, stderr = _stop_after_a_record(cluster, driver, run_dir, mark, 0, signal.SIGINT)  # Ctrl-C: tasks cancelled
    assert driver.returncode == 130 and 1 <= kept < 5, (kept, stderr[-3000:])
    driver = cluster.popen("run", "--resume", str(run_dir), "--no-report")  # the header names the cluster
    kept, _ = _stop_after_a_record(cluster, driver, run_dir, mark, kept, signal.SIGKILL)  # Ray cleans up after it
    assert kept < 5 and {c["status"] for c in records(run_dir)[1]} == {"ok"}
    out = cluster.run("run", "--resume", str(run_dir), "--cluster", cluster.address, "--no-report")
    assert out.returncode == 0, out.stderr[-3000:]
    cells = records(run_dir)[1]
    assert sorted(c["repetition"] for c in cells) == [0, 1, 2, 3, 4] and {c["status"] for c in cells} == {"ok"}
    assert {c["fleet_host"] for c in cells} == {"a"}


def test_distribute_spreads_one_class_over_its_machines(cluster: Cluster, tmp_path: Path) -> None:
    scenario, mark = write_scenario(tmp_path, ["rack=two"], repetitions=4)
    text = scenario.read_text().replace("hosts = ", "distribute = true\nhosts = ")
    scenario.write_text(text)
    out = cluster.run("run", str(scenario), "--cluster", cluster.address, "--out", str(tmp_path / "run"), "--no-report")
    assert out.returncode == 0, out.stderr[-3000:]
    header, cells = records(tmp_path / "run")
    assert header["fleet"]["targets"] == {"rack=two": ["b", "c"]} or header["fleet"]["targets"] == {"rack=two": ["c", "b"]}
    assert {c["fleet_target"] for c in cells} == {"rack=two"} and {c["status"] for c in cells} == {"ok"}
    assert {c["fleet_host"] for c in cells} == {"b", "c"} and len({c["cell_id"] for c in cells}) == 1
    for host, spans in job_intervals(cells).items():
        assert all(end <= nxt for (_, end), (nxt, _) in zip(spans, spans[1:])), f"{host} ran two jobs at once: {spans}"


def test_a_machine_lost_mid_job_fails_its_cells_and_the_sweep_goes_on(cluster: Cluster, tmp_path: Path) -> None:
    scenario, mark = write_scenario(tmp_path, ["b", "c"], repetitions=3, min_time=1.5)
    run_dir = tmp_path / "run"
    driver = cluster.popen("run", str(scenario), "--cluster", cluster.address, "--out", str(run_dir), "--no-report")
    lost_dir = cluster.dirs["c"]
    try:
        try:
            wait_until(lambda: worker_on(mark, lost_dir), EVENT_TIMEOUT_S, "a job on machine c")
        except AssertionError as exc:
            driver.kill()
            raise AssertionError(f"{exc}; the run said: {driver.communicate()[1][-3000:]}") from None
        cluster.kill("c")
        stdout, stderr = driver.communicate(timeout=COMMAND_TIMEOUT_S)
    finally:
        driver.kill()
        if "c" not in cluster.groups:
            cluster.join("c")  # the cluster as this test found it: machine c back (a new node)
    assert driver.returncode == 1, stderr[-3000:]  # failed cells
    cells = records(run_dir)[1]
    by_host = {h: [c for c in cells if c["fleet_target"] == h] for h in ("b", "c")}
    assert len(by_host["b"]) == 3 and {c["status"] for c in by_host["b"]} == {"ok"}, [c["error"] for c in by_host["b"]]
    lost = [c for c in by_host["c"] if c["status"] != "ok"]
    assert len(by_host["c"]) == 3 and lost, by_host["c"]
    assert all(c["status"] == "failed" and c["error"].startswith("host lost: machine c") for c in lost), lost
    wait_until(lambda: no_orphans(mark), EVENT_TIMEOUT_S, "machine c's worker to die with its node")
