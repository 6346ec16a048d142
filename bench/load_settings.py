"""Load settings, shared by the parent (scenario, CLI) and the worker (bench.worker.load): what one load point runs.

A load point is written `single_stream`, `server:QPS`, `concurrency:N` or `offline` (the scenario's
`[sweep] load` axis); everything else (durations, executor threads, batching) comes from `LoadSettings`.
`problems()` lists what is wrong in words; the scenario parser and the CLI turn them into their own errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

SCENARIOS = ("single_stream", "server", "concurrency", "offline")
RULES = ("observed", "bound")  # a step passes on the observed percentile, or on the early-stopping bound


class LoadValueError(ValueError):
    """A load setting is out of range; `key` names it (callers add file and line)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key, self.message = key, message


@dataclass(frozen=True)
class Batching:
    """TF Serving's `BatchingParameters`: single-sample queries are batched before the model runs."""

    max_batch_size: int = 8
    batch_timeout_micros: int = 1000
    num_batch_threads: int = 1
    max_enqueued_batches: int = 100
    allowed_batch_sizes: tuple[int, ...] = ()  # empty: any size up to max_batch_size

    def problems(self) -> list[tuple[str, str]]:
        out = [(k, f"must be an integer >= {lo}, got {getattr(self, k)!r}") for k, lo in
               (("max_batch_size", 1), ("batch_timeout_micros", 0), ("num_batch_threads", 1), ("max_enqueued_batches", 1))
               if not isinstance(getattr(self, k), int) or getattr(self, k) < lo]
        sizes = self.allowed_batch_sizes
        if sizes and (list(sizes) != sorted(set(sizes)) or sizes[0] < 1 or sizes[-1] != self.max_batch_size):
            out.append(("allowed_batch_sizes", f"must rise strictly, start >= 1 and end at max_batch_size "
                                               f"({self.max_batch_size}), got {list(sizes)} (TF Serving's rule)"))
        return out

    def padded(self, n: int) -> int:
        """The batch size a batch of `n` samples runs at: the smallest allowed size >= n (padding)."""
        return next((s for s in self.allowed_batch_sizes if s >= n), n) if self.allowed_batch_sizes else n

    def to_text(self) -> str:
        """The TF Serving `--batching_parameters_file` text for these settings."""
        lines = [f"max_batch_size {{ value: {self.max_batch_size} }}",
                 f"batch_timeout_micros {{ value: {self.batch_timeout_micros} }}",
                 f"num_batch_threads {{ value: {self.num_batch_threads} }}",
                 f"max_enqueued_batches {{ value: {self.max_enqueued_batches} }}"]
        lines += [f"allowed_batch_sizes: {s}" for s in self.allowed_batch_sizes]
        lines.append("pad_variable_length_inputs: true" if self.allowed_batch_sizes else "")
        return "\n".join(x for x in lines if x) + "\n"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["allowed_batch_sizes"] = list(self.allowed_batch_sizes)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Batching:
        return cls(**{**d, "allowed_batch_sizes": tuple(d.get("allowed_batch_sizes") or ())})


