"""Scenario TOML text -> a validated `Scenario`; every mistake named as FILE:LINE: key: what is allowed."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from bench.errors import ScenarioError
from bench.load_settings import Batching, LoadSettings, LoadValueError, canonical_point
from bench.scenario.model import (
    AFFINITY_RE,
    CALLS,
    DEVICE_RE,
    ENV_NAME_RE,
    EXCLUDE_KEYS,
    HOST_SELECTOR_RE,
    MODEL_KEYS,
    TOP_KEYS,
    ZOO_MODELS,
    ExcludeRule,
    ModelEntry,
    RunOptions,
    Scenario,
    Sweep,
)
from bench.timing import Policy, PolicyValueError
from infer_core.model import CALLER_THREAD
from infer_core.variants import VARIANTS

_T = TypeVar("_T")
_F = TypeVar("_F")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# ---------------------------------------------------------------- locating keys in the text

_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _key_re(key: str) -> re.Pattern[str]:
    return re.compile(r'^\s*(?:"' + re.escape(key) + r'"|' + re.escape(key) + r")\s*(=|\.)")


ARRAY_TABLES = ("models", "exclude")


@dataclass
class _Section:
    table: tuple[str, ...]
    occurrence: int  # which [[models]] / [[exclude]] entry it belongs to
    line: int
    body: list[tuple[int, str]] = field(default_factory=list)


def _sections(text: str) -> list[_Section]:
    sections = [_Section((), 0, 1)]
    counts: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER_RE.match(line)
        if not header:
            sections[-1].body.append((number, line))
            continue
        table = tuple(p.strip().strip('"') for p in header.group(2).split("."))
        if header.group(1) == "[[":
            counts[table[0]] = counts.get(table[0], -1) + 1
        sections.append(_Section(table, counts.get(table[0], 0), number))
    return sections


def locate(text: str, keys: tuple[str | int, ...]) -> int:
    """1-based line of a key path such as ("models", 1, "path"); falls back to the nearest table.

    A best-effort scan of the TOML text (tomllib keeps no positions): the longest table header
    that matches (the right [[models]] entry for an index), then `key =` inside that table.
    """
    names = tuple(k for k in keys if isinstance(k, str))
    index = next((k for k in keys if isinstance(k, int)), None)
    sections = _sections(text)
    fallback: int | None = None
    for split in range(len(names), -1, -1):
        table, rest = names[:split], names[split:]
        for sec in sections:
            if sec.table != table or (index is not None and table and table[0] in ARRAY_TABLES and sec.occurrence != index):
                continue
            if not rest:
                return sec.line
            fallback = fallback or (sec.line if table else None)
            for number, line in sec.body:
                if _key_re(rest[0]).match(line):
                    return number
    return fallback or 1


class _Where:
    """The file being parsed, for error messages: path:line: key: message."""

    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path or "<built-in scenario>", text

    def error(self, keys: tuple[str | int, ...], message: str) -> ScenarioError:
        line = locate(self.text, keys)
        return ScenarioError(f"{self.path}:{line}: {_dotted(keys)}: {message}")


def _dotted(keys: tuple[str | int, ...]) -> str:
    out = ""
    for k in keys:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else k)
    return out


# ---------------------------------------------------------------- typed getters


def _check_keys(where: _Where, table: Mapping[str, Any], allowed: tuple[str, ...], at: tuple[str | int, ...]) -> None:
    for key in table:
        if key not in allowed:
            raise where.error((*at, key), f"unknown key; allowed here: {', '.join(allowed)}")


def _int(where: _Where, value: Any, at: tuple[str | int, ...], minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise where.error(at, f"must be an integer >= {minimum}, got {value!r}")
    return value


def _threads(where: _Where, value: Any, key: str, at: tuple[str | int, ...]) -> int:
    """A thread count; 0 = TensorFlow's default; inter-op -1 = run each session call in the caller's thread."""
    if key == "inter_op_threads" and value == CALLER_THREAD and not isinstance(value, bool):
        return CALLER_THREAD
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        allowed = "-1 (the caller's thread), 0 (TensorFlow's default) or a count" if key == "inter_op_threads" else \
            "0 (TensorFlow's default) or a count"
        raise where.error(at, f"must be {allowed}, got {value!r}")
    return value


def _number(where: _Where, value: Any, at: tuple[str | int, ...]) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise where.error(at, f"must be a number >= 0 (seconds or a fraction), got {value!r}")
    return float(value)


def _str(where: _Where, value: Any, at: tuple[str | int, ...]) -> str:
    if not isinstance(value, str):
        raise where.error(at, f"must be a string, got {value!r}")
    return value


def _list(where: _Where, value: Any, at: tuple[str | int, ...], unique: bool = True) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise where.error(at, f"must be a non-empty list, got {value!r}")
    if unique and len(set(map(repr, value))) != len(value):
        raise where.error(at, f"lists a value twice: {value!r}")
    return value


def _table(where: _Where, value: Any, at: tuple[str | int, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.error(at, f"must be a table, got {value!r}")
    return value


def _variant(where: _Where, value: Any, at: tuple[str | int, ...]) -> str:
    if value not in VARIANTS:
        raise where.error(at, f"unknown format {value!r}; known formats: {', '.join(VARIANTS)}")
    return str(value)


def _device(where: _Where, value: Any, at: tuple[str | int, ...]) -> str:
    text = _str(where, value, at).strip().lower()
    if not DEVICE_RE.match(text):
        raise where.error(at, f"unknown device {value!r}; use cpu, gpu or gpu:N")
    return "gpu:0" if text == "gpu" else text


def _affinity(where: _Where, value: Any, at: tuple[str | int, ...]) -> str:
    text = _str(where, value, at).replace(" ", "")
    if text and not AFFINITY_RE.match(text):
        raise where.error(at, f"{value!r} is not a CPU list; use forms like \"0\", \"0-1\", \"0,2\" or \"\" (not pinned)")
    return text


# ---------------------------------------------------------------- sections


def _run_options(where: _Where, raw: Any) -> RunOptions:
    table = _table(where, raw, ("run",))
    _check_keys(where, table, ("repetitions", "shuffle_seed", "timeout", "out", "seed", "memory_limit_mb", "target",
                               "min_processes", "max_processes", "time_budget", "history"), ("run",))
    opts: dict[str, Any] = _adaptive_options(where, table)
    if "history" in table:
        if not isinstance(table["history"], bool):
            raise where.error(("run", "history"), f"must be true or false, got {table['history']!r}")
        opts["history"] = table["history"]
    if "repetitions" in table and table["repetitions"] == "auto":
        low = _int(where, table["min_processes"], ("run", "min_processes"), 2) if "min_processes" in table else AUTO_MIN_PROCESSES
        opts.update(adaptive=True, repetitions=low)
        if low > opts.get("max_processes", RunOptions.max_processes):
            raise where.error(("run", "min_processes"), f"must be <= max_processes, got {low}")
    elif "repetitions" in table:
        value = table["repetitions"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise where.error(("run", "repetitions"), f'must be an integer >= 1, got {value!r} (or "auto")')
        opts["repetitions"] = value
    if "shuffle_seed" in table:
        opts["shuffle_seed"] = _int(where, table["shuffle_seed"], ("run", "shuffle_seed"))
    if "timeout" in table:
        opts["timeout"] = _number(where, table["timeout"], ("run", "timeout"))
        if opts["timeout"] <= 0:
            raise where.error(("run", "timeout"), "must be > 0 seconds")
    if "out" in table:
        opts["out"] = _str(where, table["out"], ("run", "out")) or "results"
    if "seed" in table:
        opts["seed"] = _int(where, table["seed"], ("run", "seed"))
    if "memory_limit_mb" in table:
        opts["memory_limit_mb"] = _int(where, table["memory_limit_mb"], ("run", "memory_limit_mb"), 1)
    return RunOptions(**opts)


AUTO_MIN_PROCESSES = 5  # fewer cannot give a Student-t interval worth its name on this noise


def _adaptive_options(where: _Where, table: Mapping[str, Any]) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if "target" in table:
        opts["target"] = _number(where, table["target"], ("run", "target"))
        if not 0 < opts["target"] < 1:
            raise where.error(("run", "target"), "must be a fraction between 0 and 1 (0.03 = ±3%)")
    if "max_processes" in table:
        opts["max_processes"] = _int(where, table["max_processes"], ("run", "max_processes"), 2)
    if "time_budget" in table:
        opts["time_budget"] = _number(where, table["time_budget"], ("run", "time_budget"))
        if opts["time_budget"] <= 0:
            raise where.error(("run", "time_budget"), "must be > 0 seconds")
    return opts


POLICY_INTS = ("warmup_iterations", "min_iterations", "max_iterations", "switch_warmup", "turn_calls")
POLICY_FLOATS = ("warmup_time", "min_time", "ci_target", "max_time")


def _policy(where: _Where, raw: Any, base: Policy | None = None) -> Policy:
    table = _table(where, raw, ("measure",))
    _check_keys(where, table, POLICY_INTS + POLICY_FLOATS + ("profile", "mode"), ("measure",))
    values: dict[str, Any] = dict((base or Policy()).to_json())
    for key, value in table.items():
        at = ("measure", key)
        if key == "mode":
            values[key] = _str(where, value, at)
            continue
        if key == "profile":
            if not isinstance(value, bool):
                raise where.error(at, f"must be true or false, got {value!r}")
            values[key] = value
            continue
        values[key] = _int(where, value, at, 1 if key in ("max_iterations", "turn_calls") else 0) if key in POLICY_INTS else _number(where, value, at)
    try:
        return Policy(**values)
    except PolicyValueError as exc:
        raise where.error(("measure", exc.key), exc.message) from None


def _int_axis(where: _Where, table: Mapping[str, Any], key: str, minimum: int) -> tuple[int, ...]:
    values = _list(where, table[key], ("sweep", key))
    return tuple(_int(where, v, ("sweep", key), minimum) for v in values)


def _sweep(where: _Where, raw: Any, scenario_dir: Path) -> tuple[Sweep, dict[str, str]]:
    table = _table(where, raw, ("sweep",))
    allowed = ("formats", "batch_sizes", "devices", "intra_op_threads", "inter_op_threads", "affinity", "python", "env",
               "calls", "load", "hosts", "distribute")
    _check_keys(where, table, allowed, ("sweep",))
    axes: dict[str, Any] = {}
    if "formats" in table:
        axes["formats"] = tuple(_variant(where, v, ("sweep", "formats")) for v in _list(where, table["formats"], ("sweep", "formats")))
    if "batch_sizes" in table:
        axes["batch_sizes"] = _int_axis(where, table, "batch_sizes", 1)
    for key in ("intra_op_threads", "inter_op_threads"):
        if key in table:
            axes[key] = tuple(_threads(where, v, key, ("sweep", key)) for v in _list(where, table[key], ("sweep", key)))
    if "devices" in table:
        axes["devices"] = _unique(where, [_device(where, v, ("sweep", "devices")) for v in _list(where, table["devices"], ("sweep", "devices"))], ("sweep", "devices"))
    if "affinity" in table:
        axes["affinity"] = _unique(where, [_affinity(where, v, ("sweep", "affinity")) for v in _list(where, table["affinity"], ("sweep", "affinity"))], ("sweep", "affinity"))
    pythons: dict[str, str] = {}
    if "python" in table:
        labels = [_str(where, v, ("sweep", "python")) for v in _list(where, table["python"], ("sweep", "python"))]
        axes["python"] = tuple(labels)
        pythons = {label: str((scenario_dir / label) if "/" in label else label) for label in labels if label}
    if "env" in table:
        axes["env"] = _env_axis(where, table["env"], ("sweep", "env"))
    if "calls" in table:
        axes["calls"] = _unique(where, [_call(where, v, ("sweep", "calls")) for v in _list(where, table["calls"], ("sweep", "calls"))], ("sweep", "calls"))
    if "load" in table:
        points = [_load_point(where, v, ("sweep", "load")) for v in _list(where, table["load"], ("sweep", "load"))]
        axes["load"] = _unique(where, points, ("sweep", "load"))
    axes.update(_hosts(where, table))
    return Sweep(**axes), pythons


def _load_point(where: _Where, value: Any, at: tuple[str | int, ...]) -> str:
    try:
        return canonical_point(_str(where, value, at))
    except LoadValueError as exc:
        raise where.error(at, exc.message) from None


LOAD_INTS = ("min_queries", "executor_threads", "seed", "max_queue", "windows")
LOAD_FLOATS = ("duration", "max_duration", "slo_ms", "percentile", "confidence", "stability_tol")
BATCHING_KEYS = ("max_batch_size", "batch_timeout_micros", "num_batch_threads", "max_enqueued_batches", "allowed_batch_sizes")


def _load_section(where: _Where, raw: Any) -> LoadSettings:
    """[load]: how each point of the load axis runs and is judged; checked by LoadSettings.problems()."""
    table = _table(where, raw, ("load",))
    _check_keys(where, table, (*LOAD_INTS, *LOAD_FLOATS, "batching"), ("load",))
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in LOAD_INTS:
            values[key] = _int(where, value, ("load", key))
        elif key in LOAD_FLOATS:
            values["min_duration" if key == "duration" else key] = _number(where, value, ("load", key))
    if "batching" in table:
        values["batching"] = _batching(where, table["batching"])
    settings = LoadSettings(scenario="single_stream", **values)
    problems = settings.problems()
    if problems:
        key, message = problems[0]
        raise where.error(("load", *("duration" if key == "min_duration" else key).split(".")), message)
    return settings


def _batching(where: _Where, raw: Any) -> Batching:
    at: tuple[str | int, ...] = ("load", "batching")
    table = _table(where, raw, at)
    _check_keys(where, table, BATCHING_KEYS, at)
    values: dict[str, Any] = {k: _int(where, v, (*at, k)) for k, v in table.items() if k != "allowed_batch_sizes"}
    if "allowed_batch_sizes" in table:
        sizes = _list(where, table["allowed_batch_sizes"], (*at, "allowed_batch_sizes"))
        values["allowed_batch_sizes"] = tuple(_int(where, v, (*at, "allowed_batch_sizes"), 1) for v in sizes)
    return Batching(**values)


def _host(where: _Where, value: Any, at: tuple[str | int, ...]) -> str:
    text = _str(where, value, at).strip()
    if not HOST_SELECTOR_RE.match(text):
        raise where.error(at, f"{value!r} is not a host: give a machine name, a label key=value, or \"all\"")
    return text


def _hosts(where: _Where, table: Mapping[str, Any]) -> dict[str, Any]:
    """[sweep] hosts (machines of a cluster, `run --cluster`) and distribute."""
    out: dict[str, Any] = {}
    if "hosts" in table:
        at = ("sweep", "hosts")
        out["hosts"] = _unique(where, [_host(where, v, at) for v in _list(where, table["hosts"], at)], at)
    if "distribute" in table:
        if not isinstance(table["distribute"], bool):
            raise where.error(("sweep", "distribute"), f"must be true or false, got {table['distribute']!r}")
        if "hosts" not in table:
            raise where.error(("sweep", "distribute"), "only goes with `hosts`: the machines to spread the jobs over")
        out["distribute"] = table["distribute"]
    return out


def _unique(where: _Where, values: list[str], at: tuple[str | int, ...]) -> tuple[str, ...]:
    if len(set(values)) != len(values):
        raise where.error(at, f"lists the same value twice: {values!r}")
    return tuple(values)


def _env_axis(where: _Where, raw: Any, at: tuple[str | int, ...]) -> dict[str, tuple[str, ...]]:
    table = _table(where, raw, at)
    env: dict[str, tuple[str, ...]] = {}
    for name, values in table.items():
        if not ENV_NAME_RE.match(name):
            raise where.error((*at, name), "is not a valid environment variable name")
        values = values if isinstance(values, list) else [values]
        env[name] = tuple(_str(where, v, (*at, name)) for v in _list(where, values, (*at, name)))
    return env


def _model(where: _Where, raw: Any, index: int, scenario_dir: Path) -> ModelEntry:
    at: tuple[str | int, ...] = ("models", index)
    table = _table(where, raw, at)
    _check_keys(where, table, MODEL_KEYS, at)
    sources = [k for k in ("zoo", "path", "files") if k in table]
    if len(sources) != 1:
        raise where.error(at, "give exactly one of: zoo = \"mnist_cnn\", path = \"...\" (with optional format), files = { frozen = \"...\" }")
    fields: dict[str, Any] = {}
    if "zoo" in table:
        zoo = _str(where, table["zoo"], (*at, "zoo"))
        if zoo not in ZOO_MODELS:
            raise where.error((*at, "zoo"), f"unknown zoo model {zoo!r}; the zoo has {', '.join(ZOO_MODELS)}")
        fields["zoo"] = zoo
    fields["files"] = _model_files(where, table, at, scenario_dir)
    if "path" in table and not fields["files"]:
        fields["detect"] = _resolve(scenario_dir, table["path"])
    fields["name"] = _model_name(where, table, at, fields)
    fields.update(_model_options(where, table, at, scenario_dir))
    entry = ModelEntry(**fields)
    for variant in entry.formats if entry.detect is None else ():
        if variant not in entry.available():
            raise where.error((*at, "formats"), f"{variant!r} needs a file this model does not give; it can run {', '.join(entry.available())}")
    return entry


def _resolve(scenario_dir: Path, path: str) -> str:
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else scenario_dir / p)


def _model_files(where: _Where, table: Mapping[str, Any], at: tuple[str | int, ...], scenario_dir: Path) -> dict[str, str]:
    if "files" in table:
        files = _table(where, table["files"], (*at, "files"))
        if not files:
            raise where.error((*at, "files"), "is empty; map a format to a path, e.g. { frozen = \"model.pb\" }")
        return {_variant(where, k, (*at, "files", k)): _resolve(scenario_dir, _str(where, v, (*at, "files", k))) for k, v in files.items()}
    if "path" in table:
        path = _resolve(scenario_dir, _str(where, table["path"], (*at, "path")))
        if "format" not in table:
            return {}  # detected from the file when the sweep expands (ModelEntry.detect)
        return {_variant(where, table["format"], (*at, "format")): path}
    if "format" in table:
        raise where.error((*at, "format"), "only goes with `path`")
    return {}


def _model_name(where: _Where, table: Mapping[str, Any], at: tuple[str | int, ...], fields: Mapping[str, Any]) -> str:
    if "name" in table:
        name = _str(where, table["name"], (*at, "name"))
        if not name or "/" in name:
            raise where.error((*at, "name"), f"must be a non-empty label without '/', got {name!r}")
        return name
    if fields.get("zoo"):
        return str(fields["zoo"])
    raise where.error(at, "a model given by path or files needs a `name` (its label in the results)")


def _model_options(where: _Where, table: Mapping[str, Any], at: tuple[str | int, ...], scenario_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("builder", "signature"):
        if key in table:
            out[key] = _str(where, table[key], (*at, key))
    if "builder" in out and (":" in out["builder"]) and out["builder"].split(":")[0].endswith(".py"):
        file, _, func = out["builder"].rpartition(":")
        out["builder"] = f"{_resolve(scenario_dir, file)}:{func}"
    for key in ("inputs", "outputs"):
        if key in table:
            out[key] = tuple(_str(where, v, (*at, key)) for v in _list(where, table[key], (*at, key)))
    if "shapes" in table:
        shapes = _table(where, table["shapes"], (*at, "shapes"))
        out["shapes"] = {k: tuple(_int(where, d, (*at, "shapes", k), 1) for d in _list(where, v, (*at, "shapes", k), unique=False)) for k, v in shapes.items()}
    if "inputs_file" in table:
        out["inputs_file"] = _resolve(scenario_dir, _str(where, table["inputs_file"], (*at, "inputs_file")))
    if "vocab_size" in table:
        out["vocab_size"] = _int(where, table["vocab_size"], (*at, "vocab_size"), 1)
    if "formats" in table:
        out["formats"] = tuple(_variant(where, v, (*at, "formats")) for v in _list(where, table["formats"], (*at, "formats")))
    return out


def _exclude(where: _Where, raw: Any, index: int) -> ExcludeRule:
    at: tuple[str | int, ...] = ("exclude", index)
    table = _table(where, raw, at)
    _check_keys(where, table, EXCLUDE_KEYS, at)
    if not table:
        raise where.error(at, "is empty: it would exclude every cell; give at least one key")
    match: dict[str, tuple[Any, ...]] = {}
    for key, value in table.items():
        if key == "env":
            continue
        values = value if isinstance(value, list) else [value]
        match[key] = tuple(_exclude_value(where, key, v, (*at, key)) for v in values)
    env = _env_axis(where, table["env"], (*at, "env")) if "env" in table else {}
    return ExcludeRule(match=match, env=env)


def _exclude_value(where: _Where, key: str, value: Any, at: tuple[str | int, ...]) -> Any:
    if key == "format":
        return _variant(where, value, at)
    if key == "device":
        return _device(where, value, at)
    if key in ("intra_op_threads", "inter_op_threads"):
        return _threads(where, value, key, at)
    if key == "batch_size":
        return _int(where, value, at, 0)
    if key == "affinity":
        return _affinity(where, value, at)
    if key == "call":
        return _call(where, value, at)
    if key == "load":
        return _load_point(where, value, at) if value != "" else ""
    if key == "host":
        return _host(where, value, at)
    return _str(where, value, at)


def _call(where: _Where, value: Any, at: tuple[str | int, ...]) -> str:
    text = _str(where, value, at)
    if text not in CALLS:
        raise where.error(at, f"unknown call {text!r}; known calls: {', '.join(CALLS)} (fastest: the harness's "
                              f"lowest-overhead path; idiomatic: what typical user code calls)")
    return text


# ---------------------------------------------------------------- entry points


class _Mistakes:
    """Every mistake of a scenario, reported at once: each table (and each [[models]] / [[exclude]]
    entry) is checked on its own, so one typo does not hide the next. Within one table, the first."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def take(self, check: Callable[[], _T], fallback: _F) -> _T | _F:
        try:
            return check()
        except ScenarioError as exc:
            self.messages.append(str(exc))
            return fallback

    def raise_any(self) -> None:
        if self.messages:  # in the file's order: FILE:LINE: ...
            raise ScenarioError("\n".join(sorted(self.messages, key=_line_of)))


