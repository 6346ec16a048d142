"""One shared suite run against every format and variant (same assertions for each), on real files.

Explicit per-format skip list: SKIP maps a variant to the checks that do not apply to it, with why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.runner.parity import Entry, entries_for_dir, parity_record, predict_all
from infer_core.model import FP32_VARIANTS, VARIANTS, ModelSpec
from tests.core.helpers import snippet

pytestmark = pytest.mark.slow

CALL_PATHS = {
    "checkpoint": "session.callable_from_options",
    "frozen": "session.callable_from_options",
    "saved_model": "signature(**kwargs)",
    "saved_model+xla": "tf.function(jit_compile=True) over signature(**kwargs)",
    "keras": "tf.function(model.call).concrete_function(**kwargs)",
    "keras+xla": "tf.function(jit_compile=True) over signature(**kwargs)",
    "tflite": "interpreter.set_tensor/invoke/get_tensor",
    "tflite+fp16": "interpreter.set_tensor/invoke/get_tensor",
    "tflite+int8dyn": "interpreter.set_tensor/invoke/get_tensor",
    "tflite+int8": "interpreter.set_tensor/invoke/get_tensor",
}
# variant -> checks that do not apply (and why)
SKIP: dict[str, dict[str, str]] = {
    "tflite+fp16": {"exact_parity": "fp16 weights: quantised, agreement shown but not required"},
    "tflite+int8dyn": {"exact_parity": "int8 weights: quantised"},
    "tflite+int8": {"exact_parity": "int8 weights and activations: quantised"},
}


@pytest.fixture(scope="module")
def mnist(mnist_dir: Path) -> dict[str, Any]:
    predictions = predict_all(entries_for_dir(mnist_dir, VARIANTS), batch=3)
    return {p.label: p for p in predictions} | {"_record": parity_record("mnist_cnn", predictions)}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_format_loads_discovers_and_predicts(variant: str, mnist: dict[str, Any]) -> None:
    p = mnist[variant]
    assert p.error is None, p.error
    described = p.described
    assert described["variant"] == variant
    assert described["call_path"] == CALL_PATHS[variant]
    (inp,) = described["inputs"]
    assert inp["dtype"] == "float32" and inp["shape"] == [None, 28, 28, 1] and inp["batch_dim"] == 0
    (out,) = p.outputs
    assert out.shape == (3, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-2)  # softmax rows


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_fp32_format_agrees_with_the_checkpoint(variant: str, mnist: dict[str, Any]) -> None:
    if "exact_parity" in SKIP.get(variant, {}):
        pytest.skip(SKIP[variant]["exact_parity"])
    if variant == "checkpoint":
        pytest.skip("the reference itself")
    pairs = [r for r in mnist["_record"]["pairs"] if {r["a"], r["b"]} == {"checkpoint", variant}]
    assert pairs and all(r["ok"] and r["fp32"] for r in pairs), pairs
    assert all(r["max_rel"] < 1e-4 for r in pairs)


def test_quantised_formats_are_close_but_never_fail(mnist: dict[str, Any]) -> None:
    rows = [r for r in mnist["_record"]["pairs"] if r["b"].startswith("tflite+") and r["a"] == "checkpoint"]
    assert {r["b"] for r in rows} == {"tflite+fp16", "tflite+int8dyn", "tflite+int8"}
    assert all(r["ok"] and not r["fp32"] for r in rows)
    assert all(0 < r["max_abs"] < 0.05 for r in rows)


MULTI_KERAS = """
import json, numpy as np, keras
from pathlib import Path
from infer_core import convert
from infer_core.model import ModelSpec
out = Path({out!r})
keras.utils.set_random_seed(0)
a = keras.Input((8,), name="features")
b = keras.Input((5,), dtype="int32", name="ids")
e = keras.layers.Flatten()(keras.layers.Embedding(20, 4)(b))
h = keras.layers.Concatenate()([a, e])
m = keras.Model([a, b], [keras.layers.Dense(3, activation="softmax", name="probs")(h),
                         keras.layers.Dense(1, name="score")(h)])
m.save(out / "multi.keras")
convert.keras_to_saved_model(m, out / "multi_sm")
convert.saved_model_to_tflite(ModelSpec(str(out / "multi_sm")), out / "multi.tflite")
np.savez(out / "w.npz", *m.get_weights())
print(json.dumps(m.output_names))
"""

MULTI_TF1 = """
import json, numpy as np, tensorflow as tf
from pathlib import Path
from infer_core import convert
from infer_core.model import ModelSpec
out = Path({out!r})
w = np.load(out / "w.npz"); emb, k1, b1, k2, b2 = (w[f"arr_{{i}}"] for i in range(5))
g = tf.Graph()
with g.as_default():
    v = tf.compat.v1
    features = v.placeholder(tf.float32, (None, 8), name="features")
    ids = v.placeholder(tf.int32, (None, 5), name="ids")
    table = v.get_variable("emb", initializer=emb)
    h = tf.concat([features, tf.reshape(tf.nn.embedding_lookup(table, ids), (-1, 20))], axis=1)
    probs = tf.identity(tf.nn.softmax(tf.matmul(h, v.get_variable("k1", initializer=k1)) + b1), name="probs")
    score = tf.identity(tf.matmul(h, v.get_variable("k2", initializer=k2)) + b2, name="score")
    saver = v.train.Saver()
    with v.Session() as s:
        s.run(v.global_variables_initializer())
        saver.save(s, str(out / "ckpt" / "model.ckpt"))
convert.checkpoint_to_frozen(ModelSpec(str(out / "ckpt" / "model.ckpt")), out / "multi.pb")
print(json.dumps("ok"))
"""


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("multi")
    assert snippet(MULTI_KERAS.format(out=str(out))) == ["probs", "score"]
    assert snippet(MULTI_TF1.format(out=str(out)), legacy=True) == "ok"
    return out


def test_multi_input_multi_output_in_every_format(multi: Path) -> None:
    entries = [Entry("checkpoint", ModelSpec(str(multi / "ckpt"))),
               Entry("frozen", ModelSpec(str(multi / "multi.pb"))),
               Entry("saved_model", ModelSpec(str(multi / "multi_sm"))),
               Entry("keras", ModelSpec(str(multi / "multi.keras"))),
               Entry("tflite", ModelSpec(str(multi / "multi.tflite")))]
    predictions = predict_all(entries, batch=2)
    for p in predictions:
        assert p.error is None, (p.label, p.error)
        names = sorted(n.split(":")[0] for n in p.names)
        assert names == ["probs", "score"], (p.label, p.names)
        assert sorted(i["name"].split(":")[0] for i in p.described["inputs"]) == ["features", "ids"]
    record = parity_record("multi", predictions)
    assert len(record["pairs"]) == 10 * 2  # 10 format pairs x 2 outputs
    assert all(r["ok"] and r["matched_by"] == "name" for r in record["pairs"]), record["pairs"]
    assert all(r["fp32"] for r in record["pairs"]) and set(FP32_VARIANTS) >= {p.label for p in predictions}
