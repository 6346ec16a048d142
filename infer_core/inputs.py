"""Inputs for a model: synthesised from its signature (seeded, dtype-correct) or loaded from .npy/.npz."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from infer_core.errors import InputError, TensorNotFound
from infer_core.model import Model, TensorInfo

DEFAULT_INT_HIGH = 100  # exclusive upper bound for integer inputs when no vocabulary size is known


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """'tokens=1x128' -> ('tokens', (1, 128))."""
    name, sep, dims = text.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, tuple(int(d) for d in dims.lower().split("x"))
    except ValueError:
        raise InputError(f"--shape {text!r}: expected NAME=DxDx... such as tokens=1x128") from None


def _short(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def _lookup(shapes: Mapping[str, Sequence[int]], name: str) -> Sequence[int] | None:
    return shapes.get(name, shapes.get(_short(name)))


def concrete_shape(info: TensorInfo, batch_size: int, shapes: Mapping[str, Sequence[int]]) -> tuple[int, ...]:
    """The shape to feed: the batch dimension set to `batch_size`, dynamic dims from `shapes`."""
    given = _lookup(shapes, info.name)
    if info.shape is None and given is None:
        raise InputError(f"input {info.name!r} has unknown rank; give its shape with --shape {_short(info.name)}=1x...")
    dims = list(given if given is not None else info.shape)  # type: ignore[arg-type]
    if info.shape is not None and len(dims) != len(info.shape):
        raise InputError(f"--shape for {info.name!r} has {len(dims)} dimensions, the model's input has "
                         f"{len(info.shape)} ({_fmt(info.shape)})")
    if info.batch_dim is not None:
        dims[info.batch_dim] = batch_size
    missing = [i for i, d in enumerate(dims) if d is None or d < 0]
    if missing:
        raise InputError(f"input {info.name!r} has dynamic dimension(s) {missing} in shape {_fmt(info.shape)}; "
                         f"give a value with --shape {_short(info.name)}=" + "x".join(
                             str(batch_size) if i == info.batch_dim else "N" for i in range(len(dims))))
    return tuple(int(d) for d in dims if d is not None)


def _fmt(shape: Sequence[int | None] | None) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")" if shape is not None else "?"


def _synth_one(info: TensorInfo, shape: tuple[int, ...], rng: np.random.Generator, vocab_size: int | None) -> np.ndarray:
    dtype = np.dtype(info.dtype)
    if dtype.kind == "f":
        return rng.random(shape, dtype=np.float64).astype(dtype)
    if dtype.kind in "iu":
        high = vocab_size if vocab_size else DEFAULT_INT_HIGH
        high = min(high, np.iinfo(dtype).max)
        return rng.integers(0, high, size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "SUO":
        return np.full(shape, b"infer-bench", dtype=object)
    raise InputError(f"input {info.name!r}: cannot synthesise dtype {info.dtype}; pass --inputs FILE.npz")


def synthesize(
    inputs: Sequence[TensorInfo],
    batch_size: int,
    shapes: Mapping[str, Sequence[int]] | None = None,
    seed: int = 0,
    vocab_size: int | None = None,
) -> dict[str, np.ndarray]:
    """Seeded inputs: floats in [0, 1), ints in [0, vocab_size) (else small non-negative)."""
    rng = np.random.default_rng(seed)
    shapes = shapes or {}
    return {t.name: _synth_one(t, concrete_shape(t, batch_size, shapes), rng, vocab_size) for t in inputs}


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Arrays from a .npz (keyed by input name) or a .npy (a single input)."""
    if not path.exists():
        raise InputError(f"{path}: no such inputs file")
    try:
        if path.suffix == ".npy":
            return {"": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable .npy/.npz file ({exc})") from None


def _check_array(info: TensorInfo, array: np.ndarray, source: str) -> np.ndarray:
    if array.dtype != np.dtype(info.dtype):
        raise InputError(f"{source}: array for input {info.name!r} has dtype {array.dtype}, the model expects {info.dtype}")
    if info.shape is not None:
        ok = len(array.shape) == len(info.shape) and all(
            d is None or d == a for d, a in zip(info.shape, array.shape))
        if not ok:
            raise InputError(f"{source}: array for input {info.name!r} has shape {tuple(array.shape)}, "
                             f"the model expects {_fmt(info.shape)}")
    return array


def _match_by_name(inputs: Sequence[TensorInfo], arrays: Mapping[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """Key loaded arrays by the model's input names, checking dtype and shape."""
    if list(arrays) == [""] and len(inputs) == 1:
        return {inputs[0].name: _check_array(inputs[0], arrays[""], source)}
    by_short = {_short(k): v for k, v in arrays.items()}
    feeds = {}
    for info in inputs:
        if _short(info.name) not in by_short:
            raise TensorNotFound(f"{source}: no array named {_short(info.name)!r}; it holds "
                                 f"{sorted(arrays)}, the model's inputs are {[t.name for t in inputs]}")
        feeds[info.name] = _check_array(info, by_short[_short(info.name)], source)
    return feeds


def align_arrays(inputs: Sequence[TensorInfo], arrays: Mapping[str, np.ndarray], source: str) -> tuple[dict[str, np.ndarray], str]:
    """Like `match_arrays`, but when no name matches and the counts agree, match by position.

    Formats of one model can name the same input differently (a TF1 placeholder 'Placeholder:0',
    a Keras input 'input'); returns the feeds and how they were matched ("name" or "position").
    """
    shorts = {_short(k) for k in arrays}
    if any(_short(t.name) in shorts for t in inputs) or len(arrays) != len(inputs):
        return _match_by_name(inputs, arrays, source), "name"
    return {t.name: _check_array(t, arrays[k], source) for t, k in zip(inputs, arrays)}, "position"


def synthesize_for(model: Model, batch_size: int, shapes: Mapping[str, Sequence[int]] | None = None,
                   seed: int = 0, vocab_size: int | None = None) -> dict[str, np.ndarray]:
    """Inputs for a loaded model: integer inputs bounded by `vocab_size`, else by the model's own
    embedding tables where they can be discovered, else small non-negative values."""
    bound = vocab_size or model.int_input_bound()
    return synthesize(model.inputs, batch_size, shapes, seed=seed, vocab_size=bound)


def match_arrays(inputs: Sequence[TensorInfo], arrays: Mapping[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """Loaded arrays keyed by the model's input names (by name, else by position; see align_arrays)."""
    return align_arrays(inputs, arrays, source)[0]
