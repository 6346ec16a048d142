"""The seed's own flow: a user's graph-building .py file (tf.compat.v1.layers) and a Saver checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.helpers import cli, snippet

pytestmark = pytest.mark.slow

# The seed's network code, as a user would write it against TensorFlow 2's TF1 API.
SEED_BUILDER = '''
import tensorflow.compat.v1 as tf


def build():
    input_tensor = tf.placeholder(tf.float32, shape=(None, 28, 28, 1))
    conv_layer = tf.layers.conv2d(input_tensor, filters=32, kernel_size=3, activation=tf.nn.relu)
    fc_layer = tf.layers.flatten(conv_layer)
    output_tensor = tf.layers.dense(fc_layer, units=10, activation=tf.nn.softmax)
    return input_tensor, output_tensor
'''

# How the user saved it (a training script; variables initialised, not trained: parity is what matters).
SAVE = '''
import json, sys
sys.path.insert(0, {dir!r})
import tensorflow.compat.v1 as tf
from my_graph import build
graph = tf.Graph()
with graph.as_default():
    tf.set_random_seed(1)
    build()
    saver = tf.train.Saver()
    with tf.Session(graph=graph) as sess:
        sess.run(tf.global_variables_initializer())
        saver.save(sess, {prefix!r})
print(json.dumps("saved"))
'''

# The seed as written: Saver and Session created outside `graph.as_default()`.
SEED_AS_WRITTEN = '''
import json, sys
sys.path.insert(0, {dir!r})
import tensorflow.compat.v1 as tf
from my_graph import build
graph = tf.Graph()
with graph.as_default():
    build()
try:
    saver = tf.train.Saver()
    print(json.dumps("no error"))
except (ValueError, RuntimeError) as exc:
    print(json.dumps(str(exc)))
'''


@pytest.fixture(scope="module")
def user_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("user")
    (d / "my_graph.py").write_text(SEED_BUILDER)
    (d / "ckpt").mkdir()
    assert snippet(SAVE.format(dir=str(d), prefix=str(d / "ckpt" / "model.ckpt")), legacy=True) == "saved"
    proc = cli("convert", str(d / "ckpt" / "model.ckpt"), "--builder", f"{d}/my_graph.py:build",
               "--to", "frozen", "--out", str(d / "frozen.pb"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return d


def test_the_seed_as_written_has_the_saver_bug(user_model: Path) -> None:
    # Outside the graph, the Saver sees no variables: TF 2 says so as an eager-mode error.
    message = snippet(SEED_AS_WRITTEN.format(dir=str(user_model)), legacy=True)
    assert "No variables to save" in message or "var_list" in message


def test_builder_route_matches_frozen_graph(user_model: Path) -> None:
    proc = cli("check", f"{user_model}/my_graph.py:build", "--checkpoint", str(user_model / "ckpt" / "model.ckpt"),
               "--frozen", str(user_model / "frozen.pb"), "--json", str(user_model / "p1.json"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    record = json.loads((user_model / "p1.json").read_text())
    (pair,) = record["pairs"]
    assert (pair["a"], pair["b"], pair["ok"], pair["max_abs"]) == ("checkpoint", "frozen", True, 0.0)
    ckpt = next(f for f in record["formats"] if f["label"] == "checkpoint")
    assert ckpt["details"]["route"].startswith("builder ")


def test_meta_graph_route_matches_frozen_graph(user_model: Path) -> None:
    proc = cli("check", str(user_model / "ckpt"), "--frozen", str(user_model / "frozen.pb"),
               "--json", str(user_model / "p2.json"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    record = json.loads((user_model / "p2.json").read_text())
    (pair,) = record["pairs"]
    assert pair["ok"] and pair["max_abs"] == 0.0
    ckpt = next(f for f in record["formats"] if f["label"] == "checkpoint")
    assert ckpt["details"]["route"] == "meta graph"
    assert any("placeholders" in n for n in ckpt["notes"])  # it says which tensors it picked
