"""Export a zoo model into the fixed layout, once, and map variants to its files.

Layout of DIR: manifest.json, checkpoint/ (model.ckpt.meta/.index/.data-*, checkpoint), frozen.pb,
saved_model/, model.keras, model.tflite, model_fp16.tflite, model_int8dyn.tflite, model_int8.tflite.
Two workers build it: a Keras 3 one (Keras, SavedModel, TFLite files) and a legacy tf-keras one
(the same network as a TF1 graph with the same weights, saved with a Saver, then frozen).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.runner.client import run_plain_task
from infer_core.model import ModelSpec, split_variant
from infer_core.zoo import entry

MANIFEST_VERSION = 2  # 2: seeded non-zero biases (infer_core.zoo._nonzero_biases)
FILES = {
    "checkpoint": "checkpoint",
    "frozen": "frozen.pb",
    "saved_model": "saved_model",
    "keras": "model.keras",
    "tflite": "model.tflite",
    "tflite+fp16": "model_fp16.tflite",
    "tflite+int8dyn": "model_int8dyn.tflite",
    "tflite+int8": "model_int8.tflite",
}
ALL_FORMATS = tuple(FILES)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def default_cache_dir() -> Path:
    base = os.environ.get("INFER_BENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "infer-bench")
    return Path(base) / "zoo"


def parse_formats(text: str) -> tuple[str, ...]:
    if text == "all":
        return ALL_FORMATS
    formats = tuple(f.strip() for f in text.split(",") if f.strip())
    for f in formats:
        if f not in FILES:
            raise BenchError(f"--formats: unknown format {f!r}; the zoo exports {', '.join(ALL_FORMATS)} or 'all'")
    return formats


def _prune(out: Path, keep: tuple[str, ...]) -> None:
    for variant, rel in FILES.items():
        if variant not in keep:
            path = out / rel
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def export(name: str, out: Path, formats: tuple[str, ...] = ALL_FORMATS) -> Path:
    """Build the zoo model `name` into `out` (which must not exist or be empty)."""
    zoo_entry = entry(name)
    if out.exists() and any(out.iterdir()):
        raise BenchError(f"{out}: directory exists and is not empty; choose another --out or remove it")
    out.mkdir(parents=True, exist_ok=True)
    keras_msgs, tf1_msgs = _build_both(name, out)
    tf1 = next(m for m in tf1_msgs if m.get("kind") == "zoo_tf1_done")["tensors"]
    done = next(m for m in keras_msgs if m.get("kind") == "zoo_keras_done")
    _prune(out, formats)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "model": name,
        "description": zoo_entry.description,
        "files": {v: FILES[v] for v in formats},
        "inputs": done["inputs"],
        "outputs": done["outputs"],
        # the TF1 graph's tensor names (checkpoint, frozen): its builder may add more placeholders
        "tf1_tensors": {"inputs": [tf1["input"]], "outputs": [tf1["output"]]},
        "shapes": {k: list(v) for k, v in zoo_entry.default_shapes.items()},
        "vocab_size": zoo_entry.vocab_size,
        "versions": {**done["versions"], "infer-bench": _version("infer-bench")},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def _build_both(name: str, out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The Keras 3 worker and the tf-keras worker side by side: the second imports TensorFlow while the
    first builds, then waits for its weights (weights.npz) and saves the checkpoint while the first
    converts to TFLite. Should the Keras side fail, the TF1 side is told to stop waiting."""
    from concurrent.futures import ThreadPoolExecutor

    from bench.worker.tasks import KERAS_FAILED

    def keras() -> list[dict[str, Any]]:
        try:
            return run_plain_task({"task": "zoo_build", "phase": "keras", "model": name, "out": str(out)},
                                  {"TF_USE_LEGACY_KERAS": "0", "CUDA_VISIBLE_DEVICES": "-1"})
        except BaseException:
            (out / KERAS_FAILED).touch()
            raise

    with ThreadPoolExecutor(max_workers=2) as pool:
        keras_future = pool.submit(keras)
        tf1_future = pool.submit(run_plain_task, {"task": "zoo_build", "phase": "tf1", "model": name, "out": str(out)},
                                 {"TF_USE_LEGACY_KERAS": "1", "CUDA_VISIBLE_DEVICES": "-1"})
        keras_msgs = keras_future.result()  # its error first: the TF1 side's is only a consequence
        return keras_msgs, tf1_future.result()


