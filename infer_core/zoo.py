"""The built-in model zoo: models built here, seeded, nothing downloaded.

Each model exists twice with the same weights: a Keras 3 model (source of the `.keras`,
SavedModel and TFLite files) and a TF1 graph saved with a Saver (the checkpoint and, through
it, the frozen graph). The TF1 side needs tf-keras / `tf.compat.v1.layers`, so it is built in a
legacy worker (TF_USE_LEGACY_KERAS=1) from the Keras model's weights; the parity check proves the
weights match.

- mnist_cnn: the seed's network (seed.md) — (None, 28, 28, 1) float32 -> conv 32 3x3 ReLU -> flatten
  -> dense 10 softmax. Its TF1 side is the seed's own graph code.
- mobilenet_v2: keras.applications.MobileNetV2(weights=None) at 128x128 (a realistic conv net
  that profiles and times in seconds on 2 cores), BatchNorm statistics calibrated with one seeded
  training-mode pass: untrained statistics make every prediction identical (TF-NOTES.md).
- text_cnn: int32 tokens of dynamic length -> embedding (vocabulary 1000) -> conv1d -> global max
  pooling -> dense 4 softmax.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

from infer_core.errors import UnknownFormat

SEED = 1234


@dataclass(frozen=True)
class ZooEntry:
    name: str
    description: str
    input_name: str
    output_name: str = "output"
    default_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # values for dynamic dims
    vocab_size: int | None = None


ZOO = {
    "mnist_cnn": ZooEntry("mnist_cnn", "the seed's MNIST CNN: conv 32 3x3 -> flatten -> dense 10 softmax "
                          "(input 28x28x1)", "input"),
    "mobilenet_v2": ZooEntry("mobilenet_v2", "keras.applications MobileNetV2, 128x128x3, untrained, "
                             "BatchNorm calibrated", "input"),
    "text_cnn": ZooEntry("text_cnn", "int32 tokens (dynamic length) -> embedding 1000x32 -> conv1d -> "
                         "max pool -> dense 4 softmax", "tokens", default_shapes={"tokens": (1, 64)},
                         vocab_size=1000),
}


def entry(name: str) -> ZooEntry:
    if name not in ZOO:
        raise UnknownFormat(f"unknown zoo model {name!r}; the zoo has {', '.join(sorted(ZOO))}")
    return ZOO[name]


def seed_everything(seed: int = SEED) -> None:
    """tf-keras initialisers draw seeds from Python's `random` too (TF-NOTES.md): seed all of them."""
    import numpy as np
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)
    try:
        import keras

        keras.utils.set_random_seed(seed)
    except ImportError:
        pass


# ---- Keras 3 side -------------------------------------------------------------------------------

def _keras_mnist() -> Any:
    import keras

    inp = keras.Input((28, 28, 1), name="input")
    x = keras.layers.Conv2D(32, 3, activation="relu", name="conv2d")(inp)
    x = keras.layers.Flatten(name="flatten")(x)
    out = keras.layers.Dense(10, activation="softmax", name="output")(x)
    return keras.Model(inp, out, name="mnist_cnn")


def _calibrate_batchnorm(model: Any) -> None:
    """Set BatchNorm moving statistics from one seeded training-mode pass (momentum 0 for that pass)."""
    import keras
    import numpy as np

    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0
    x = np.random.default_rng(SEED).random((16, *model.input_shape[1:]), dtype=np.float64).astype("float32")
    model(x, training=True)
    for bn, momentum in zip(bns, momenta):
        bn.momentum = momentum


def _keras_mobilenet() -> Any:
    import keras

    inp = keras.Input((128, 128, 3), name="input")
    base = keras.applications.MobileNetV2(input_tensor=inp, weights=None, classes=1000)
    out = keras.layers.Activation("linear", name="output")(base.output)
    model = keras.Model(inp, out, name="mobilenet_v2")
    _calibrate_batchnorm(model)
    return model


def _keras_text() -> Any:
    import keras

    inp = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(1000, 32, name="embedding")(inp)
    x = keras.layers.Conv1D(32, 3, padding="same", activation="relu", name="conv1d")(x)
    x = keras.layers.GlobalMaxPooling1D(name="pool")(x)
    out = keras.layers.Dense(4, activation="softmax", name="output")(x)
    return keras.Model(inp, out, name="text_cnn")


KERAS_BUILDERS: dict[str, Callable[[], Any]] = {
    "mnist_cnn": _keras_mnist,
    "mobilenet_v2": _keras_mobilenet,
    "text_cnn": _keras_text,
}


def build_keras(name: str) -> Any:
    """The zoo model as a Keras 3 model, seeded (call in a Keras 3 process)."""
    entry(name)
    seed_everything()
    model = KERAS_BUILDERS[name]()
    _nonzero_biases(model)
    return model


