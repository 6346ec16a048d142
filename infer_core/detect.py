"""Format detection from a path, and the environment each format needs before TensorFlow starts.

No TensorFlow here: the parent process calls these to decide how to start a worker.
"""

from __future__ import annotations

from pathlib import Path

from infer_core.errors import ModelNotFound, UnknownFormat
from infer_core.model import ModelSpec, split_variant

SUFFIXES = {
    ".pb": "frozen",
    ".pbtxt": "frozen",
    ".keras": "keras",
    ".h5": "keras",
    ".hdf5": "keras",
    ".tflite": "tflite",
    ".meta": "checkpoint",
    ".index": "checkpoint",
}


def _is_checkpoint_prefix(path: Path) -> bool:
    return path.with_name(path.name + ".index").exists() or path.with_name(path.name + ".meta").exists()


def _detect_dir(path: Path) -> str:
    if (path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists():
        return "saved_model"
    if (path / "checkpoint").exists() or any(path.glob("*.index")) or any(path.glob("*.meta")):
        return "checkpoint"
    if (path / "manifest.json").exists():
        raise UnknownFormat(f"{path}: an exported model directory; pick one format inside it "
                            f"(or use `infer-bench check {path}` for all of them)")
    raise UnknownFormat(f"{path}: directory is neither a SavedModel (no saved_model.pb) nor a checkpoint "
                        f"directory (no 'checkpoint' file or *.index); pass --format to say what it is")


def detect_variant(path: str | Path) -> str:
    """The base format of the model at `path` (no variant suffix)."""
    p = Path(path)
    if p.is_dir():
        return _detect_dir(p)
    if p.suffix in SUFFIXES and p.exists():
        return SUFFIXES[p.suffix]
    if _is_checkpoint_prefix(p):
        return "checkpoint"
    if p.name.startswith("model.ckpt") and p.parent.exists() and any(p.parent.glob(p.name + "*")):
        return "checkpoint"
    if not p.exists():
        raise ModelNotFound(f"{p}: no such file or directory")
    raise UnknownFormat(f"{p}: cannot tell the model format from the name (known: .pb, .pbtxt, .keras, .h5, "
                        f".tflite, a checkpoint prefix or directory, a SavedModel directory); pass --format")


def resolve_variant(spec: ModelSpec) -> str:
    """The variant a spec asks for: explicit, or detected; validated either way."""
    variant = spec.variant or detect_variant(spec.path)
    split_variant(variant)
    return variant


PREFER_LEGACY = ("checkpoint", "frozen")  # either Keras loads them; their workers run under tf-keras by default


def required_keras(variant: str, builder: str | None = None) -> str | None:
    """The TF_USE_LEGACY_KERAS value a variant needs in its process: "1" (tf-keras), "0" (Keras 3), or
    None when either works. The one place this is decided (workers, parity, the pytest plugin).

    A checkpoint rebuilt by a user's builder runs `tf.compat.v1.layers`, which needs tf-keras; a
    checkpoint through its `.meta`, a frozen graph, a SavedModel and TFLite load under either. A
    Keras file needs Keras 3 (a legacy `.h5` that Keras 3 cannot read is retried under tf-keras).
    """
    base = variant.partition("+")[0]
    if base == "checkpoint" and builder:
        return "1"
    return "0" if base == "keras" else None


def worker_env(spec: ModelSpec, legacy_keras: bool | None = None) -> dict[str, str]:
    """Environment variables the worker for `spec` needs before TensorFlow is imported.

    TF1 graph code (checkpoint builders using tf.compat.v1.layers) needs TF_USE_LEGACY_KERAS=1,
    which turns tf.keras into tf-keras for the whole process; Keras 3 files need it unset, so
    those load in separate processes (TF-NOTES.md).
    """
    base, _ = split_variant(resolve_variant(spec))
    if legacy_keras is None:
        need = required_keras(base, spec.builder)
        legacy_keras = need == "1" if need is not None else base in PREFER_LEGACY
    env = {"TF_USE_LEGACY_KERAS": "1" if legacy_keras else "0", **thread_env(spec)}
    if spec.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = "-1"
    return env


def thread_env(spec: ModelSpec) -> dict[str, str]:
    """The spec's thread counts for what reads them from the environment at start-up: the eager runtime of
    SavedModel and Keras functions (sessions take theirs from their ConfigProto) and OpenMP."""
    env: dict[str, str] = {}
    if spec.intra_op_threads > 0:
        env.update(TF_NUM_INTRAOP_THREADS=str(spec.intra_op_threads), OMP_NUM_THREADS=str(spec.intra_op_threads))
    if spec.inter_op_threads > 0:
        env["TF_NUM_INTEROP_THREADS"] = str(spec.inter_op_threads)
    return env
