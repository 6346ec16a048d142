"""Converters between formats. Each reads one model and writes another; each imports TensorFlow.

checkpoint -> frozen (variables to constants, v1)   checkpoint -> SavedModel (TF1 builder)
Keras -> SavedModel (export archive, named inputs)   SavedModel -> frozen (v2, from the signature)
SavedModel / Keras -> TFLite fp32, fp16, dynamic-range int8, full int8 (synthesised representative data)
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from infer_core import inputs as input_synth
from infer_core.errors import ConversionError
from infer_core.model import ModelSpec, split_variant

TFLITE_OPTIONS = ("", "fp16", "int8dyn", "int8")
REPRESENTATIVE_SAMPLES = 32


def _write_graph_def(graph_def: Any, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(graph_def.SerializeToString(deterministic=True))  # stable map-field order
    return out


def _op_names(tensors: Sequence[Any]) -> list[str]:
    return [t.name.split(":")[0] for t in tensors]


def checkpoint_to_frozen(spec: ModelSpec, out: Path) -> Path:
    """Fold a checkpoint's variables into constants; keeps only what the outputs need."""
    import tensorflow as tf

    from infer_core.formats import checkpoint

    model = checkpoint.load(spec, "checkpoint")
    try:
        with model.graph.as_default():
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                model.session, model.graph.as_graph_def(), _op_names(model.fetch_tensors))
    finally:
        model.close()
    return _write_graph_def(frozen, out)


def checkpoint_to_saved_model(spec: ModelSpec, out: Path) -> Path:
    """A TF1 SavedModel with a `serving_default` signature keyed by the tensors' op names."""
    import tensorflow as tf

    from infer_core.formats import checkpoint

    if out.exists():
        raise ConversionError(f"{out}: already exists; remove it or choose another --out")
    model = checkpoint.load(spec, "checkpoint")
    try:
        with model.graph.as_default():
            signature = tf.compat.v1.saved_model.predict_signature_def(
                inputs={n: t for n, t in zip(_op_names(model.feed_tensors), model.feed_tensors)},
                outputs={n.replace("/", "_"): t for n, t in zip(_op_names(model.fetch_tensors), model.fetch_tensors)})
            builder = tf.compat.v1.saved_model.Builder(str(out))
            builder.add_meta_graph_and_variables(model.session, [tf.compat.v1.saved_model.tag_constants.SERVING],
                                                 signature_def_map={"serving_default": signature})
            builder.save()
    finally:
        model.close()
    return out


def keras_to_saved_model(keras_model: Any, out: Path) -> Path:
    """Export a live Keras model with named inputs/outputs (stable names; TF-NOTES.md, Files)."""
    import tensorflow as tf

    from infer_core.formats.keras import trace

    function = trace(keras_model)
    _, specs = function.structured_input_signature
    module = tf.Module()
    module.model = keras_model
    # Track the backing tf.Variables explicitly: without them the SavedModel's variables are not what
    # the TFLite converter freezes (its outputs came out NaN when this line was removed).
    module.variables_ = [v.value if hasattr(v, "value") else v for v in keras_model.variables]
    serve = tf.function(lambda **kw: function(**kw))
    concrete = serve.get_concrete_function(**specs)
    tf.saved_model.save(module, str(out), signatures={"serving_default": concrete})
    return out


def keras_file_to_saved_model(spec: ModelSpec, out: Path) -> Path:
    from infer_core.formats import keras

    model = keras.load(spec, "keras")
    return keras_to_saved_model(model.owner, out)


def _rename_outputs(graph_def: Any, outputs: Mapping[str, Any]) -> Any:
    """Give a frozen function's outputs the signature's names (Identity nodes named after the keys)."""
    for key, tensor in outputs.items():
        node = graph_def.node.add()
        node.name, node.op = key, "Identity"
        node.input.append(tensor.name[:-2] if tensor.name.endswith(":0") else tensor.name)
        node.attr["T"].type = tensor.dtype.as_datatype_enum
    return graph_def


