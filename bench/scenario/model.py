"""Scenario files (TOML) -> validated, frozen dataclasses.

Everything is checked before anything runs, and every error names the file, the key and its line
and says what is allowed. Building a scenario does no I/O beyond reading its text: model paths are
resolved against the scenario's directory but not opened (the worker does that).

```toml
[run]                       # all optional
repetitions = 5             # fresh worker processes per group, interleaved round-robin
shuffle_seed = 1            # shuffle each round's order of groups (seeded); absent = fixed order
timeout = 600               # seconds per worker process (its whole group of batch sizes)
out = "results"             # results root; a run writes <out>/<run-id>/results.jsonl
seed = 0                    # seed for synthesised inputs
memory_limit_mb = 4096      # address-space limit on top of the loaded model (RLIMIT_AS); absent = none
history = true              # false: `run` does not record the run in the history database (as --no-history)

[measure]                   # the measurement policy (bench.timing.Policy); all optional
warmup_iterations = 10
warmup_time = 0.5
min_time = 1.0
min_iterations = 30
ci_target = 0.01            # 95% CI of the median within +-1%
max_time = 10.0
max_iterations = 100000     # optional cap
profile = false             # true: after timing each cell, a profiled pass (op breakdown, FLOPs, % of peak)
mode = "interleaved"        # "interleaved" | "duet" | "separate": how a model's variants share processes
switch_warmup = 1           # interleaved: untimed calls a variant makes on its turn before its timed ones
turn_calls = 3              # interleaved: timed calls a variant makes in a row on its turn

[sweep]
formats = ["checkpoint", "frozen", "saved_model", "keras", "tflite"]
batch_sizes = [1, 8, 32, 128]
devices = ["cpu"]           # "cpu", "gpu", "gpu:1"
intra_op_threads = [0]      # 0 = TensorFlow's default
inter_op_threads = [0]
affinity = [""]             # CPU lists for taskset: "0", "0-1", "0,2"; "" = not pinned
python = [""]               # worker interpreters; "" = this one; paths relative to this file
load = ["server:50", "concurrency:2", "offline"]  # optional: serving load points instead of the
                            # timing loop ("single_stream", "server:QPS", "concurrency:N", "offline");
                            # with it, batch_sizes are the samples per query
hosts = ["c6i-large", "cpu=icelake"]  # cluster machines (`run --cluster`): names, labels k=v, or "all"
distribute = false          # true: each hosts entry is one class of identical machines sharing its jobs
[sweep.env]                 # variables TensorFlow reads at start-up, one worker per value
TF_ENABLE_ONEDNN_OPTS = ["0", "1"]

[load]                      # settings of the [sweep] load axis (bench.load_settings.LoadSettings)
duration = 10               # seconds per load point at least (min_duration); max_duration = 60 caps closed loops
                            # and offline, and is a server point's wait after its schedule (queries unfinished
                            # then make the point invalid)
min_queries = 1000
executor_threads = 1        # threads calling the model; inter-op threads are raised to match (enforced)
slo_ms = 5                  # optional: judge each point's percentile (and its early-stopping bound)
percentile = 99
seed = 0                    # Poisson arrivals are generated ahead from this seed
max_queue = 10000           # queries waiting at most; beyond it the point ends invalid
[load.batching]             # optional: TF Serving-style batching before the model
max_batch_size = 8
batch_timeout_micros = 1000
num_batch_threads = 1
max_enqueued_batches = 100
allowed_batch_sizes = [2, 4, 8]

[[models]]
zoo = "mnist_cnn"           # a built-in model, exported in every format
[[models]]
name = "seed"               # a model of your own: `path` (format detected, or `format = ...`) or `files`
files = { checkpoint = "model/model.ckpt", frozen = "model/frozen.pb" }
builder = "model/build.py:build"   # checkpoint without .meta: graph-building function
formats = ["checkpoint", "frozen"] # optional: this model's own list instead of sweep.formats
# also: signature, inputs, outputs, shapes = { x = [1, 28, 28, 1] }, inputs_file, vocab_size

[[exclude]]                 # drop cells matching every key given (a list = any of)
format = "tflite+int8"
device = "gpu"
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bench.load_settings import LoadSettings
from bench.timing import Policy
from infer_core.variants import VARIANTS
from infer_core.zoo import ZOO

BASES_WITH_XLA = ("saved_model", "keras")
ZOO_MODELS = tuple(ZOO)
DEVICE_RE = re.compile(r"^(cpu|gpu(:\d+)?)$")
AFFINITY_RE = re.compile(r"^(\d+(-\d+)?)(,\d+(-\d+)?)*$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MODEL_KEYS = ("zoo", "name", "path", "format", "files", "builder", "signature", "inputs", "outputs",
              "shapes", "inputs_file", "vocab_size", "formats")
EXCLUDE_KEYS = ("model", "format", "device", "batch_size", "intra_op_threads", "inter_op_threads",
                "affinity", "python", "env", "call", "load", "host")
CALLS = ("fastest", "idiomatic")
HOST_SELECTOR_RE = re.compile(r"^(all|[A-Za-z0-9][A-Za-z0-9_.-]*(=[A-Za-z0-9_.-]*)?)$")
TOP_KEYS = ("run", "measure", "sweep", "models", "exclude", "load")


@dataclass(frozen=True)
class RunOptions:
    repetitions: int = 1  # with `adaptive`: the processes every group gets before the target is checked
    shuffle_seed: int | None = None
    timeout: float = 600.0
    out: str = "results"
    seed: int = 0
    memory_limit_mb: int | None = None
    adaptive: bool = False  # repetitions = "auto": more rounds until every ratio's interval is within `target`
    target: float = 0.03  # ±3%: the half-width every ratio's between-process interval should reach
    max_processes: int = 12  # auto: the most processes per group
    time_budget: float | None = None  # auto: seconds of measuring after which no new round starts
    history: bool = True  # `run` records the finished run in the history database (--no-history: not)


@dataclass(frozen=True)
class ModelEntry:
    """One model of the scenario. `files` maps a variant (or base format) to a path; zoo models get
    theirs from the exported manifest at run time."""

    name: str
    zoo: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    builder: str | None = None
    signature: str = "serving_default"
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    inputs_file: str | None = None
    vocab_size: int | None = None
    formats: tuple[str, ...] = ()  # empty = the sweep's formats
    detect: str | None = None  # `path` without `format`: detected from the file when the sweep expands

    def resolved(self) -> ModelEntry:
        """This entry with a detected path's format filled in (reads the file system; no TensorFlow)."""
        if self.detect is None:
            return self
        from infer_core.detect import detect_variant

        return replace(self, files={detect_variant(self.detect): self.detect}, detect=None)

    def available(self) -> tuple[str, ...]:
        """Variants this model can run: every one for the zoo; else its files plus their XLA variants."""
        if self.zoo is not None:
            return VARIANTS
        have = set(self.files)
        have |= {f"{base}+xla" for base in BASES_WITH_XLA if base in self.files}
        return tuple(v for v in VARIANTS if v in have)

    def file_for(self, variant: str) -> str:
        """The file a variant loads: its own entry, else its base format's (saved_model for +xla)."""
        return self.files[variant] if variant in self.files else self.files[variant.partition("+")[0]]


