"""TF1 Saver checkpoint: through its `.meta` graph, or through the user's graph-building code.

The seed's flow builds the graph inside `graph.as_default()` but creates the Saver and Session
outside it, so they do not see the graph's variables. Here the harness creates the Graph, calls
the user's builder inside it, and creates the Saver and Session on that same graph.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infer_core import devices
from infer_core.errors import BuilderError, CorruptModel, ModelNotFound
from infer_core.formats.session import SessionModel, open_session
from infer_core.model import ModelSpec


def _prefix_from_dir(directory: Path) -> tuple[Path, str | None]:
    """The checkpoint prefix a `checkpoint` state file names, resolved inside `directory`.

    A Saver writes absolute paths into that file unless save_relative_paths=True, so a copied
    directory can point back to the original (TF-NOTES.md): prefer the file of the same name here.
    """
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(directory.absolute()))
    if state is None or not state.model_checkpoint_path:
        indexes = sorted(directory.glob("*.index"))
        if len(indexes) == 1:
            return indexes[0].with_suffix(""), None
        raise CorruptModel(f"{directory}: no usable 'checkpoint' state file and {len(indexes)} *.index files; "
                           f"give the checkpoint prefix (e.g. {directory}/model.ckpt)")
    # TensorFlow joins a relative path in the state file onto the directory it was given, so with an
    # absolute directory the answer is absolute and is never joined twice ("models/ck/models/ck/...").
    named = Path(state.model_checkpoint_path)
    local = directory.absolute() / named.name
    if named != local and Path(str(local) + ".index").exists():
        return directory / named.name, f"'checkpoint' file names {named}; using the copy in {directory}"
    return (named if named.parent != local.parent else directory / named.name), None


def resolve_prefix(path: Path) -> tuple[Path, list[str]]:
    """A checkpoint prefix from a directory, a prefix, or a .meta/.index/.data file path."""
    notes: list[str] = []
    if path.is_dir():
        prefix, note = _prefix_from_dir(path)
        notes += [note] if note else []
    elif path.suffix in (".meta", ".index"):
        prefix = path.with_suffix("")
    elif ".data-" in path.name:
        prefix = path.with_name(path.name.split(".data-")[0])
    else:
        prefix = path
    if not prefix.parent.exists():
        raise ModelNotFound(f"{path}: no such checkpoint directory")
    if not Path(str(prefix) + ".index").exists():
        if not any(prefix.parent.glob(prefix.name + "*")):
            raise ModelNotFound(f"{path}: no checkpoint files with prefix {prefix}")
        raise CorruptModel(f"{prefix}: checkpoint has no .index file ({prefix}.index); the checkpoint is "
                           f"incomplete — copy the .index file along with the .data-* files")
    if not any(prefix.parent.glob(prefix.name + ".data-*")):
        raise CorruptModel(f"{prefix}: checkpoint has no .data-* file; the checkpoint is incomplete")
    return prefix, notes


def import_builder(ref: str) -> Callable[[], Any]:
    """'path/to/file.py:function' or 'package.module:function' -> the function."""
    module_ref, sep, func_name = ref.rpartition(":")
    if not sep or not module_ref or not func_name:
        raise BuilderError(f"builder {ref!r}: expected FILE.py:FUNCTION or package.module:FUNCTION")
    try:
        if module_ref.endswith(".py"):
            file = Path(module_ref)
            if not file.is_file():
                raise BuilderError(f"builder file {file} does not exist")
            mod_spec = importlib.util.spec_from_file_location(f"infer_bench_builder_{file.stem}", file)
            assert mod_spec is not None and mod_spec.loader is not None
            module = importlib.util.module_from_spec(mod_spec)
            sys.modules[mod_spec.name] = module
            mod_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_ref)
    except BuilderError:
        raise
    except Exception as exc:  # the user's module failed to import: say where and why
        raise BuilderError(f"builder {module_ref}: importing it failed: {type(exc).__name__}: {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise BuilderError(f"builder {module_ref} has no function {func_name!r}")
    return func  # type: ignore[no-any-return]


def _tensor_list(value: Any, what: str, ref: str) -> list[Any]:
    import tensorflow as tf

    items = list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, (list, tuple)) else [value]
    if not items or not all(isinstance(t, tf.Tensor) for t in items):
        raise BuilderError(f"builder {ref}: must return (inputs, outputs) as tensors (or lists/dicts of "
                           f"tensors); its {what} are {type(value).__name__}")
    return items


def build_with(ref: str, device: str) -> tuple[Any, list[str], list[str]]:
    """Run the user's builder inside a fresh graph; (graph, input names, output names)."""
    import tensorflow as tf

    func = import_builder(ref)
    graph = tf.Graph()
    with graph.as_default(), tf.device(devices.tf_device(device)):
        try:
            result = func()
        except Exception as exc:
            raise BuilderError(f"builder {ref} raised {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
    if isinstance(result, dict) and {"inputs", "outputs"} <= set(result):
        result = (result["inputs"], result["outputs"])
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise BuilderError(f"builder {ref}: must return (inputs, outputs); it returned {type(result).__name__}")
    feed = _tensor_list(result[0], "inputs", ref)
    fetch = _tensor_list(result[1], "outputs", ref)
    return graph, [t.name for t in feed], [t.name for t in fetch]


def _restorer(saver: Any, prefix: Path) -> Callable[[Any], None]:
    import tensorflow as tf

    def restore(session: Any) -> None:
        try:
            saver.restore(session, str(prefix))
        except (tf.errors.OpError, ValueError) as exc:
            raise CorruptModel(f"{prefix}: restoring the checkpoint failed: {str(exc).splitlines()[0][:200]}") from None

    return restore


def _graph_from_meta(prefix: Path, device: str) -> tuple[Any, Any]:
    import tensorflow as tf

    meta = Path(str(prefix) + ".meta")
    if not meta.exists():
        raise ModelNotFound(f"{prefix}: no .meta graph next to the checkpoint; give the graph-building code "
                            f"with --builder FILE.py:FUNCTION")
    graph = tf.Graph()
    with graph.as_default(), tf.device(devices.tf_device(device)):
        try:
            saver = tf.compat.v1.train.import_meta_graph(str(meta), clear_devices=True)
        except Exception as exc:  # protobuf DecodeError, ValueError, OpError: a corrupt .meta
            raise CorruptModel(f"{meta}: not a readable MetaGraphDef ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:160] if str(exc) else ''})") from None
    if saver is None:
        raise CorruptModel(f"{meta}: the meta graph has no variables to restore")
    return graph, saver


def load(spec: ModelSpec, variant: str) -> SessionModel:
    import tensorflow as tf

    device = devices.require(spec.device) and spec.device
    prefix, notes = resolve_prefix(Path(spec.path))
    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    if spec.builder:
        graph, in_names, out_names = build_with(spec.builder, device)
        with graph.as_default():
            saver = tf.compat.v1.train.Saver()
        route = f"builder {spec.builder}"
        phases["graph_build"] = time.perf_counter() - t0
    else:
        graph, saver = _graph_from_meta(prefix, device)
        in_names, out_names = [], []
        route = "meta graph"
        phases["meta_graph_import"] = time.perf_counter() - t0
    model = open_session(variant, graph, spec.inputs or in_names, spec.outputs or out_names, str(prefix),
                         device, spec.intra_op_threads, spec.inter_op_threads, phases,
                         restore=_restorer(saver, prefix), details={"route": route, "prefix": str(prefix)})
    model.notes = tuple(notes) + model.notes
    return model
