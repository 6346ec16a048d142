"""Converters round-trip with parity; every zoo model agrees across its fp32 formats; call-path checks."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infer_core.devices import gpu_hint
from tests.core.helpers import cli, snippet

pytestmark = pytest.mark.slow


def side_by_side(calls: list[tuple[str, ...]], run: Callable[[tuple[str, ...]], Any] | None = None) -> list[Any]:
    """`infer-bench ARGS` for each call, two processes at a time (each mostly waits on its own TensorFlow
    import, so on two cores the pair takes little longer than one); results in the order given."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(run or (lambda args: cli(*args)), calls))


def _check_json(tmp: Path, *args: str) -> dict:
    out = tmp / f"parity-{uuid.uuid4().hex}.json"  # calls may run side by side
    proc = cli("check", *args, "--json", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return strict_json(out.read_text())


def _refuse(constant: str) -> None:
    raise AssertionError(f"not JSON: {constant} (non-finite numbers must be written as null)")


def strict_json(text: str) -> dict:
    """json.loads that refuses NaN and Infinity, which Python writes but JSON does not have."""
    return dict(json.loads(text, parse_constant=_refuse))


def test_zoo_export_writes_the_fixed_layout(mnist_dir: Path) -> None:
    names = {p.name for p in mnist_dir.iterdir()}
    assert {"manifest.json", "checkpoint", "frozen.pb", "saved_model", "model.keras", "model.tflite",
            "model_fp16.tflite", "model_int8dyn.tflite", "model_int8.tflite"} <= names
    assert {p.name for p in (mnist_dir / "checkpoint").iterdir()} >= {
        "checkpoint", "model.ckpt.meta", "model.ckpt.index", "model.ckpt.data-00000-of-00001"}
    manifest = json.loads((mnist_dir / "manifest.json").read_text())
    assert manifest["inputs"][0]["name"] == "input" and manifest["versions"]["tensorflow"].startswith("2.")
    assert "/" not in (mnist_dir / "checkpoint" / "checkpoint").read_text().split('"')[1]  # relative paths


def test_converters_round_trip(tmp_path: Path, mnist_dir: Path) -> None:
    conversions = [
        (mnist_dir / "checkpoint", "saved_model", tmp_path / "from_ckpt_sm"),
        (mnist_dir / "checkpoint", "frozen", tmp_path / "from_ckpt.pb"),
        (mnist_dir / "saved_model", "frozen", tmp_path / "from_sm.pb"),
        (mnist_dir / "model.keras", "saved_model", tmp_path / "from_keras_sm"),
        (mnist_dir / "model.keras", "tflite", tmp_path / "from_keras.tflite"),
        (mnist_dir / "saved_model", "tflite+int8", tmp_path / "from_sm_int8.tflite"),
    ]
    # independent processes, two at a time: each mostly waits on its own TensorFlow import
    procs = side_by_side([("convert", str(source), "--to", target, "--out", str(out)) for source, target, out in conversions])
    for (source, target, out), proc in zip(conversions, procs, strict=True):
        assert proc.returncode == 0 and out.exists(), (source, target, proc.stderr[-2000:])
    a, b = side_by_side([
        (str(mnist_dir / "checkpoint"), "--saved-model", str(tmp_path / "from_ckpt_sm"),
         "--frozen", str(tmp_path / "from_sm.pb"), "--tflite", str(tmp_path / "from_keras.tflite")),
        (str(mnist_dir / "frozen.pb"), "--saved-model", str(tmp_path / "from_keras_sm"),
         "--checkpoint", str(mnist_dir / "checkpoint"), "--frozen", str(tmp_path / "from_ckpt.pb"))],
        run=lambda args: _check_json(tmp_path, *args))
    for record in (a, b):
        assert len(record["pairs"]) == 6 and all(r["ok"] and r["fp32"] for r in record["pairs"])
    proc = cli("check", str(tmp_path / "from_sm_int8.tflite"), "--format", "tflite+int8",
               "--frozen", str(mnist_dir / "frozen.pb"))
    assert proc.returncode == 0 and "quantised" in proc.stdout


def test_unsupported_conversion_is_a_clear_error(tmp_path: Path, mnist_dir: Path) -> None:
    proc = cli("convert", str(mnist_dir / "model.tflite"), "--to", "frozen", "--out", str(tmp_path / "x.pb"))
    assert proc.returncode == 2 and "no converter from tflite to frozen" in proc.stderr


@pytest.mark.parametrize("name", ["text_cnn", "mobilenet_v2"])
def test_zoo_model_agrees_across_fp32_formats(name: str, tmp_path: Path) -> None:
    from bench.runner.zoo_export import ensure_exported

    record = _check_json(tmp_path, str(ensure_exported(name)))
    fp32 = [r for r in record["pairs"] if r["fp32"]]
    assert len(fp32) == 10 and all(r["ok"] for r in fp32)  # 5 fp32 formats -> 10 pairs
    assert {r["b"] for r in record["pairs"]} >= {"tflite+int8"}


MOBILENET_VARIES = """
import json, numpy as np, infer_core
from infer_core.model import ModelSpec
from infer_core.inputs import synthesize_for
m = infer_core.load(ModelSpec({path!r}))
y = m.predict(synthesize_for(m, 4, seed=3))["output"]
print(json.dumps({{"spread": float(np.abs(y - y[0]).max()), "argmax": np.argmax(y, 1).tolist()}}))
"""


def test_mobilenet_predictions_differ_across_inputs() -> None:
    """Uncalibrated BatchNorm gives identical predictions for every input (TF-NOTES.md). A property of the
    weights, so the fp32 TFLite file shows it as well as the SavedModel (which agrees with it: the parity
    test above), and LiteRT starts without importing TensorFlow."""
    from bench.runner.zoo_export import ensure_exported

    result = snippet(MOBILENET_VARIES.format(path=str(ensure_exported("mobilenet_v2") / "model.tflite")))
    assert result["spread"] > 1e-5


RETRACE = """
import json, numpy as np, infer_core
from infer_core.model import ModelSpec
m = infer_core.load(ModelSpec({path!r}, variant="saved_model+xla"))
x1 = np.zeros((1, 28, 28, 1), np.float32)
m.predict({{"input": x1}}); a = m.trace_count()
m.predict({{"input": x1 + 1}}); b = m.trace_count()
m.predict({{"input": np.zeros((2, 28, 28, 1), np.float32)}}); c = m.trace_count()
plain = infer_core.load(ModelSpec({path!r}))
print(json.dumps([a, b, c, plain.trace_count(), m.call_path]))
"""


def test_retrace_is_detected(mnist_dir: Path) -> None:
    a, b, c, plain, path = snippet(RETRACE.format(path=str(mnist_dir / "saved_model")))
    assert (a, b, c) == (1, 1, 2)  # same shape: no retrace; new batch size: one retrace, counted
    assert plain is None and "jit_compile" in path


LEGACY_H5 = """
import json, tf_keras
inp = tf_keras.Input((4,), name="x")
out = tf_keras.layers.Dense(2, name="y")(inp)
tf_keras.Model(inp, out).save({path!r})
print(json.dumps("ok"))
"""


def test_legacy_h5_loads_in_a_tf_keras_worker(tmp_path: Path) -> None:
    path = tmp_path / "legacy.h5"
    snippet(LEGACY_H5.format(path=str(path)), legacy=True)
    record = _check_json(tmp_path, str(path), "--keras", str(path))
    assert record["formats"][0]["details"]["keras"].startswith(("tf-keras", "keras"))
    assert all(r["ok"] and r["max_abs"] == 0.0 for r in record["pairs"])


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_hint(), reason="no GPU on this machine (the GPU path runs where one is present)")
def test_gpu_matches_cpu(tmp_path: Path, mnist_dir: Path) -> None:
    proc = cli("check", str(mnist_dir / "frozen.pb"), "--device", "gpu", "--saved-model", str(mnist_dir / "saved_model"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "all fp32 formats agree" in proc.stdout


TAMPER = """
import json, numpy as np, tensorflow as tf
from tensorflow.python.framework import tensor_util
gd = tf.compat.v1.GraphDef()
gd.ParseFromString(open({src!r}, "rb").read())
for node in gd.node:
    if node.op == "Const" and node.name == "dense/kernel":
        w = tensor_util.MakeNdarray(node.attr["value"].tensor)
        node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(w * 1.5))
open({dst!r}, "wb").write(gd.SerializeToString(deterministic=True))
print(json.dumps("ok"))
"""


def test_fp32_formats_that_disagree_exit_1(tmp_path: Path, mnist_dir: Path) -> None:
    """A frozen graph whose dense weights were changed must not pass as the same model."""
    snippet(TAMPER.format(src=str(mnist_dir / "frozen.pb"), dst=str(tmp_path / "tampered.pb")))
    proc = cli("check", str(mnist_dir / "frozen.pb"), "--frozen", str(tmp_path / "tampered.pb"),
               "--json", str(tmp_path / "p.json"))
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "DISAGREE" in proc.stdout and "disagree beyond the tolerance" in proc.stdout
    (pair,) = strict_json((tmp_path / "p.json").read_text())["pairs"]
    assert pair["fp32"] and not pair["ok"] and pair["max_rel"] > 1e-2


def test_zoo_export_copies_the_cached_export_cut_to_the_formats_asked(tmp_path: Path, mnist_dir: Path) -> None:
    """Seeded, so the cached files are what a fresh export writes: `zoo export` copies them (no worker)."""
    from bench.cli import main

    out = tmp_path / "m"
    assert main(["zoo", "export", "mnist_cnn", "--formats", "frozen,tflite", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"manifest.json", "frozen.pb", "model.tflite"}
    assert json.loads((out / "manifest.json").read_text())["files"] == {"frozen": "frozen.pb", "tflite": "model.tflite"}
    assert (out / "frozen.pb").read_bytes() == (mnist_dir / "frozen.pb").read_bytes()
    assert main(["zoo", "export", "mnist_cnn", "--out", str(out)]) == 2  # never over an existing export


WAITS_FOR_THE_LOCK = """
import json, sys
from pathlib import Path
from bench.runner.zoo_export import ensure_exported
print(json.dumps({"target": str(ensure_exported("mnist_cnn", Path(sys.argv[1])))}))
"""


def _blocked_on_a_lock(pid: int) -> bool:
    return any(line.split()[1] == "->" and f" {pid} " in line for line in Path("/proc/locks").read_text().splitlines())


def test_a_second_exporter_waits_for_the_first_and_exports_nothing(tmp_path: Path, mnist_dir: Path) -> None:
    """While one process holds the model's export lock, another asking for the same model waits; once the first
    has put the export in place and let go, the second returns it without exporting again (no temp dir left)."""
    from bench.runner.zoo_export import cache_key, export_lock

    cache = tmp_path / "cache"
    cache.mkdir()
    target, lock_file = cache / cache_key("mnist_cnn"), export_lock(cache, "mnist_cnn")
    with lock_file.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        second = subprocess.Popen([sys.executable, "-c", WAITS_FOR_THE_LOCK, str(cache)], stdout=subprocess.PIPE,
                                  text=True)
        deadline = time.monotonic() + 120
        while not _blocked_on_a_lock(second.pid):  # the kernel lists a waiter as "-> FLOCK ... PID"
            assert second.poll() is None and time.monotonic() < deadline, "the second exporter never waited"
            time.sleep(0.1)
        assert list(cache.iterdir()) == [lock_file]  # it started no export
        shutil.copytree(mnist_dir, target)  # what the first exporter's rename puts in place
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0
    assert json.loads(out) == {"target": str(target)}
    assert sorted(cache.iterdir()) == sorted([target, lock_file])
