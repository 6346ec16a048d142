"""Small real models for the profiling tests, written into a directory (imports TensorFlow).

The seed network (conv 3x3x32 + ReLU → flatten → dense 10 + softmax on 28x28x1) built with plain
TF1 ops and resource variables, so it needs no tf-keras: a Saver checkpoint with its .meta graph,
the same graph frozen to a GraphDef, a SavedModel with a keyword signature, and a TFLite file.
Weights are seeded numpy arrays, so every format holds the same numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

INPUT, OUTPUT = "x", "probs"


def _weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"conv_w": rng.normal(0, 0.3, (3, 3, 1, 32)).astype(np.float32),
            "conv_b": rng.normal(0, 0.1, (32,)).astype(np.float32),
            "dense_w": rng.normal(0, 0.05, (26 * 26 * 32, 10)).astype(np.float32),
            "dense_b": rng.normal(0, 0.1, (10,)).astype(np.float32)}


def _network(x, w):  # type: ignore[no-untyped-def]
    import tensorflow as tf

    conv = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w["conv_w"], strides=1, padding="VALID"), w["conv_b"]))
    flat = tf.reshape(conv, [-1, 26 * 26 * 32])
    return tf.nn.softmax(tf.nn.bias_add(tf.matmul(flat, w["dense_w"]), w["dense_b"]), name=OUTPUT)


def build_checkpoint_and_frozen(out: Path) -> tuple[Path, Path]:
    """(checkpoint prefix, frozen .pb) of the seed network."""
    import tensorflow as tf

    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, (None, 28, 28, 1), name=INPUT)
        w = {k: tf1.get_variable(k, initializer=v, use_resource=True) for k, v in _weights().items()}
        y = _network(x, w)
        saver = tf1.train.Saver(save_relative_paths=True)
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            prefix = Path(saver.save(sess, str(out / "checkpoint" / "model.ckpt")))
            frozen = tf1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), [y.op.name])
    pb = out / "frozen.pb"
    pb.write_bytes(frozen.SerializeToString(deterministic=True))
    return prefix, pb


class _Seed:
    def __init__(self) -> None:
        import tensorflow as tf

        self.module = tf.Module()
        self.module.w = {k: tf.Variable(v, name=k) for k, v in _weights().items()}

        @tf.function(input_signature=[tf.TensorSpec((None, 28, 28, 1), tf.float32, name=INPUT)])
        def serve(x):  # type: ignore[no-untyped-def]
            return {OUTPUT: _network(x, self.module.w)}

        self.module.serve = serve


def build_saved_model(out: Path) -> Path:
    import tensorflow as tf

    seed = _Seed()
    path = out / "saved_model"
    tf.saved_model.save(seed.module, str(path), signatures={"serving_default": seed.module.serve})
    return path


def build_tflite(saved_model: Path, out: Path) -> Path:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    path = out / "model.tflite"
    path.write_bytes(converter.convert())
    return path


def build_all(out: Path) -> dict[str, Path]:
    prefix, pb = build_checkpoint_and_frozen(out)
    sm = build_saved_model(out)
    return {"checkpoint": prefix, "frozen": pb, "saved_model": sm, "tflite": build_tflite(sm, out)}
