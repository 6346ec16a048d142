"""inter_op_threads = -1: a session runs each call in the caller's thread (TensorFlow's negative ConfigProto value).

Checked where it happens: a frozen graph whose one op is a Python function that notes the thread it runs in.
The function is registered in this process, so the graph loads and runs here, in the test's own process; the
registry holds it only while the graph that made it lives, so the fixture keeps that graph.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import infer_core
from infer_core.errors import UnsupportedSetting
from infer_core.model import CALLER_THREAD, ModelSpec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def probe_graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[int]]]:
    import tensorflow as tf

    seen: list[int] = []

    def note(x: np.ndarray) -> np.ndarray:
        seen.append(threading.get_ident())
        return x

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
        y = tf.compat.v1.py_func(note, [x], tf.float32, name="probe")
        y.set_shape([None, 2])
        tf.identity(y, name="y")
    path = tmp_path_factory.mktemp("probe") / "probe.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    yield path, seen
    del graph  # until here: TensorFlow's registry of Python functions keeps `note` only as long as its graph


@pytest.mark.parametrize(("inter", "in_caller"), [(0, False), (1, False), (CALLER_THREAD, True)])
def test_a_session_runs_in_the_callers_thread_only_when_asked(probe_graph: tuple[Path, list[int]], inter: int,
                                                              in_caller: bool) -> None:
    path, seen = probe_graph
    model = infer_core.load(ModelSpec(str(path), intra_op_threads=1, inter_op_threads=inter))
    run = model.make_runner({model.inputs[0].name: np.ones((1, 2), np.float32)})
    seen.clear()
    run()
    assert len(seen) == 1 and (seen[0] == threading.get_ident()) == in_caller


def test_an_eager_format_refuses_the_callers_thread(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedSetting, match=r"applies to sessions \(checkpoint, frozen graph\); SavedModel"):
        infer_core.load(ModelSpec(str(tmp_path), variant="saved_model", inter_op_threads=CALLER_THREAD))
