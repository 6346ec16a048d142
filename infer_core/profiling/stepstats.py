"""Reading a fully traced Session run's step stats (`RunMetadata.step_stats`) into op samples.

Each device's `node_stats` hold one entry per executed node: its name, a timeline label
"[allocator info] name = OpType(inputs)" that names the kernel actually run (after grappler's
rewrites, e.g. `_MklNativeFusedConv2D` for Conv2D+BiasAdd+Relu), and its start/end times. On a
GPU, TensorFlow reports each kernel twice: as launched on "/device:GPU:0" and as executed on
"/device:GPU:0/stream:all"; the stream entry holds the device time, so it replaces the launch
entries, and per-stream and memcpy duplicates are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from infer_core.profiling.records import OpSample

_LABEL = re.compile(r"^(?:\[[^\]]*\]\s*)?(?P<name>\S+) = (?P<type>[^\s(]+)\(")


def op_type_of(label: str, name: str, lookup: Callable[[str], str | None]) -> str:
    """The kernel's op type from the timeline label, else from the graph, else '?'."""
    match = _LABEL.match(label or "")
    if match:
        return match.group("type")
    return lookup(name) or "?"


def _node_ns(node: Any) -> int:
    """A node's whole duration (allocation included), in ns; older protos only have micros."""
    ns = int(node.all_end_rel_nanos)
    return ns if ns > 0 else int(node.all_end_rel_micros) * 1000


def short_device(device: str) -> str:
    """'/job:localhost/replica:0/task:0/device:CPU:0' -> 'CPU:0' (stream suffix kept)."""
    tail = device.split("/device:")[-1]
    return tail


def _kept_devices(names: list[str]) -> set[str]:
    """Which device entries hold real op times (see module docstring)."""
    streams_all = {n[: -len("/stream:all")] for n in names if n.endswith("/stream:all")}
    kept = set()
    for n in names:
        if "memcpy" in n.lower() or ("/stream:" in n and not n.endswith("/stream:all")):
            continue
        if n in streams_all:
            continue  # launch entries; the stream:all entry has the device time
        kept.add(n)
    return kept


def graph_lookup(graph: Any) -> Callable[[str], str | None]:
    """Op type by node name in a tf.Graph, None for names grappler invented."""

    def lookup(name: str) -> str | None:
        try:
            return str(graph.get_operation_by_name(name).type)
        except (KeyError, ValueError):
            return None

    return lookup


def samples(step_stats: Any, lookup: Callable[[str], str | None] = lambda _: None) -> list[OpSample]:
    """Every executed node of one traced run as an OpSample."""
    names = [d.device for d in step_stats.dev_stats]
    kept = _kept_devices(names)
    out = []
    for dev in step_stats.dev_stats:
        if dev.device not in kept:
            continue
        device = short_device(dev.device)
        for node in dev.node_stats:
            name = node.node_name.split(":")[0]
            out.append(OpSample(name, op_type_of(node.timeline_label, name, lookup), device, _node_ns(node)))
    return out
