"""Pure parts of infer_core (no TensorFlow): inputs, shapes, format detection, variant names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infer_core.detect import detect_variant, worker_env
from infer_core.errors import InputError, ModelNotFound, TensorNotFound, UnknownFormat
from infer_core.inputs import align_arrays, concrete_shape, parse_shape, synthesize
from infer_core.model import FP32_VARIANTS, VARIANTS, ModelSpec, TensorInfo, split_variant
from reports import schema


def test_variant_names_are_the_same_everywhere() -> None:
    assert VARIANTS == schema.VARIANTS
    assert FP32_VARIANTS == schema.FP32_VARIANTS
    assert split_variant("tflite+int8") == ("tflite", "int8")
    with pytest.raises(UnknownFormat, match="known formats"):
        split_variant("onnx")


def test_synthesize_is_seeded_and_dtype_correct() -> None:
    infos = [TensorInfo("image", "float32", (None, 4, 4, 1)), TensorInfo("tokens", "int32", (None, None))]
    a = synthesize(infos, 3, {"tokens": (1, 7)}, seed=5, vocab_size=50)
    b = synthesize(infos, 3, {"tokens": (1, 7)}, seed=5, vocab_size=50)
    c = synthesize(infos, 3, {"tokens": (1, 7)}, seed=6, vocab_size=50)
    assert a["image"].shape == (3, 4, 4, 1) and a["image"].dtype == np.float32
    assert a["tokens"].shape == (3, 7) and a["tokens"].dtype == np.int32
    assert 0 <= a["tokens"].min() and a["tokens"].max() < 50
    assert np.array_equal(a["image"], b["image"]) and not np.array_equal(a["image"], c["image"])


def test_dynamic_dimension_without_value_says_how_to_give_it() -> None:
    info = TensorInfo("tokens:0", "int32", (None, None))
    with pytest.raises(InputError, match=r"--shape tokens=2xN"):
        concrete_shape(info, 2, {})
    assert concrete_shape(info, 2, {"tokens": (1, 9)}) == (2, 9)


def test_parse_shape() -> None:
    assert parse_shape("tokens=1x128") == ("tokens", (1, 128))
    with pytest.raises(InputError, match="NAME=DxDx"):
        parse_shape("tokens:1x128")


def test_align_arrays_by_name_position_and_errors() -> None:
    infos = [TensorInfo("input:0", "float32", (None, 2))]
    x = np.zeros((3, 2), np.float32)
    assert align_arrays(infos, {"input": x}, "f.npz")[1] == "name"
    assert align_arrays(infos, {"Placeholder": x}, "f.npz")[1] == "position"
    with pytest.raises(InputError, match="dtype float64"):
        align_arrays(infos, {"input": x.astype(np.float64)}, "f.npz")
    with pytest.raises(InputError, match=r"shape \(3, 5\)"):
        align_arrays(infos, {"input": np.zeros((3, 5), np.float32)}, "f.npz")
    two = [TensorInfo("a", "float32", (None, 2)), TensorInfo("b", "float32", (None, 2))]
    with pytest.raises(TensorNotFound, match="no array named 'b'"):
        align_arrays(two, {"a": x, "c": x}, "f.npz")


def test_detect_variant(tmp_path: Path) -> None:
    (tmp_path / "m.pb").write_bytes(b"x")
    (tmp_path / "m.tflite").write_bytes(b"x")
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"x")
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "model.ckpt.index").write_bytes(b"x")
    assert detect_variant(tmp_path / "m.pb") == "frozen"
    assert detect_variant(tmp_path / "m.tflite") == "tflite"
    assert detect_variant(tmp_path / "sm") == "saved_model"
    assert detect_variant(tmp_path / "ck") == "checkpoint"
    assert detect_variant(tmp_path / "ck" / "model.ckpt") == "checkpoint"
    with pytest.raises(ModelNotFound):
        detect_variant(tmp_path / "absent.pb")
    (tmp_path / "m.onnx").write_bytes(b"x")
    with pytest.raises(UnknownFormat, match="--format"):
        detect_variant(tmp_path / "m.onnx")


def test_worker_env_separates_legacy_keras(tmp_path: Path) -> None:
    (tmp_path / "m.keras").write_bytes(b"x")
    (tmp_path / "m.pb").write_bytes(b"x")
    assert worker_env(ModelSpec(str(tmp_path / "m.keras")))["TF_USE_LEGACY_KERAS"] == "0"
    assert worker_env(ModelSpec(str(tmp_path / "m.pb")))["TF_USE_LEGACY_KERAS"] == "1"
    assert worker_env(ModelSpec(str(tmp_path / "m.pb")))["CUDA_VISIBLE_DEVICES"] == "-1"
    assert "CUDA_VISIBLE_DEVICES" not in worker_env(ModelSpec(str(tmp_path / "m.pb"), device="gpu"))


def test_model_spec_round_trips_through_json() -> None:
    spec = ModelSpec("m.pb", variant="frozen", inputs=("x:0",), shapes={"x": (1, 3)}, intra_op_threads=2)
    assert ModelSpec.from_json(spec.to_json()) == spec


def test_worker_env_carries_the_thread_counts_eager_formats_read(tmp_path: Path) -> None:
    env = worker_env(ModelSpec(str(tmp_path / "m.keras"), variant="keras", intra_op_threads=1, inter_op_threads=2))
    assert (env["TF_NUM_INTRAOP_THREADS"], env["OMP_NUM_THREADS"], env["TF_NUM_INTEROP_THREADS"]) == ("1", "1", "2")
    defaults = worker_env(ModelSpec(str(tmp_path / "m.pb"), variant="frozen", inter_op_threads=-1))
    assert not {"TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "TF_NUM_INTEROP_THREADS"} & set(defaults)