@dataclass(frozen=True)
class LoadSettings:
    """One load point and how it is run and judged. Times in seconds unless named otherwise."""

    scenario: str = "server"
    qps: float | None = None  # server: target queries per second
    concurrency: int = 1  # concurrency: outstanding queries
    executor_threads: int = 1  # threads calling the model (without batching)
    samples_per_query: int = 1
    min_duration: float = 10.0
    min_queries: int = 1000
    max_duration: float = 60.0  # closed loops and offline stop here; a server point waits this long after its schedule
                                # (bench.worker.load.engine); queries unfinished then make the point invalid
    seed: int = 0
    slo_ms: float | None = None
    percentile: float = 99.0
    confidence: float = 0.99
    max_queue: int = 10000  # queries waiting at most; beyond it the run ends invalid
    windows: int = 5  # stability: the run is cut into this many windows; the last 3 are compared
    stability_tol: float = 0.10
    batching: Batching | None = None

    def point(self) -> str:
        """The load point as the sweep axis writes it, plus "@t2+b8/1000us" when the executor is not the default
        (2 threads, batching up to 8 with a 1000 us timeout), so tune's candidates stay distinct cells."""
        if self.scenario == "server":
            base = f"server:{self.qps:g}"
        elif self.scenario == "concurrency":
            base = f"concurrency:{self.concurrency}"
        else:
            base = self.scenario
        return base + self.executor_suffix()

    def executor_suffix(self) -> str:
        b = self.batching
        if b is not None:
            return f"@t{b.num_batch_threads}+b{b.max_batch_size}/{b.batch_timeout_micros}us"
        return f"@t{self.executor_threads}" if self.executor_threads != 1 else ""

    def threads_needed(self) -> int:
        """Threads calling the model at once: the batch threads with batching, else the executor threads."""
        return self.batching.num_batch_threads if self.batching is not None else self.executor_threads

    def with_point(self, point: str) -> LoadSettings:
        scenario, value = parse_point(point)
        if scenario == "server":
            return replace(self, scenario=scenario, qps=value)
        if scenario == "concurrency":
            return replace(self, scenario=scenario, concurrency=int(value or 0))
        return replace(self, scenario=scenario)

    def problems(self) -> list[tuple[str, str]]:
        """(key, what is wrong) for every out-of-range setting; empty when all is well."""
        out: list[tuple[str, str]] = []
        if self.scenario not in SCENARIOS:
            out.append(("scenario", f"unknown load scenario {self.scenario!r}; known: {', '.join(SCENARIOS)}"))
        if self.scenario == "server" and (self.qps is None or not math.isfinite(self.qps) or self.qps <= 0):
            out.append(("qps", f"a server load needs a target QPS > 0, got {self.qps!r}"))
        for key, lo in (("concurrency", 1), ("executor_threads", 1), ("samples_per_query", 1), ("min_queries", 1),
                        ("max_queue", 1), ("windows", 3)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                out.append((key, f"must be an integer >= {lo}, got {value!r}"))
        for key in ("min_duration", "max_duration"):
            if not getattr(self, key) > 0:
                out.append((key, f"must be > 0 seconds, got {getattr(self, key)!r}"))
        if self.slo_ms is not None and not self.slo_ms > 0:
            out.append(("slo_ms", f"must be > 0 ms, got {self.slo_ms!r}"))
        if not 0 < self.percentile < 100:
            out.append(("percentile", f"must be between 0 and 100 (99 = p99), got {self.percentile!r}"))
        if not 0 < self.confidence < 1:
            out.append(("confidence", f"must be a fraction between 0 and 1, got {self.confidence!r}"))
        if not 0 < self.stability_tol < 1:
            out.append(("stability_tol", f"must be a fraction between 0 and 1, got {self.stability_tol!r}"))
        out += [(f"batching.{k}", m) for k, m in (self.batching.problems() if self.batching else [])]
        return out

    def check(self) -> LoadSettings:
        """Self, or LoadValueError naming the first bad setting."""
        problems = self.problems()
        if problems:
            raise LoadValueError(*problems[0])
        return self

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["batching"] = self.batching.to_json() if self.batching else None
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LoadSettings:
        batching = d.get("batching")
        return cls(**{**d, "batching": Batching.from_json(batching) if batching else None})


def parse_point(text: str) -> tuple[str, float | None]:
    """"server:50" -> ("server", 50.0); "offline" -> ("offline", None); LoadValueError when malformed."""
    name, sep, value = str(text).strip().partition(":")
    if name not in SCENARIOS:
        raise LoadValueError("load", f"unknown load point {text!r}; use single_stream, server:QPS, concurrency:N or offline")
    if name in ("server", "concurrency") and not sep:
        raise LoadValueError("load", f"{name} needs a value: {name}:{'QPS' if name == 'server' else 'N'}, got {text!r}")
    if name not in ("server", "concurrency"):
        if sep:
            raise LoadValueError("load", f"{name} takes no value, got {text!r}")
        return name, None
    try:
        number = float(value)
    except ValueError:
        raise LoadValueError("load", f"{text!r}: {value!r} is not a number") from None
    if name == "server" and not (math.isfinite(number) and number > 0):
        raise LoadValueError("load", f"{text!r}: the target QPS must be > 0")
    if name == "concurrency" and (number != int(number) or number < 1):
        raise LoadValueError("load", f"{text!r}: concurrency must be a whole number >= 1")
    return name, number


def canonical_point(text: str) -> str:
    """The one spelling of a load point ("server:50.0" -> "server:50")."""
    name, value = parse_point(text)
    return name if value is None else f"{name}:{value:g}"