def cache_key(name: str) -> str:
    return f"{name}-ib{_version('infer-bench')}-tf{_version('tensorflow')}-m{MANIFEST_VERSION}"


def ensure_exported(name: str, cache_dir: Path | None = None) -> Path:
    """The cached export of a zoo model, exporting it first if needed (atomic: temp dir + rename)."""
    entry(name)
    cache = cache_dir or default_cache_dir()
    target = cache / cache_key(name)
    if (target / "manifest.json").exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # One export per model at a time: a second run (or test process) started meanwhile waits for the first
    # instead of exporting the same files again; the lock dies with its holder.
    with export_lock(cache, name).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "manifest.json").exists():
            _export_into(name, cache, target)
    return target


def export_lock(cache: Path, name: str) -> Path:
    """The file whose lock one exporter of `name` into `cache` holds."""
    return cache / f".{cache_key(name)}.lock"


def _export_into(name: str, cache: Path, target: Path) -> None:
    """Export into a temporary directory of the cache, then rename it into place (atomic)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache))
    try:
        export(name, tmp / "model")
        try:
            os.replace(tmp / "model", target)
        except OSError:
            if not (target / "manifest.json").exists():  # another exporter without the lock got there: fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_manifest(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise BenchError(f"{model_dir}: no manifest.json; not a directory written by `infer-bench zoo export`") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: corrupt manifest ({exc.msg} at line {exc.lineno})") from None
    if manifest.get("manifest_version") != MANIFEST_VERSION:
        raise BenchError(f"{path}: manifest version {manifest.get('manifest_version')!r}, expected "
                         f"{MANIFEST_VERSION}; re-export with `infer-bench zoo export`")
    return dict(manifest)


def variant_file(manifest: dict[str, Any], variant: str) -> str | None:
    """The file holding `variant`: its own entry, or its base format's (for +xla)."""
    files = manifest["files"]
    return files.get(variant) or (files.get(split_variant(variant)[0]) if variant.endswith("+xla") else None)


def available_variants(model_dir: Path) -> list[str]:
    manifest = read_manifest(model_dir)
    return [v for v in FILES if v in manifest["files"]]


def spec_for(model_dir: Path, variant: str, **overrides: Any) -> ModelSpec:
    manifest = read_manifest(model_dir)
    rel = variant_file(manifest, variant)
    if rel is None:
        raise BenchError(f"{model_dir}: has no {variant} file (it has {', '.join(manifest['files'])})")
    fields: dict[str, Any] = {"path": str(model_dir / rel), "variant": variant,
                              "shapes": {k: tuple(v) for k, v in manifest.get("shapes", {}).items()},
                              "vocab_size": manifest.get("vocab_size")}
    if split_variant(variant)[0] in ("checkpoint", "frozen") and manifest.get("tf1_tensors"):
        fields["inputs"] = tuple(manifest["tf1_tensors"]["inputs"])
        fields["outputs"] = tuple(manifest["tf1_tensors"]["outputs"])
    fields.update(overrides)
    return ModelSpec(**fields)


def export_from_cache(name: str, out: Path, formats: tuple[str, ...] = ALL_FORMATS) -> Path:
    """`zoo export`: a copy of the cached export (made first if needed), cut to `formats`.

    The export is seeded, so the cached files are the ones a fresh export would write; copying them
    takes a fraction of a second instead of two workers' TensorFlow start-up and conversion."""
    if out.exists() and any(out.iterdir()):
        raise BenchError(f"{out}: directory exists and is not empty; choose another --out or remove it")
    cached = ensure_exported(name)
    manifest = read_manifest(cached)
    out.mkdir(parents=True, exist_ok=True)
    for variant in formats:
        src, dst = cached / FILES[variant], out / FILES[variant]
        shutil.copytree(src, dst) if src.is_dir() else shutil.copy2(src, dst)
    manifest["files"] = {v: FILES[v] for v in formats}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out
