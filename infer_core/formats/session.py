"""A TF1 graph in a Session: the common half of the checkpoint and frozen formats.

Call path: the session's callable-from-options (`Session._make_callable_from_options` with a
`CallableOptions` naming feeds and fetches). `Session.run(feed_dict)` re-validates and
re-resolves the feed/fetch structure on every call, and `Session.make_callable` with a non-empty
feed list just wraps `run(feed_dict=...)` (TF-NOTES.md); the callable from options is created
once and called with arrays positionally, which is the lowest-overhead route TensorFlow's Python
API offers for a graph. Fetching returns numpy arrays, so outputs are on the host (and, on a GPU,
the device work is finished) when it returns.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from infer_core import devices
from infer_core.formats.graph_io import discover, tensor_info
from infer_core.model import Feeds, Model, Outputs

if TYPE_CHECKING:
    from infer_core.profiling.hooks import InferenceGraph, SessionTarget

CALL_PATH = "session.callable_from_options"


def session_config(intra: int, inter: int, device: str) -> Any:
    import tensorflow as tf

    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=intra, inter_op_parallelism_threads=inter,
                                      allow_soft_placement=False)
    if devices.parse_device(device)[0] == "gpu":
        config.gpu_options.allow_growth = True
    return config


class SessionModel(Model):
    """A graph, its session, and the feed/fetch tensors. Subclasses only build the graph."""

    def __init__(self, variant: str, graph: Any, session: Any, feed: Sequence[Any], fetch: Sequence[Any],
                 notes: Sequence[str], device: str, details: dict[str, Any]) -> None:
        self.variant = variant
        self.graph, self.session = graph, session
        self.feed_tensors, self.fetch_tensors = list(feed), list(fetch)
        self.inputs = tuple(tensor_info(t) for t in self.feed_tensors)
        self.outputs = tuple(tensor_info(t) for t in self.fetch_tensors)
        self.notes = tuple(notes)
        self.device = device
        self.call_path = CALL_PATH
        self.details = details
        self._callable = self._make_callable()

    def _make_callable(self) -> Any:
        from tensorflow.core.protobuf import config_pb2

        options = config_pb2.CallableOptions()
        options.feed.extend(t.name for t in self.feed_tensors)
        options.fetch.extend(t.name for t in self.fetch_tensors)
        return self.session._make_callable_from_options(options)

    def _ordered(self, feeds: Feeds) -> list[np.ndarray]:
        return [np.asarray(feeds[t.name]) for t in self.inputs]

    def predict(self, feeds: Feeds) -> Outputs:
        values = self._callable(*self._ordered(feeds))
        return {t.name: np.asarray(v) for t, v in zip(self.outputs, values)}

    def make_runner(self, feeds: Feeds) -> Any:
        # functools.partial binds the arrays without adding a Python frame to each timed call
        return functools.partial(self._callable, *self._ordered(feeds))

    def idiomatic_runner(self, feeds: Feeds) -> tuple[Any, str]:
        """The seed's own call: `session.run(fetches, feed_dict={tensor: array})`, every call."""
        by_name = {t.name: t for t in self.feed_tensors}
        feed_dict = {by_name[name]: array for name, array in feeds.items() if name in by_name}
        fetches = list(self.fetch_tensors)
        return functools.partial(self.session.run, fetches, feed_dict=feed_dict), "session.run(fetches, feed_dict)"

    def int_input_bound(self) -> int | None:
        from infer_core.vocab import graph_bound

        return graph_bound(self.graph, [t for t in self.feed_tensors if t.dtype.is_integer])

    def memory_info(self) -> dict[str, int] | None:
        return devices.gpu_memory(self.device)

    def close(self) -> None:
        self.session.close()

    def profile_target(self) -> SessionTarget:
        from infer_core.profiling.targets import session_model_target

        return session_model_target(self)

    def inference_graph(self) -> InferenceGraph:
        from infer_core.profiling.targets import session_inference_graph

        return session_inference_graph(self)

    def session_graph(self) -> InferenceGraph:
        return self.inference_graph()


def open_session(variant: str, graph: Any, inputs: Sequence[str], outputs: Sequence[str], source: str,
                 device: str, intra: int, inter: int, phases: dict[str, float],
                 restore: Any = None, details: dict[str, Any] | None = None) -> SessionModel:
    """Discover tensors, create the session on `graph`, run `restore(session)` if given."""
    import tensorflow as tf

    feed, fetch, notes = discover(graph, inputs, outputs, source)
    t0 = time.perf_counter()
    session = tf.compat.v1.Session(graph=graph, config=session_config(intra, inter, device))
    phases["session_create"] = time.perf_counter() - t0
    if restore is not None:
        t0 = time.perf_counter()
        with graph.as_default():  # outside it, a Saver takes its eager path and finds no variables
            restore(session)
        phases["variable_restore"] = time.perf_counter() - t0
    return SessionModel(variant, graph, session, feed, fetch, notes, device,
                        {**(details or {}), "load_phases": phases})
