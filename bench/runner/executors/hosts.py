"""The machines of a Ray cluster as infer-bench sees them, and which of them a scenario names.

A target machine joins with `infer-bench host join` (bench.cli.host), which starts a Ray node with
- one unit of the custom resource `infer-bench-host:<name>`: a job needs it, so one benchmark at a time
  runs on a machine (the head, which offers none, is not measured);
- the labels `infer-bench/host=<name>`, the versions that must match the driver's
  (`infer-bench/ray`, `/python`, `/tensorflow`, `/version`), and the user's own `key=value` labels.

Pure functions over `ray.nodes()` dictionaries: no Ray import here.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.errors import BenchError

RESOURCE_PREFIX = "infer-bench-host:"
LABEL_PREFIX = "infer-bench/"
NAME_LABEL = LABEL_PREFIX + "host"
VERSION_KEYS = ("ray", "python", "tensorflow", "version")  # label infer-bench/<key>
ALL = "all"


class FleetError(BenchError):
    """The cluster cannot run this scenario as asked: Ray missing, unreachable, a host unknown or mismatched."""


def host_resource(name: str) -> str:
    return RESOURCE_PREFIX + name


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "none"


def local_versions() -> dict[str, str]:
    """What a host must match: Ray, Python, TensorFlow and infer-bench versions (no TensorFlow import)."""
    return {"ray": _dist_version("ray"), "python": platform.python_version(),
            "tensorflow": _dist_version("tensorflow"), "version": _dist_version("infer-bench")}


def version_labels() -> dict[str, str]:
    return {LABEL_PREFIX + k: v for k, v in local_versions().items()}


@dataclass(frozen=True)
class Host:
    """One measured machine: a live Ray node that offers an infer-bench host resource."""

    name: str
    node_id: str
    address: str
    alive: bool
    labels: Mapping[str, str] = field(default_factory=dict)  # the user's labels (not infer-bench's own)
    versions: Mapping[str, str] = field(default_factory=dict)

    def matches(self, selector: str) -> bool:
        """A selector names this host: "all", its name, or one of its labels "key=value"."""
        if selector == ALL or selector == self.name:
            return True
        key, eq, value = selector.partition("=")
        return bool(eq) and self.labels.get(key) == value

    def describe(self) -> str:
        labels = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.name}" + (f" ({labels})" if labels else "")


def host_of(node: Mapping[str, Any]) -> Host | None:
    """The Host a `ray.nodes()` entry is, or None for a node that is no infer-bench host (the head)."""
    names = [r[len(RESOURCE_PREFIX):] for r in (node.get("Resources") or {}) if str(r).startswith(RESOURCE_PREFIX)]
    labels = dict(node.get("Labels") or {})
    name = labels.get(NAME_LABEL) or (names[0] if names else None)
    if not name:
        return None
    own = {k: v for k, v in labels.items() if not k.startswith(LABEL_PREFIX) and not k.startswith("ray.io/")}
    versions = {k: labels.get(LABEL_PREFIX + k, "unknown") for k in VERSION_KEYS}
    return Host(str(name), str(node.get("NodeID", "")), str(node.get("NodeManagerAddress", "")),
                bool(node.get("Alive")), own, versions)


def live_hosts(nodes: Iterable[Mapping[str, Any]]) -> dict[str, Host]:
    """name -> Host for every live infer-bench host (a name that re-joined: its live node)."""
    out: dict[str, Host] = {}
    for host in filter(None, map(host_of, nodes)):
        if host.alive:
            out[host.name] = host
    return out


def _listing(hosts: Mapping[str, Host]) -> str:
    return "; ".join(h.describe() for h in hosts.values()) or "none (join one with `infer-bench host join`)"


def resolve(selectors: tuple[str, ...], hosts: Mapping[str, Host], distribute: bool) -> dict[str, tuple[str, ...]]:
    """Fleet targets -> the machines each may run on.

    Without distribute every machine a selector names is a target of its own (cross-machine comparison);
    with distribute each selector is one target whose jobs its machines share. A selector that names no
    live machine is refused, with the machines that exist."""
    targets: dict[str, tuple[str, ...]] = {}
    for selector in selectors:
        names = tuple(n for n, h in hosts.items() if h.matches(selector))
        if not names:
            raise FleetError(f"[sweep] hosts: no live machine is {selector!r}; machines: {_listing(hosts)}")
        if distribute:
            targets[selector] = names
        else:
            targets.update({n: (n,) for n in names})
    return targets


def check_versions(hosts: Iterable[Host], own: Mapping[str, str]) -> None:
    """Refuse hosts whose Ray, Python, TensorFlow or infer-bench version differs from the driver's."""
    bad = [f"{h.name} has " + ", ".join(f"{k} {h.versions.get(k)} (driver: {own[k]})" for k in VERSION_KEYS
                                        if h.versions.get(k) != own[k])
           for h in hosts if any(h.versions.get(k) != own[k] for k in VERSION_KEYS)]
    if bad:
        raise FleetError("version mismatch: " + "; ".join(bad) + "; install the same versions everywhere and re-join")


SAME_MACHINE_KEYS = ("os", "cpu.model", "cpu.logical_cores", "gpus", "python", "tensorflow")


def _get(d: Mapping[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        d = d.get(part) if isinstance(d, Mapping) else None  # type: ignore[assignment]
    return d


def check_alike(targets: Mapping[str, tuple[str, ...]], fingerprints: Mapping[str, Mapping[str, Any]]) -> None:
    """distribute = true: the machines of one target must agree on CPU, OS, GPUs, Python and TensorFlow."""
    for target, names in targets.items():
        first = names[0]
        for other in names[1:]:
            diff = [k for k in SAME_MACHINE_KEYS if _get(fingerprints[first], k) != _get(fingerprints[other], k)]
            if diff:
                raise FleetError(f"[sweep] distribute: {target!r} mixes unlike machines: {first} and {other} differ in "
                                 f"{', '.join(diff)}; list them as separate hosts instead")