def saved_model_to_frozen(spec: ModelSpec, out: Path) -> Path:
    """Freeze a SavedModel signature (convert_variables_to_constants_v2); inputs and outputs keep their keys."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from infer_core.formats import saved_model

    model = saved_model.load(spec, "saved_model")
    frozen = convert_variables_to_constants_v2(model.concrete_function)
    graph_def = frozen.graph.as_graph_def()
    names = dict(zip(sorted(model.concrete_function.structured_outputs), frozen.outputs))
    existing = {n.name for n in graph_def.node}
    clash = [k for k in names if k in existing]
    if clash:
        raise ConversionError(f"output name {clash[0]!r} clashes with a node of the frozen graph")
    return _write_graph_def(_rename_outputs(graph_def, names), out)


def representative_data(spec: ModelSpec, infos: Sequence[Any], shapes: Mapping[str, Sequence[int]],
                        vocab_size: int | None) -> Iterator[dict[str, np.ndarray]]:
    """Seeded calibration inputs shaped like the signature (batch 1) for full-integer quantisation."""
    for seed in range(REPRESENTATIVE_SAMPLES):
        yield input_synth.synthesize(infos, 1, shapes, seed=1000 + seed, vocab_size=vocab_size)


def saved_model_to_tflite(spec: ModelSpec, out: Path, option: str = "",
                          shapes: Mapping[str, Sequence[int]] | None = None,
                          vocab_size: int | None = None) -> Path:
    """fp32 ('' ), fp16, dynamic-range int8 ('int8dyn') or full int8 ('int8', float I/O)."""
    import tensorflow as tf

    from infer_core.formats import saved_model

    if option not in TFLITE_OPTIONS:
        raise ConversionError(f"unknown TFLite option {option!r}; known: fp32, fp16, int8dyn, int8")
    converter = tf.lite.TFLiteConverter.from_saved_model(spec.path, signature_keys=[spec.signature])
    if option:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if option == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if option == "int8":
        infos = saved_model.load(spec, "saved_model").inputs
        data = list(representative_data(spec, infos, shapes or spec.shapes, vocab_size or spec.vocab_size))
        converter.representative_dataset = lambda: ({k: v for k, v in d.items()} for d in data)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        flatbuffer = converter.convert()
    except Exception as exc:
        raise ConversionError(f"{spec.path}: TFLite conversion ({option or 'fp32'}) failed: "
                              f"{str(exc).splitlines()[0][:200]}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(flatbuffer)
    return out


def convert(spec: ModelSpec, source: str, target: str, out: Path, **kwargs: Any) -> Path:
    """Dispatch on (source base format, target variant)."""
    base, _ = split_variant(source)
    tbase, option = split_variant(target)
    if (base, tbase) == ("checkpoint", "frozen"):
        return checkpoint_to_frozen(spec, out)
    if (base, tbase) == ("checkpoint", "saved_model"):
        return checkpoint_to_saved_model(spec, out)
    if (base, tbase) == ("keras", "saved_model"):
        return keras_file_to_saved_model(spec, out)
    if (base, tbase) == ("saved_model", "frozen"):
        return saved_model_to_frozen(spec, out)
    if base in ("saved_model", "keras") and tbase == "tflite":
        if base == "keras":
            with tempfile.TemporaryDirectory(prefix="infer-bench-") as tmp:
                sm = keras_file_to_saved_model(spec, Path(tmp) / "saved_model")
                return saved_model_to_tflite(ModelSpec(path=str(sm), shapes=spec.shapes, vocab_size=spec.vocab_size),
                                             out, option, **kwargs)
        return saved_model_to_tflite(spec, out, option, **kwargs)
    raise ConversionError(f"no converter from {source} to {target}; available: checkpoint->frozen, "
                          f"checkpoint->saved_model, keras->saved_model, saved_model->frozen, "
                          f"saved_model|keras->tflite[+fp16|+int8dyn|+int8]")
