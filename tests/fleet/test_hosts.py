"""The fleet's pure parts, no cluster: host selectors, version and likeness checks, scenario keys,
records without fleet fields, compare across hosts, and the one-line errors when Ray is missing or
the cluster cannot be reached."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import scenario
from bench.errors import ScenarioError
from bench.runner.executors.hosts import (
    FleetError,
    Host,
    check_alike,
    check_versions,
    host_of,
    live_hosts,
    resolve,
)
from bench.scenario import sweep
from reports.schema import IDENTITY_FIELDS, CellRecord
from tests.fleet.conftest import COMMAND_TIMEOUT_S

VERSIONS = {"ray": "2.60.0", "python": "3.11.7", "tensorflow": "2.21.0", "version": "0.1.0"}


def node(name: str, alive: bool = True, **labels: str) -> dict[str, object]:
    return {"NodeID": f"id-{name}", "Alive": alive, "NodeManagerAddress": "10.0.0.1",
            "Resources": {f"infer-bench-host:{name}": 1.0, "CPU": 1.0},
            "Labels": {"infer-bench/host": name, **{f"infer-bench/{k}": v for k, v in VERSIONS.items()}, **labels}}


HEAD = {"NodeID": "head", "Alive": True, "Resources": {"node:__internal_head__": 1.0}, "Labels": {"ray.io/node-id": "head"}}
NODES = [HEAD, node("a", cpu="icelake"), node("b", cpu="icelake"), node("g", cpu="graviton"), node("old", alive=False)]


def test_the_head_and_dead_nodes_are_no_hosts() -> None:
    assert host_of(HEAD) is None
    hosts = live_hosts(NODES)
    assert list(hosts) == ["a", "b", "g"] and hosts["a"].labels == {"cpu": "icelake"} and hosts["a"].versions == VERSIONS


def test_selectors_resolve_to_machines_or_host_classes() -> None:
    hosts = live_hosts(NODES)
    assert resolve(("cpu=icelake", "g"), hosts, distribute=False) == {"a": ("a",), "b": ("b",), "g": ("g",)}
    assert resolve(("all",), hosts, distribute=False) == {n: (n,) for n in ("a", "b", "g")}
    assert resolve(("cpu=icelake", "g"), hosts, distribute=True) == {"cpu=icelake": ("a", "b"), "g": ("g",)}
    with pytest.raises(FleetError, match=r"no live machine is 'old'; machines: a \(cpu=icelake\); b"):
        resolve(("a", "old"), hosts, distribute=False)


def test_hosts_with_other_versions_are_refused() -> None:
    hosts = live_hosts(NODES)
    check_versions(hosts.values(), VERSIONS)
    with pytest.raises(FleetError, match=r"a has tensorflow 2.21.0 \(driver: 2.20.0\)"):
        check_versions([hosts["a"]], {**VERSIONS, "tensorflow": "2.20.0"})
    unknown = Host("x", "id-x", "", True)
    with pytest.raises(FleetError, match="x has ray None"):
        check_versions([unknown], VERSIONS)


def test_distribute_refuses_unlike_machines() -> None:
    same = {"cpu": {"model": "Xeon", "logical_cores": 4}, "os": "Linux", "python": "3.11.7", "tensorflow": "2.21.0"}
    check_alike({"cpu=icelake": ("a", "b")}, {"a": same, "b": dict(same)})
    other = {**same, "cpu": {"model": "EPYC", "logical_cores": 4}}
    with pytest.raises(FleetError, match="a and b differ in cpu.model"):
        check_alike({"cpu=icelake": ("a", "b")}, {"a": same, "b": other})


def parse(sweep_text: str) -> scenario.Scenario:
    return scenario.parse(f'[sweep]\nformats = ["tflite"]\n{sweep_text}\n[[models]]\nzoo = "mnist_cnn"\n', "s.toml")


def test_hosts_are_a_sweep_axis_and_part_of_the_cell_only_when_given() -> None:
    s = parse('hosts = ["a", "cpu=icelake"]\n[[exclude]]\nhost = "a"\nbatch_size = 1')
    e = sweep.expand(s)
    assert {c.key.fleet_target for c in e.cells} == {"a", "cpu=icelake"} and e.excluded == 1
    assert e.groups[0].group_id == "mnist_cnn/tflite/cpu/@a"
    local = sweep.expand(parse("")).cells[0]
    assert local.key.fleet_target == "" and local.cell_id == "mnist_cnn/tflite/cpu/b1"
    assert set(local.identity()) == set(IDENTITY_FIELDS)


@pytest.mark.parametrize(("text", "message"), [
    ('hosts = ["a b"]', 's.toml:3: sweep.hosts: \'a b\' is not a host'),
    ('hosts = []', "s.toml:3: sweep.hosts: must be a non-empty list"),
    ('hosts = ["a", "a"]', "s.toml:3: sweep.hosts: lists a value twice"),
    ('distribute = true', "s.toml:3: sweep.distribute: only goes with `hosts`"),
    ('hosts = ["a"]\ndistribute = "yes"', "s.toml:4: sweep.distribute: must be true or false"),
])
def test_bad_hosts_keys_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse(text)
    assert str(err.value).startswith(message)


def test_a_record_without_fleet_fields_loads_as_local_and_keeps_its_identity() -> None:
    old = {"kind": "cell", "cell_id": "m/tflite/cpu/b1", "group_id": "m/tflite/cpu", "repetition": 0, "model": "m",
           "variant": "tflite", "status": "ok"}
    record = CellRecord.from_json(old)
    assert record.fleet_target == "" and record.fleet_host is None and record.extra == {}
    assert record.identity()["fleet_target"] == ""


def _run_file(tmp_path: Path, name: str, target: str) -> Path:
    from reports.schema import dumps

    cells = [{**CellRecord(cell_id="m/tflite/cpu/b1", group_id="m/tflite/cpu", repetition=r, model="m", variant="tflite",
                           fleet_target=target, fleet_host=target or None, latencies_ns=[1000 + i for i in range(50)]).to_json(),
              "run_id": name} for r in range(3)]
    path = tmp_path / name / "results.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(dumps(r) for r in [{"kind": "header", "run_id": name, "env": {"host": "h"}}, *cells]) + "\n")
    return path


def test_compare_matches_cells_across_hosts_only_when_asked(tmp_path: Path) -> None:
    from reports.compare import compare
    from reports.load import load_runs

    base, cur = load_runs([_run_file(tmp_path, "r1", "a")]), load_runs([_run_file(tmp_path, "r2", "b")])
    assert sorted(compare(base, cur).frame["verdict"]) == ["missing", "new"]
    assert list(compare(base, cur, across_hosts=True).frame["verdict"]) == ["unchanged"]


def _cli(*args: str, block_ray: bool = False) -> subprocess.CompletedProcess[str]:
    code = ("import sys; sys.modules['ray'] = None; " if block_ray else "import sys; ") + \
        f"from bench.cli import main; sys.exit(main({list(args)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)


def test_ray_missing_or_cluster_unreachable_is_one_line_exit_2(
        tmp_path: Path, require_service: Callable[[bool, str], None]) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[sweep]\nformats = ["tflite"]\nhosts = ["a"]\n[[models]]\nzoo = "mnist_cnn"\n')
    missing = _cli("run", str(path), "--cluster", "127.0.0.1:6379", block_ray=True)
    assert missing.returncode == 2 and missing.stderr.strip() == (
        "infer-bench: error: running on a cluster needs Ray: pip install 'infer-bench[ray]'")
    local = _cli("run", str(path), "--out", str(tmp_path / "run"))
    assert local.returncode == 2 and "[sweep] hosts names cluster machines: pass --cluster HEAD:PORT" in local.stderr
    assert not (tmp_path / "run").exists()
    # reaching for a cluster needs Ray itself (without it, the line above is what a user gets)
    require_service(importlib.util.find_spec("ray") is not None, "Ray is not installed (pip install 'infer-bench[ray]')")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    gone = _cli("plan", str(path), "--cluster", f"127.0.0.1:{port}")
    assert gone.returncode == 2 and gone.stderr.strip().startswith(f"infer-bench: error: cannot reach the Ray cluster at 127.0.0.1:{port}")
    assert len(gone.stderr.strip().splitlines()) == 1


def test_model_files_are_checked_against_the_drivers_bytes(tmp_path: Path) -> None:
    from bench.runner.executors.remote import check_files, checksum

    prefix = tmp_path / "ckpt" / "model.ckpt"  # a checkpoint prefix: its files, not one file
    prefix.parent.mkdir()
    for suffix in (".index", ".meta", ".data-00000-of-00001"):
        prefix.with_name(prefix.name + suffix).write_bytes(suffix.encode())
    saved = tmp_path / "sm"
    (saved / "variables").mkdir(parents=True)
    (saved / "saved_model.pb").write_bytes(b"graph")
    sums = {str(p): checksum(p) or "" for p in (prefix, saved)}
    assert all(sums.values()) and check_files(sums) is None
    (saved / "variables" / "variables.index").write_bytes(b"new")
    assert check_files(sums) == f"model file {saved} differs from the driver's (sha256 {sums[str(saved)][:12]}...); copy the same file here"
    prefix.with_name("model.ckpt.meta").unlink()
    assert check_files({str(prefix): sums[str(prefix)]}) is not None
    assert "is not on this machine" in (check_files({str(tmp_path / "gone.pb"): "0" * 64}) or "")


PARENT = """\
import sys
from pathlib import Path
from bench import scenario
from bench.runner.jobs import TaskBuilder, run_jobs
from bench.scenario import sweep
s = scenario.load(Path(sys.argv[1]))
jobs = sweep.schedule(sweep.expand(s).groups, 1)
run_jobs(jobs, TaskBuilder(s, extra=lambda job: {"fault": {"kind": "hang", "at_batch": 1}}), lambda record: None)
"""


@pytest.mark.slow
def test_a_worker_dies_with_its_parent_even_when_the_parent_is_killed(tmp_path: Path) -> None:
    """No orphan: SIGKILL to the process that started a worker (a Ray task, a driver) takes the worker down."""
    import os
    import signal

    from bench.runner.zoo_export import ensure_exported
    from tests.fleet.conftest import EVENT_TIMEOUT_S, wait_until
    from tests.fleet.helpers import file_model, no_orphans, workers_with, write_scenario

    path, mark = write_scenario(tmp_path, ["unused"], models=file_model(ensure_exported("mnist_cnn") / "model.tflite"))
    path.write_text(path.read_text().replace('hosts = ["unused"]\n', ""))
    env = {**os.environ, "INFER_BENCH_TEST_HOOKS": "1"}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(path)], env=env)
    try:
        wait_until(lambda: bool(workers_with(mark)), EVENT_TIMEOUT_S, "the hanging worker")
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    wait_until(lambda: no_orphans(mark), EVENT_TIMEOUT_S, "the worker to die with its parent")
