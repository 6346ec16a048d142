"""`infer-bench host join|list`: the target machines of a Ray cluster (README: Many machines).

`join` starts a Ray node on this machine that joins the head at --address and offers one unit of
`infer-bench-host:<name>` (one benchmark at a time here), with its name, versions and the user's
labels as node labels (bench.runner.executors.hosts). The cluster's token is passed through: token
authentication stays on. `list` shows every machine: labels, versions, busy or idle, fingerprint.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

TOKEN_ENV = "RAY_AUTH_TOKEN"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("host", help="target machines of a Ray cluster: join this one, list them",
                       description="Machines of a Ray cluster that `run --cluster` measures on (pip install 'infer-bench[ray]').")
    hsub = p.add_subparsers(dest="host_command", metavar="ACTION", required=True)
    j = hsub.add_parser("join", help="make this machine a target of the cluster at --address (starts a Ray node)",
                        description="Start a Ray node here that joins the head at --address as infer-bench host NAME: "
                        "one benchmark at a time, labelled with NAME, --label values and the Ray, Python, TensorFlow "
                        "and infer-bench versions (the driver refuses mismatches).")
    j.add_argument("--address", required=True, metavar="HEAD:PORT", help="the Ray head's address")
    j.add_argument("--name", help="this machine's name in scenarios and reports (default: the hostname)")
    j.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="a label scenarios can select (repeatable)")
    j.add_argument("--token-file", type=Path, metavar="FILE",
                   help=f"the cluster's auth token (default: ${TOKEN_ENV}, else Ray's ~/.ray/auth_token)")
    j.add_argument("--node-ip-address", metavar="IP", help="this machine's address on the cluster's private network")
    j.add_argument("--num-cpus", type=int, metavar="N", help="CPUs Ray may schedule here (default: Ray's count)")
    j.add_argument("--temp-dir", metavar="DIR", help="Ray's directory for this node (default: Ray's)")
    j.add_argument("--block", action="store_true", help="stay in the foreground; the node stops with this command")
    j.set_defaults(func=join)
    ls = hsub.add_parser("list", help="the cluster's machines: labels, versions, busy/idle, fingerprint")
    ls.add_argument("--address", required=True, metavar="HEAD:PORT", help="the Ray head's address")
    ls.add_argument("--json", action="store_true", help="one JSON object per machine")
    ls.set_defaults(func=list_hosts)


# ------------------------------------------------------------------ join


def _name(args: argparse.Namespace) -> str:
    import socket

    from bench.runner.executors.hosts import ALL, FleetError

    name = args.name or socket.gethostname().split(".")[0]
    if name == ALL or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise FleetError(f"--name {name!r}: use letters, digits, '-', '_' and '.', and not 'all'")
    return name


def _labels(args: argparse.Namespace, name: str) -> dict[str, str]:
    from bench.runner.executors.hosts import LABEL_PREFIX, NAME_LABEL, FleetError, version_labels

    labels = {NAME_LABEL: name, **version_labels()}
    for text in args.label:
        key, eq, value = text.partition("=")
        if not eq or not key or key.startswith((LABEL_PREFIX, "ray.io/")):
            raise FleetError(f"--label {text!r}: give KEY=VALUE (keys starting {LABEL_PREFIX} or ray.io/ are reserved)")
        labels[key] = value
    return labels


def _token_env(args: argparse.Namespace) -> dict[str, str]:
    """RAY_AUTH_MODE=token and the token: from --token-file, $RAY_AUTH_TOKEN, or Ray's own token file."""
    from bench.runner.executors.hosts import FleetError

    if args.token_file is not None:
        try:
            return {"RAY_AUTH_MODE": "token", TOKEN_ENV: args.token_file.read_text().strip()}
        except OSError as exc:
            raise FleetError(f"--token-file {args.token_file}: {exc.strerror}") from None
    if os.environ.get(TOKEN_ENV) or (Path.home() / ".ray" / "auth_token").exists():
        return {"RAY_AUTH_MODE": "token"}
    raise FleetError(f"no cluster token: pass --token-file, or set {TOKEN_ENV} (on the head: `ray get-auth-token`); "
                     "token authentication stays on")


def ray_start_command(args: argparse.Namespace, name: str, labels: dict[str, str]) -> list[str]:
    import json

    from bench.runner.executors.hosts import host_resource

    ray_bin = Path(sys.executable).with_name("ray")
    cmd = [str(ray_bin)] if ray_bin.exists() else [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]
    cmd += ["start", "--address", args.address, "--resources", json.dumps({host_resource(name): 1}),
            "--labels", ",".join(f"{k}={v}" for k, v in labels.items()), "--disable-usage-stats"]
    for flag, value in (("--node-ip-address", args.node_ip_address), ("--num-cpus", args.num_cpus), ("--temp-dir", args.temp_dir)):
        if value is not None:
            cmd += [flag, str(value)]
    return cmd + (["--block"] if args.block else [])


def join(args: argparse.Namespace) -> int:
    import subprocess

    from bench.runner.executors.ray_executor import import_ray

    import_ray()
    name = _name(args)
    env = {**os.environ, **_token_env(args), "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = ray_start_command(args, name, _labels(args, name))
    print(f"joining {args.address} as host {name}", file=sys.stderr, flush=True)
    return subprocess.run(cmd, env=env).returncode


# ------------------------------------------------------------------ list


def host_rows(ray: Any) -> list[dict[str, Any]]:
    """Every infer-bench host the cluster knows (live or not), with busy/idle, versions and fingerprint."""
    from bench.runner.executors.hosts import host_of, host_resource, local_versions
    from bench.runner.executors.ray_executor import fetch_fingerprints

    hosts = [h for h in map(host_of, ray.nodes()) if h is not None]
    free = ray.available_resources()
    prints = fetch_fingerprints(ray, [h for h in hosts if h.alive])
    own = local_versions()
    return [{"name": h.name, "alive": h.alive, "address": h.address, "labels": dict(h.labels),
             "state": "gone" if not h.alive else ("idle" if free.get(host_resource(h.name), 0) >= 1 else "busy"),
             "versions": dict(h.versions), "version_ok": dict(h.versions) == own,
             "fingerprint": prints.get(h.name) if h.alive else None} for h in hosts]


def _line(row: dict[str, Any]) -> str:
    fp = row.get("fingerprint") or {}
    cpu = fp.get("cpu") or {}
    labels = ",".join(f"{k}={v}" for k, v in sorted(row["labels"].items())) or "-"
    versions = " ".join(f"{k} {v}" for k, v in row["versions"].items()) + ("" if row["version_ok"] else "  (MISMATCH)")
    machine = f"{cpu.get('model', '?')}, {cpu.get('logical_cores', '?')} cores, {(fp.get('memory_bytes') or 0) / 2**30:.1f} GiB"
    return f"{row['name']:<16} {row['state']:<5} {row['address']:<16} {labels:<24} {machine} | {versions}"


def list_hosts(args: argparse.Namespace) -> int:
    import json

    from bench.runner.executors.ray_executor import connect

    ray = connect(args.address)
    try:
        rows = host_rows(ray)
    finally:
        ray.shutdown()
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        print("\n".join(map(_line, rows)) if rows else "no machines: join one with `infer-bench host join`")
    return 0
