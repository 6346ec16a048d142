"""Discover how large integer inputs may be: the row count of the embedding tables they index.

Random token ids beyond a table's size make a Gather fail (CPU) or read garbage (GPU), so
synthesised integer inputs stay below the smallest table their values reach. Where no table can
be found, the caller falls back to small non-negative integers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

GATHER_OPS = {"Gather", "GatherV2", "ResourceGather"}


def _downstream(start: Iterable[Any]) -> set[str]:
    seen: set[str] = set()
    stack = list(start)
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(c for out in op.outputs for c in out.consumers())
    return seen


def _rows(op: Any, captured: dict[str, int]) -> int | None:
    params = op.inputs[0]
    if op.type != "ResourceGather":
        dims = params.shape.as_list() if params.shape.rank else None
        return dims[0] if dims and dims[0] else None
    if params.op.type == "VarHandleOp":
        shape = params.op.get_attr("shape")
        return int(shape.dim[0].size) if shape.dim and shape.dim[0].size > 0 else None
    return captured.get(params.name)


def graph_bound(graph: Any, int_inputs: Iterable[Any], captured: dict[str, int] | None = None) -> int | None:
    """Smallest embedding row count among gathers whose indices come from `int_inputs` (tensors)."""
    reach = _downstream(t.op for t in int_inputs)
    rows = [_rows(op, captured or {}) for op in graph.get_operations()
            if op.type in GATHER_OPS and op.name in reach and op.inputs[1].op.name in reach]
    found = [r for r in rows if r]
    return min(found) if found else None


def function_bound(function: Any) -> int | None:
    """For a ConcreteFunction: captured variables stand behind the resource placeholders."""
    by_handle = {id(v.handle): v for v in getattr(function, "variables", ())}
    captured: dict[str, int] = {}
    internal_names = set()
    for external, internal in function.graph.captures:
        internal_names.add(internal.name)
        var = by_handle.get(id(external))
        if var is not None and var.shape.rank:
            captured[internal.name] = int(var.shape[0])
    int_inputs = [t for t in function.inputs if t.name not in internal_names and t.dtype.is_integer]
    return graph_bound(function.graph, int_inputs, captured)


def tflite_bound(interpreter: Any) -> int | None:
    tensors = {d["index"]: d for d in interpreter.get_tensor_details()}
    rows = []
    for op in interpreter._get_ops_details():
        if op.get("op_name") in ("GATHER", "EMBEDDING_LOOKUP") and len(op["inputs"]) >= 2:
            params = tensors.get(op["inputs"][0] if op["op_name"] == "GATHER" else op["inputs"][1])
            if params is not None and len(params["shape"]) and params["shape"][0] > 0:
                rows.append(int(params["shape"][0]))
    return min(rows) if rows else None
