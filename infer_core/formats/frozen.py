"""Frozen GraphDef (`.pb` binary or `.pbtxt` text): variables folded into constants."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from infer_core import devices
from infer_core.errors import CorruptModel, ModelNotFound
from infer_core.formats.session import SessionModel, open_session
from infer_core.model import ModelSpec


def read_graph_def(path: Path) -> Any:
    """Parse a GraphDef file, saying what is wrong in the user's words when it is not one."""
    import tensorflow as tf
    from google.protobuf import message, text_format

    if not path.is_file():
        raise ModelNotFound(f"{path}: no such frozen graph file")
    data = path.read_bytes()
    if not data:
        raise CorruptModel(f"{path}: the file is empty, not a GraphDef")
    graph_def = tf.compat.v1.GraphDef()
    try:
        if path.suffix == ".pbtxt":
            text_format.Parse(data.decode("utf-8"), graph_def)
        else:
            graph_def.ParseFromString(data)
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError, RuntimeWarning) as exc:
        raise CorruptModel(f"{path}: not a valid GraphDef ({type(exc).__name__}: {str(exc)[:120]}); "
                           f"the file may be truncated or of another format") from None
    if not graph_def.node:
        raise CorruptModel(f"{path}: the GraphDef has no nodes (truncated or not a frozen graph)")
    return graph_def


def import_graph(graph_def: Any, device: str, path: Path) -> Any:
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default(), tf.device(devices.tf_device(device)):
        try:
            tf.compat.v1.import_graph_def(graph_def, name="")
        except (ValueError, tf.errors.OpError) as exc:
            raise CorruptModel(f"{path}: the GraphDef does not import ({str(exc).splitlines()[0][:160]})") from None
    return graph


def load(spec: ModelSpec, variant: str) -> SessionModel:
    path = Path(spec.path)
    device = devices.require(spec.device) and spec.device
    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    graph_def = read_graph_def(path)
    phases["graph_read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    graph = import_graph(graph_def, device, path)
    phases["graph_import"] = time.perf_counter() - t0
    return open_session(variant, graph, spec.inputs, spec.outputs, str(path), device,
                        spec.intra_op_threads, spec.inter_op_threads, phases)