@dataclass(frozen=True)
class Sweep:
    formats: tuple[str, ...] = ("checkpoint", "frozen", "saved_model", "keras", "tflite")
    batch_sizes: tuple[int, ...] = (1, 8, 32, 128)
    devices: tuple[str, ...] = ("cpu",)
    intra_op_threads: tuple[int, ...] = (0,)
    inter_op_threads: tuple[int, ...] = (0,)
    affinity: tuple[str, ...] = ("",)
    python: tuple[str, ...] = ("",)
    env: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    calls: tuple[str, ...] = ("fastest",)  # CALLS: the harness's fastest path and/or the user's idiomatic call
    load: tuple[str, ...] = ("",)  # "" = the timing loop; else load points (bench.load_settings)
    hosts: tuple[str, ...] = ()  # empty = this machine; else fleet targets (README "Many machines")
    distribute: bool = False

@dataclass(frozen=True)
class ExcludeRule:
    """Drops every cell that matches all of `match` (axis -> allowed values) and `env`."""

    match: Mapping[str, tuple[Any, ...]]
    env: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    path: str  # "" for the built-in default
    text: str
    run: RunOptions
    policy: Policy
    sweep: Sweep
    models: tuple[ModelEntry, ...]
    exclude: tuple[ExcludeRule, ...] = ()
    python_paths: Mapping[str, str] = field(default_factory=dict)  # label -> interpreter path
    load: LoadSettings | None = None  # the [load] section (None: absent; defaults apply to a load axis)