def _nonzero_biases(model: Any) -> None:
    """Small seeded biases instead of Keras's zeros, as a trained model has.

    All-zero biases are not just unrealistic: in a frozen graph they are constants, and grappler's
    constant folding rewrites BiasAdd(x, 0) to x before its remapper runs, so Conv2D/MatMul +
    BiasAdd (+ Relu) are no longer fused, while the checkpoint (biases are variables) keeps the
    fused kernels. That made the zoo's frozen graph 5-9% slower than a trained model's would be
    (benchmarks/results/frozen_fusion.txt).
    """
    import numpy as np

    rng = np.random.default_rng(SEED + 1)
    for layer in model.layers:
        bias = getattr(layer, "bias", None)
        if bias is not None:
            bias.assign(rng.normal(0.0, 0.01, tuple(bias.shape)).astype("float32"))


# ---- TF1 side (legacy worker: TF_USE_LEGACY_KERAS=1) --------------------------------------------

def seed_graph() -> tuple[Any, Any]:
    """The seed's graph code (seed.md), as a builder: placeholder -> conv2d -> flatten -> dense softmax."""
    import tensorflow.compat.v1 as tf

    input_tensor = tf.placeholder(tf.float32, shape=(None, 28, 28, 1))
    conv_layer = tf.layers.conv2d(input_tensor, filters=32, kernel_size=3, activation=tf.nn.relu)
    fc_layer = tf.layers.flatten(conv_layer)
    output_tensor = tf.layers.dense(fc_layer, units=10, activation=tf.nn.softmax)
    return input_tensor, output_tensor


def _tf1_mnist() -> tuple[Any, Any, list[Any]]:
    import tensorflow as tf

    x, y = seed_graph()
    return x, y, tf.compat.v1.global_variables()


def _tf1_keras_model(build: Callable[[Any, Any], Any], shape: tuple[Any, ...], dtype: Any) -> tuple[Any, Any, list[Any]]:
    import tensorflow as tf
    import tf_keras

    x = tf.compat.v1.placeholder(dtype, shape=shape, name="input" if dtype == tf.float32 else "tokens")
    model = build(tf_keras, x)
    # Called on the placeholder in inference mode: no BatchNorm update ops in the graph.
    return x, model(x, training=False), list(model.weights)


def _tf1_mobilenet() -> tuple[Any, Any, list[Any]]:
    import tensorflow as tf

    def build(tf_keras: Any, x: Any) -> Any:
        return tf_keras.applications.MobileNetV2(input_shape=(128, 128, 3), weights=None, classes=1000)

    return _tf1_keras_model(build, (None, 128, 128, 3), tf.float32)


def _tf1_text() -> tuple[Any, Any, list[Any]]:
    import tensorflow as tf

    def build(tf_keras: Any, x: Any) -> Any:
        inp = tf_keras.Input((None,), dtype="int32")
        h = tf_keras.layers.Embedding(1000, 32)(inp)
        h = tf_keras.layers.Conv1D(32, 3, padding="same", activation="relu")(h)
        h = tf_keras.layers.GlobalMaxPooling1D()(h)
        out = tf_keras.layers.Dense(4, activation="softmax")(h)
        return tf_keras.Model(inp, out)

    return _tf1_keras_model(build, (None, None), tf.int32)


TF1_BUILDERS: dict[str, Callable[[], tuple[Any, Any, list[Any]]]] = {
    "mnist_cnn": _tf1_mnist,
    "mobilenet_v2": _tf1_mobilenet,
    "text_cnn": _tf1_text,
}


def save_tf1_checkpoint(name: str, weights: list[np.ndarray], prefix: str) -> dict[str, str]:
    """Rebuild `name` as a TF1 graph, load `weights` (Keras get_weights order), save with a Saver.

    Returns the graph's input and output tensor names. The output gets an Identity named
    'output' so every format of a zoo model names its output alike.
    """
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        seed_everything()
        x, y, variables = TF1_BUILDERS[name]()
        y = tf.identity(y, name="output")
        if len(variables) != len(weights):
            raise RuntimeError(f"{name}: TF1 graph has {len(variables)} variables, Keras model {len(weights)}")
        saver = tf.compat.v1.train.Saver(save_relative_paths=True)
        init = tf.compat.v1.global_variables_initializer()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(init)
            for var, value in zip(variables, weights):
                if tuple(var.shape.as_list()) != value.shape:
                    raise RuntimeError(f"{name}: weight shape mismatch {var.name} {var.shape} vs {value.shape}")
                var.load(value, session)
            saver.save(session, prefix)
    return {"input": x.name, "output": y.name}
