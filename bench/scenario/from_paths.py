"""`infer-bench run PATH...`: model paths on the command line become a scenario, built in memory.

The first thing a user types is `infer-bench run mine/model.pb` (TensorFlow's and LiteRT's
`benchmark_model`, OpenVINO's `benchmark_app` all take a model path). Each model path becomes one
`[[models]]` entry of the default sweep (format detected, or `--format`); an exported model directory
(`infer-bench zoo export`, with its manifest.json) becomes one model with every format in it, so its
formats are parity-checked against each other. The scenario is written as TOML text and parsed like a
file, so the run header keeps it and `--resume` works from anywhere (paths are made absolute).
Runs in the parent: the file system only, no TensorFlow. A model file whose bytes are surely broken (empty, cut
short, another format) stops the command here, before a worker or a run directory exists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import ScenarioError
from bench.scenario.model import Scenario
from bench.scenario.parse import parse
from infer_core.errors import InferCoreError
from infer_core.variants import VARIANTS

KNOWN = ".pb, .pbtxt, .keras, .h5, .tflite, a checkpoint (prefix or directory), a SavedModel directory"
COMMAND_LINE = "<model paths>"  # the scenario's "path" in messages, plan and the run header
BASE_FORMATS = ("checkpoint", "frozen", "saved_model", "keras", "tflite")


@dataclass(frozen=True)
class ModelOptions:
    """The per-model flags of `run`/`plan` (as in `check`): they go into every model entry."""

    variant: str | None = None
    builder: str | None = None
    signature: str | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def given(self) -> list[str]:
        flags = {"--format": self.variant, "--builder": self.builder, "--signature": self.signature,
                 "--input": self.inputs, "--output": self.outputs, "--shape": self.shapes}
        return [flag for flag, value in flags.items() if value]


def is_scenario(path: Path, options: ModelOptions) -> bool:
    """A `.toml` file is a scenario; so is another UTF-8 text file that is no model. Else it is a model
    (or a mistake, which `model_entry` names: what was expected, and why this is neither)."""
    from infer_core.detect import detect_variant

    if path.suffix == ".toml":
        return True
    if options.variant is not None or _is_exported_dir(path):
        return False
    try:
        detect_variant(path)
        return False
    except InferCoreError:
        return path.is_file() and _is_text(path)


def _is_text(path: Path) -> bool:
    try:
        path.read_bytes()[:65536].decode("utf-8")
        return True
    except (OSError, UnicodeDecodeError):
        return False


def _is_exported_dir(path: Path) -> bool:
    return path.is_dir() and (path / "manifest.json").is_file()


def _quote(text: str) -> str:
    return json.dumps(text)  # a JSON string is a TOML basic string


def _detected(path: Path, options: ModelOptions) -> str:
    from infer_core.detect import detect_variant

    if options.variant is not None:
        if not path.exists() and not path.with_name(path.name + ".index").exists():
            raise ScenarioError(f"{path}: no such file or directory")
        return options.variant
    if not path.exists() and not path.with_name(path.name + ".index").exists():
        raise ScenarioError(f"{path}: no such file or directory (expected a scenario .toml file or a model: {KNOWN})")
    try:
        return detect_variant(path)
    except InferCoreError as exc:
        raise ScenarioError(f"{path}: neither a scenario (a .toml file) nor a model infer-bench can read "
                            f"({KNOWN}): {exc}") from None


def _exported_lines(path: Path) -> tuple[str, list[str], list[str]]:
    """(name, TOML lines, base formats) for an exported model directory."""
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        files: dict[str, str] = dict(manifest["files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(f"{path / 'manifest.json'}: not a manifest written by `infer-bench zoo export` ({exc})") from None
    body = ", ".join(f"{_quote(v)} = {_quote(str(path / f))}" for v, f in files.items() if v in VARIANTS)
    lines = [f"files = {{ {body} }}"]
    if manifest.get("shapes"):
        lines.append("shapes = { " + ", ".join(f"{_quote(k)} = {list(v)}" for k, v in manifest["shapes"].items()) + " }")
    if manifest.get("vocab_size"):
        lines.append(f"vocab_size = {int(manifest['vocab_size'])}")
    return str(manifest.get("model") or path.name), lines, [f for f in BASE_FORMATS if f in files]


def _option_lines(options: ModelOptions) -> list[str]:
    lines = []
    if options.builder:
        file, sep, func = options.builder.rpartition(":")
        if sep and file.endswith(".py") and not Path(file).is_file():
            raise ScenarioError(f"--builder: {file}: no such file")
        builder = f"{Path(file).resolve()}:{func}" if sep and file.endswith(".py") else options.builder
        lines.append(f"builder = {_quote(builder)}")
    if options.signature:
        lines.append(f"signature = {_quote(options.signature)}")
    for key, values in (("inputs", options.inputs), ("outputs", options.outputs)):
        if values:
            lines.append(f"{key} = [{', '.join(map(_quote, values))}]")
    if options.shapes:
        lines.append("shapes = { " + ", ".join(f"{_quote(k)} = {list(v)}" for k, v in options.shapes.items()) + " }")
    return lines


def _unique(name: str, taken: set[str]) -> str:
    label, n = name.replace("/", "_") or "model", 1
    while label in taken:
        n += 1
        label = f"{name}-{n}"
    taken.add(label)
    return label


def scenario_text(paths: Sequence[Path], options: ModelOptions, devices: Sequence[str]) -> str:
    """The TOML of the default sweep over these model paths (each checked: exists, format known)."""
    taken: set[str] = set()
    formats: list[str] = []
    entries: list[str] = []
    for path in (p.resolve() for p in paths):
        if _is_exported_dir(path) and options.variant is None:
            name, lines, found = _exported_lines(path)
        else:
            variant = _detected(path, options)
            name, found = path.name, [variant]
            lines = [f"path = {_quote(str(path))}", f"format = {_quote(variant)}"]  # detected here, once
        formats += [f for f in found if f not in formats]
        own = f"formats = [{', '.join(map(_quote, found))}]"  # its own formats: no "has no file for" noise
        entries += ["", "[[models]]", f"name = {_quote(_unique(name, taken))}", *lines, own, *_option_lines(options)]
    header = ["# infer-bench run PATH...: the default sweep on the models given", "[sweep]",
              f"formats = [{', '.join(map(_quote, formats))}]", "batch_sizes = [1, 8, 32, 128]",
              f"devices = [{', '.join(map(_quote, devices))}]"]
    return "\n".join(header + entries) + "\n"


def from_model_paths(paths: Sequence[Path], options: ModelOptions, devices: Sequence[str] = ("cpu",)) -> Scenario:
    """A scenario measuring these model paths with the default sweep (the CLI applies its flags on top);
    every model file's bytes checked first (`bench.scenario.preflight`), each problem one line naming the file."""
    from bench.scenario.preflight import file_problem

    s = parse(scenario_text(paths, options, devices), COMMAND_LINE, Path.cwd())
    problems = [p for m in s.models for v, f in m.files.items() if (p := file_problem(v, f, m.builder))]
    if problems:
        raise ScenarioError("\n".join(problems))
    return s
