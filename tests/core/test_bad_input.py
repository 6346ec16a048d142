"""Every bad input gives one clear line naming the file or tensor, exit 2, no traceback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.core.helpers import cli, graph_of_an_unknown_op, one_line_error, snippet

pytestmark = pytest.mark.slow


def test_missing_path(tmp_path: Path) -> None:
    line = one_line_error(cli("check", str(tmp_path / "absent.pb")))
    assert "absent.pb" in line and "no such file" in line


def test_unknown_format(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"\x08\x01")
    line = one_line_error(cli("check", str(tmp_path / "model.onnx")))
    assert "model.onnx" in line and "--format" in line


def test_truncated_frozen_graph(tmp_path: Path, mnist_dir: Path) -> None:
    data = (mnist_dir / "frozen.pb").read_bytes()
    (tmp_path / "cut.pb").write_bytes(data[: len(data) // 2])
    line = one_line_error(cli("check", str(tmp_path / "cut.pb")))
    assert "cut.pb" in line and "GraphDef" in line


def test_random_bytes_as_saved_model(tmp_path: Path) -> None:
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(np.random.default_rng(0).bytes(4096))
    line = one_line_error(cli("check", str(tmp_path / "sm")))
    assert "saved_model.pb" in line and "corrupt" in line


def test_checkpoint_without_index(tmp_path: Path, mnist_dir: Path) -> None:
    ckpt = tmp_path / "ckpt"
    shutil.copytree(mnist_dir / "checkpoint", ckpt)
    (ckpt / "model.ckpt.index").unlink()
    line = one_line_error(cli("check", str(ckpt / "model.ckpt"), "--format", "checkpoint"))
    assert ".index" in line and "incomplete" in line


def test_empty_tflite(tmp_path: Path) -> None:
    (tmp_path / "empty.tflite").write_bytes(b"")
    line = one_line_error(cli("check", str(tmp_path / "empty.tflite")))
    assert "empty.tflite" in line and "empty" in line


def test_random_bytes_named_keras(tmp_path: Path) -> None:
    (tmp_path / "m.keras").write_bytes(os.urandom(1000))
    line = one_line_error(cli("check", str(tmp_path / "m.keras")))
    assert "m.keras" in line and "zip" in line


def test_a_text_file_given_as_keras_names_its_real_extension(tmp_path: Path) -> None:
    (tmp_path / "not_a_model.txt").write_text("hello\n")
    line = one_line_error(cli("check", str(tmp_path / "not_a_model.txt"), "--format", "keras"))
    assert "not_a_model.txt: a .txt file, not a Keras model" in line and ".h5 (" not in line


def test_builder_file_missing(tmp_path: Path, mnist_dir: Path) -> None:
    line = one_line_error(cli("check", f"{tmp_path}/nope.py:build", "--checkpoint", str(mnist_dir / "checkpoint")))
    assert "nope.py" in line and "does not exist" in line


def test_builder_not_returning_tensors(tmp_path: Path, mnist_dir: Path) -> None:
    (tmp_path / "bad.py").write_text("def build():\n    return 1, 2\n")
    line = one_line_error(cli("check", f"{tmp_path}/bad.py:build", "--checkpoint", str(mnist_dir / "checkpoint")))
    assert "bad.py" in line and "tensors" in line


def test_unknown_tensor_name(mnist_dir: Path) -> None:
    line = one_line_error(cli("check", str(mnist_dir / "frozen.pb"), "--output", "nope:0"))
    assert "'nope:0'" in line and "frozen.pb" in line
    # a wrong output name is answered with the outputs it could have meant, not the inputs
    assert "candidate outputs: output" in line and "placeholders" not in line


@pytest.mark.parametrize("array,expect", [(np.zeros((2, 28, 28, 3), np.float32), "shape"),
                                          (np.zeros((2, 28, 28, 1), np.float64), "dtype float64")])
def test_npz_with_wrong_shape_or_dtype(tmp_path: Path, mnist_dir: Path, array: np.ndarray, expect: str) -> None:
    np.savez(tmp_path / "in.npz", input=array)
    line = one_line_error(cli("check", str(mnist_dir / "model.tflite"), "--inputs", str(tmp_path / "in.npz")))
    assert "in.npz" in line and expect in line


def test_absent_gpu(mnist_dir: Path) -> None:
    from infer_core.devices import gpu_hint

    if gpu_hint():
        pytest.skip("this machine has a GPU")
    line = one_line_error(cli("check", str(mnist_dir / "frozen.pb"), "--device", "gpu"))
    assert "gpu" in line and "not available" in line


LAMBDA_MODEL = """
import json, keras
inp = keras.Input((4,), name="input")
out = keras.layers.Lambda(lambda x: x * 2.0, name="output")(inp)
keras.Model(inp, out).save({path!r})
print(json.dumps("ok"))
"""


def test_keras_safe_mode_refuses_code_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "lambda.keras"
    snippet(LAMBDA_MODEL.format(path=str(path)))
    line = one_line_error(cli("check", str(path)))
    assert "lambda.keras" in line and "--unsafe-keras" in line
    ok = cli("check", str(path), "--keras", str(path), "--unsafe-keras")  # one format alone compares nothing
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "may run code" in ok.stderr


def test_a_graph_that_passes_the_preflight_but_does_not_load_is_a_failed_cell(tmp_path: Path) -> None:
    """The preflight refuses only what is surely broken (issue 23, item 5): a well-formed GraphDef whose op
    TensorFlow does not have is for the worker to find, and that is a failed cell (exit 1), not an input error."""
    from bench.scenario.contents import ModelFile, problem
    from reports.schema import read_run_file

    graph_of_an_unknown_op(tmp_path / "model.pb")
    assert problem("frozen", ModelFile(tmp_path / "model.pb")) is None
    out = tmp_path / "run"
    proc = cli("run", str(tmp_path / "model.pb"), "--quick", "--batch-sizes", "1", "--out", str(out), "--no-history",
               "--no-report", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    (cell,) = read_run_file(out / "results.jsonl").cells
    assert cell["status"] == "failed" and "NoSuchOp" in cell["error"] and "does not import" in cell["error"]
