"""Finding a TF1 graph's inputs and outputs: user overrides, or placeholders and sink ops.

Used by the session-based formats (checkpoint, frozen). A graph imported from a file has no
declared signature, so inputs default to its Placeholder ops and outputs to the ops downstream
of those inputs whose results nobody consumes (the graph's "sinks"); the model says which it
picked, so a user can override with exact names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from infer_core.errors import TensorNotFound
from infer_core.model import TensorInfo

# Op types that end a graph without producing an inference result.
NON_RESULT_TYPES = {"NoOp", "Assert", "Print", "PrintV2", "SaveV2", "RestoreV2", "MergeV2Checkpoints",
                    "AssignVariableOp", "Assign", "AssignAdd", "AssignSub", "VarIsInitializedOp",
                    "IsVariableInitialized"}
SKIP_SCOPES = ("save/", "save_", "init", "report_uninitialized")


def tensor_name(name: str) -> str:
    return name if ":" in name else f"{name}:0"


def get_tensor(graph: Any, name: str, role: str, source: str) -> Any:
    try:
        return graph.get_tensor_by_name(tensor_name(name))
    except (KeyError, ValueError):
        kind, ops = ("candidate outputs", _sink_ops(graph)) if role == "output" else ("placeholders", _placeholders(graph))
        candidates = ", ".join(op.name for op in ops)[:200]
        raise TensorNotFound(f"{source}: no {role} tensor named {name!r} in the graph "
                             f"({kind}: {candidates or 'none'})") from None


def _sink_ops(graph: Any) -> list[Any]:
    """The ops an output name would usually be: downstream of the placeholders, consumed by nothing."""
    down = _downstream(_placeholders(graph))
    names = {op.name for op in down}
    return sorted((op for op in down if op.type != "Placeholder" and _is_sink(op, names)), key=lambda op: op.name)


def _placeholders(graph: Any) -> list[Any]:
    return [op for op in graph.get_operations()
            if op.type == "Placeholder" and not op.name.startswith(SKIP_SCOPES)]


def _downstream(start_ops: Iterable[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    stack = list(start_ops)
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen[op.name] = op
        for out in op.outputs:
            stack.extend(out.consumers())
    return list(seen.values())


def _numeric(op: Any) -> bool:
    """Results a user can fetch as arrays (not resource handles or variants)."""
    return all(out.dtype.is_numpy_compatible for out in op.outputs)


def _is_sink(op: Any, reachable: set[str]) -> bool:
    if op.type in NON_RESULT_TYPES or not op.outputs or op.name.startswith(SKIP_SCOPES) or not _numeric(op):
        return False
    return not any(c.name in reachable for out in op.outputs for c in out.consumers())


def discover(graph: Any, inputs: Sequence[str], outputs: Sequence[str], source: str) -> tuple[list[Any], list[Any], list[str]]:
    """(input tensors, output tensors, notes) for a graph, honouring overrides."""
    notes: list[str] = []
    if inputs:
        feed = [get_tensor(graph, n, "input", source) for n in inputs]
    else:
        feed = [op.outputs[0] for op in _placeholders(graph)]
        if not feed:
            raise TensorNotFound(f"{source}: the graph has no Placeholder ops; name its inputs with --input")
        notes.append("inputs picked from the graph's placeholders: " + ", ".join(t.name for t in feed))
    if outputs:
        fetch = [get_tensor(graph, n, "output", source) for n in outputs]
    else:
        down = _downstream(t.op for t in feed)
        names = {op.name for op in down}
        fetch = [out for op in down if _is_sink(op, names) and op not in [t.op for t in feed] for out in op.outputs]
        if not fetch:
            raise TensorNotFound(f"{source}: found no output ops downstream of the inputs; name them with --output")
        fetch.sort(key=lambda t: t.name)
        notes.append("outputs picked from the graph's sink ops: " + ", ".join(t.name for t in fetch))
    return feed, fetch, notes


def tensor_info(tensor: Any) -> TensorInfo:
    import numpy as np

    dims = tuple(tensor.shape.as_list()) if tensor.shape.rank is not None else None
    return TensorInfo(name=tensor.name, dtype=np.dtype(tensor.dtype.as_numpy_dtype).name, shape=dims,
                      batch_dim=None if dims == () else 0)
