"""Cheap checks of model files before any worker starts (no TensorFlow): the one gate every command passes.

Parsing reads only the scenario's text; this looks at the file system: every model path exists, its
format can be told (from the name, or the directory's contents), its bytes are not surely broken for that
format (`bench.scenario.contents`: empty, cut short, another format), every builder file and inputs file
exists. A typo in a path or an empty model file used to pass `plan` and fail cells only after a worker had
started (exit 1); here it is `FILE:LINE: key: what is wrong` and exit 2, every mistake at once. Commands
that take one model path (`check`, `profile`, `capacity`, `tune`, `convert`) pass its ModelSpec through
`check_spec`. Tensor names are not checked: that needs the model loaded (the worker reports them), and a
file that passes here but does not load is a failed cell, not an input error.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.errors import ScenarioError
from bench.scenario import contents
from bench.scenario.model import ModelEntry, Scenario
from bench.scenario.parse import _Where
from infer_core.errors import CorruptModel, InferCoreError, ModelNotFound
from infer_core.model import ModelSpec


def file_problem(variant: str | None, path: str, builder: str | None = None) -> str | None:
    """What is wrong with a model path (None: nothing seen). `variant` None: the format is detected;
    `builder`: a checkpoint's graph-building code (then its `.meta` is not read)."""
    from infer_core.detect import detect_variant

    try:
        found = detect_variant(path)
    except InferCoreError as exc:
        if variant is not None and Path(path).is_file():
            found = variant.partition("+")[0]  # a file of any name, its format given: its bytes say the rest
        else:
            return str(exc)
    base = variant.partition("+")[0] if variant else found
    if found != base and not (base == "saved_model" and Path(path).name == "saved_model.pb"):
        return f"{path}: this is a {found} model by its name or contents, not {base}"
    return contents.problem(base, contents.ModelFile(Path(path), builder))


def check_spec(spec: ModelSpec) -> str:
    """The spec's variant (detected when not given) once its file passed the checks above; raises the
    InferCoreError a worker would (not found, unknown format, corrupt) before one starts."""
    from infer_core.detect import resolve_variant

    variant = resolve_variant(spec)
    base = variant.partition("+")[0]
    found = contents.problem(base, contents.ModelFile(Path(spec.path), spec.builder))
    if found is not None:
        missing = base != "checkpoint" and not Path(spec.path).exists()  # a prefix is no file of its own
        raise (ModelNotFound if missing else CorruptModel)(found)
    return variant


def _entry_problems(where: _Where, i: int, m: ModelEntry) -> list[str]:
    at: tuple[str | int, ...] = ("models", i)
    out: list[tuple[tuple[str | int, ...], str | None]] = []
    if m.detect is not None:
        out.append(((*at, "path"), file_problem(None, m.detect, m.builder)))
    for variant, path in m.files.items():
        key = (*at, "files", variant) if "files" in _keys(where, i) else (*at, "path")
        out.append((key, file_problem(variant, path, m.builder)))
    if m.builder and ":" in m.builder and m.builder.split(":")[0].endswith(".py"):
        file = m.builder.rpartition(":")[0]
        out.append(((*at, "builder"), None if Path(file).is_file() else f"{file}: no such builder file"))
    if m.inputs_file:
        out.append(((*at, "inputs_file"), None if Path(m.inputs_file).is_file() else f"{m.inputs_file}: no such file"))
    return [str(where.error(key, problem)) for key, problem in out if problem]


def _keys(where: _Where, index: int) -> set[str]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    models = tomllib.loads(where.text).get("models") or []
    return set(models[index]) if index < len(models) else set()


def check_model_files(s: Scenario) -> None:
    """Raise one ScenarioError listing every missing or unrecognisable model file (one line each)."""
    where = _Where(s.path, s.text)
    problems = [p for i, m in enumerate(s.models) for p in _entry_problems(where, i, m)]
    if problems:
        raise ScenarioError("\n".join(problems))