def _line_of(message: str) -> int:
    found = re.search(r":(\d+): ", message)
    return int(found.group(1)) if found else 0


def parse(text: str, path: str = "", base_dir: Path | None = None) -> Scenario:
    """A validated scenario from TOML text; `path` is only for messages and relative paths."""
    where = _Where(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ScenarioError(f"{where.path}:{line.group(1) if line else 1}: not valid TOML: {exc}") from None
    scenario_dir = base_dir if base_dir is not None else (Path(path).parent if path else Path.cwd())
    m = _Mistakes()
    m.take(lambda: _check_keys(where, data, TOP_KEYS, ()), None)
    no_sweep: tuple[Sweep, dict[str, str]] = (Sweep(), {})
    sweep, pythons = m.take(partial(_sweep, where, data.get("sweep", {}), scenario_dir), no_sweep)
    models_raw = data.get("models")
    if not isinstance(models_raw, list) or not models_raw:
        m.messages.append(str(where.error(("models",), "no models: add at least one [[models]] table, e.g. zoo = \"mnist_cnn\"")))
        models_raw = []
    parsed = [m.take(partial(_model, where, raw, i, scenario_dir), None) for i, raw in enumerate(models_raw)]
    models = tuple(x for x in parsed if x is not None)
    m.take(lambda: _check_names(where, parsed), None)
    excludes = data.get("exclude", [])
    if not isinstance(excludes, list):
        m.messages.append(str(where.error(("exclude",), "must be an array of tables: [[exclude]]")))
        excludes = []
    run = m.take(lambda: _run_options(where, data.get("run", {})), RunOptions())
    policy = m.take(lambda: _policy(where, data.get("measure", {})), Policy())
    rules = [m.take(partial(_exclude, where, e, i), None) for i, e in enumerate(excludes)]
    load = m.take(lambda: _load_section(where, data["load"]), None) if "load" in data else None
    m.raise_any()
    return Scenario(path=path, text=text, run=run, policy=policy, sweep=sweep, models=models,
                    exclude=tuple(r for r in rules if r is not None), python_paths=pythons, load=load)


def _check_names(where: _Where, models: list[ModelEntry | None]) -> None:
    """`None`: an entry with its own mistake (already reported); indices stay those of the file."""
    seen: set[str] = set()
    for i, m in enumerate(models):
        if m is None:
            continue
        if m.name in seen:
            raise where.error(("models", i, "name"), f"model name {m.name!r} is used twice; give each model its own name")
        seen.add(m.name)


def load(path: Path) -> Scenario:
    """Read and validate a scenario file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read scenario file ({exc})") from None
    return parse(text, str(path), path.parent)


DEFAULT_TEXT = """\
# The built-in default: mnist_cnn in the five base formats, on every device present. The formats share
# one worker and alternate (interleaved); rounds of fresh workers until every ratio is known to +-3%
# (at least 5 processes, at most 12, no new round after 90 s of measuring). Short timed loops: processes differ far
# more than the samples inside one do, so the time goes to more processes (0.1-0.2 s loops: 7 processes in the
# budget, median ratio intervals ±2.4-4.5% where 0.2-0.4 s loops gave 5-6 and ±4.8-8.9%: benchmarks/results/loop_length.txt).
[[models]]
zoo = "mnist_cnn"

[run]
repetitions = "auto"
time_budget = 90

[measure]
warmup_time = 0.1
min_time = 0.1
max_time = 0.2
ci_target = 0.02

[sweep]
formats = ["checkpoint", "frozen", "saved_model", "keras", "tflite"]
batch_sizes = [1, 8, 32, 128]
devices = {devices}
calls = ["fastest", "idiomatic"]

[[exclude]]                     # the user's own call (session.run with a feed_dict) beside the fastest,
call = "idiomatic"              # for the two TF1 formats
format = ["saved_model", "keras", "tflite"]
"""


def default(devices: tuple[str, ...] = ("cpu",)) -> Scenario:
    """The zero-config scenario (its text is stored in the run header like any other)."""
    text = DEFAULT_TEXT.replace("{devices}", "[" + ", ".join(f'"{d}"' for d in devices) + "]")
    return parse(text, "", Path.cwd())

