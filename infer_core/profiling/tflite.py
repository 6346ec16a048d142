"""TFLite / LiteRT: the op list and how a delegate partitioned it — no per-op times.

LiteRT's Python interpreter exposes no per-op timing, and the XNNPACK delegate replaces most of
a graph with one or a few DELEGATE nodes, so any per-op time would be invented. What it does
expose (`Interpreter._get_ops_details`) lists the model's original nodes followed by the delegate
nodes that replaced them; a delegate node's input and output tensors bound the ops it took over,
so walking back from its outputs to its inputs recovers which ops each delegate runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

DELEGATE = "DELEGATE"


def _ints(values: Any) -> list[int]:
    return [int(v) for v in values]


def op_details(interpreter: Any) -> list[dict[str, Any]]:
    """Each node: index, op name, input and output tensor indices (plain ints)."""
    return [{"index": int(d["index"]), "op": str(d["op_name"]), "inputs": _ints(d["inputs"]),
             "outputs": _ints(d["outputs"])} for d in interpreter._get_ops_details()]


def _covered(delegate: dict[str, Any], producer: dict[int, int], ops: dict[int, dict[str, Any]]) -> list[int]:
    """Original ops between a delegate node's inputs and its outputs."""
    boundary = set(delegate["inputs"])
    stack = [producer[t] for t in delegate["outputs"] if t in producer]
    seen: set[int] = set()
    while stack:
        index = stack.pop()
        if index in seen:
            continue
        seen.add(index)
        for tensor in ops[index]["inputs"]:
            if tensor >= 0 and tensor not in boundary and tensor in producer:
                stack.append(producer[tensor])
    return sorted(seen)


def partition(details: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Which original ops each delegate node took over, and which stayed on built-in kernels."""
    original = {d["index"]: d for d in details if d["op"] != DELEGATE}
    delegates = [d for d in details if d["op"] == DELEGATE]
    producer = {t: d["index"] for d in original.values() for t in d["outputs"]}
    owner: dict[int, int] = {}
    parts = []
    for d in delegates:
        covered = _covered(d, producer, original)
        owner.update({i: d["index"] for i in covered})
        parts.append({"node": d["index"], "ops": covered,
                      "op_types": dict(Counter(original[i]["op"] for i in covered))})
    ops = [{"index": i, "op": d["op"], "delegate": owner.get(i)} for i, d in sorted(original.items())]
    undelegated = [op["index"] for op in ops if op["delegate"] is None]
    return {"ops": ops, "partition": parts, "undelegated": undelegated,
            "delegated_fraction": (len(ops) - len(undelegated)) / len(ops) if ops else None}


def describe_partition(part: dict[str, Any]) -> str:
    """One line: how many ops ran where."""
    n = len(part["ops"])
    if not part["partition"]:
        return f"{n} ops, no delegate: every op runs on LiteRT's built-in kernels"
    return (f"{n} ops: {n - len(part['undelegated'])} taken over by {len(part['partition'])} delegate node(s), "
            f"{len(part['undelegated'])} on built-in kernels")
