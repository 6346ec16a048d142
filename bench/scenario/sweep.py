"""Scenario -> cells -> worker groups -> an interleaved schedule of worker runs.

A cell is one measurement: model x variant x device x batch size x threads x env toggles x
affinity x interpreter. Everything but the batch size is fixed when a worker starts (its process
key), so cells that share a key form a group measured by one worker. Repetitions are more workers
for the same group, run round-robin (A1 B1 C1 A2 B2 C2 ...), each round optionally shuffled with a
seed, so the machine's drifts fall on every group alike.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bench.scenario import ExcludeRule, ModelEntry, Scenario
from infer_core.detect import required_keras
from infer_core.variants import CALLER_THREAD_SCOPE, VARIANTS, pool_only


def canonical_env(env: Mapping[str, str]) -> str:
    """{"B": "1", "A": "0"} -> "A=0,B=1" (the identity field `env_toggles`)."""
    return ",".join(f"{k}={v}" for k, v in sorted(env.items()))


def parse_env(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",")) if text else {}


def parse_affinity(text: str) -> tuple[int, ...]:
    """The identity field `affinity` as CPU numbers: "0-2,5" -> (0, 1, 2, 5); "" -> () (not pinned)."""
    cpus: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        cpus += range(int(lo), int(hi or lo) + 1)
    return tuple(cpus)


@dataclass(frozen=True)
class GroupKey:
    """Everything fixed at a worker's start-up (DESIGN.md, Process model)."""

    model: str
    variant: str
    device: str
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    env_toggles: str = ""
    affinity: str = ""
    python: str = ""
    call: str = "fastest"  # CALLS: measured inside the worker, never a process setting of its own
    fleet_target: str = ""  # a cluster host (or host class with distribute); '' = this machine

    @property
    def group_id(self) -> str:
        parts = [self.model, self.variant, self.device]
        if self.call != "fastest":
            parts.append(f"call={self.call}")
        if self.intra_op_threads or self.inter_op_threads:
            inter = "caller" if self.inter_op_threads < 0 else self.inter_op_threads  # -1: the caller's thread
            parts.append(f"t{self.intra_op_threads}x{inter}")
        if self.env_toggles:
            parts.append(self.env_toggles)
        if self.affinity:
            parts.append(f"cpus={self.affinity}")
        if self.python:
            parts.append(f"py={self.python}")
        if self.fleet_target:
            parts.append(f"@{self.fleet_target}")
        return "/".join(parts)


@dataclass(frozen=True)
class Cell:
    key: GroupKey
    batch_size: int
    load_point: str = ""  # "" = single-stream timing loop; else a serving load point (bench.worker.load)

    @property
    def cell_id(self) -> str:
        """Stable across runs and repetitions: a record is identified by (cell_id, repetition)."""
        return f"{self.key.group_id}/b{self.batch_size}" + (f"/{self.load_point}" if self.load_point else "")

    def identity(self) -> dict[str, Any]:
        """The IDENTITY_FIELDS of reports.schema."""
        d = asdict(self.key)
        d["batch_size"] = self.batch_size
        d["load_point"] = self.load_point
        return d


@dataclass(frozen=True)
class Group:
    """What one worker process measures: the cells of one variant (separate mode) or of every variant
    of a model that can load in one process (interleaved), each variant by ascending batch size.
    `key` is the first cell's: the process settings (device, threads, env, affinity, python) all share."""

    key: GroupKey
    cells: tuple[Cell, ...]

    @property
    def variants(self) -> tuple[str, ...]:
        """The group's variants in the canonical order (DESIGN.md, Variant names)."""
        return tuple(sorted({c.key.variant for c in self.cells}, key=VARIANTS.index))

    @property
    def group_id(self) -> str:
        variants = self.variants
        if len(variants) == 1:
            return replace(self.key, call="fastest").group_id
        return replace(self.key, variant=",".join(variants), call="fastest").group_id


@dataclass(frozen=True)
class Job:
    """One worker run: a group's repetition, limited to the cells still to measure."""

    group: Group
    repetition: int
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Expansion:
    cells: tuple[Cell, ...]
    groups: tuple[Group, ...]
    excluded: int = 0
    unavailable: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (model, variant) without a file


def _env_combinations(env: Mapping[str, tuple[str, ...]]) -> list[str]:
    names = sorted(env)
    return [canonical_env(dict(zip(names, values, strict=True))) for values in itertools.product(*(env[n] for n in names))]


def _model_variants(model: ModelEntry, formats: tuple[str, ...]) -> tuple[list[str], list[str]]:
    wanted = model.formats or formats
    have = model.available()
    return [v for v in wanted if v in have], [v for v in wanted if v not in have]


def _matches(rule: ExcludeRule, cell: Cell) -> bool:
    ident = cell.identity()
    ident["format"] = ident["variant"]
    ident["load"] = ident["load_point"]
    ident["host"] = ident["fleet_target"]
    if not all(ident[key] in values for key, values in rule.match.items()):
        return False
    env = parse_env(cell.key.env_toggles)
    return all(env.get(name) in values for name, values in rule.env.items())


def _all_cells(scenario: Scenario) -> tuple[list[Cell], list[tuple[str, str]]]:
    sw = scenario.sweep
    cells: list[Cell] = []
    unavailable: list[tuple[str, str]] = []
    for model in (m.resolved() for m in scenario.models):
        variants, missing = _model_variants(model, sw.formats)
        unavailable += [(model.name, v) for v in missing]
        for variant, device, intra, inter, env, aff, py, call, target in itertools.product(
            variants, sw.devices, sw.intra_op_threads, sw.inter_op_threads, _env_combinations(sw.env), sw.affinity,
            sw.python, sw.calls, sw.hosts or ("",),
        ):
            key = GroupKey(model.name, variant, device, intra, inter, env, aff, py, call=call, fleet_target=target)
            cells += [Cell(key, b, point) for b in sorted(sw.batch_sizes) for point in sw.load]
    return cells, unavailable


def expand(scenario: Scenario) -> Expansion:
    """Every cell of the scenario, minus the excluded ones, grouped by worker process."""
    cells, unavailable = _all_cells(scenario)
    kept = [c for c in cells if not any(_matches(rule, c) for rule in scenario.exclude)]
    builders = {m.name: m.builder for m in scenario.models}

    def flavour(cell: Cell) -> str | None:
        return required_keras(cell.key.variant, builders.get(cell.key.model))

    _check_caller_thread(scenario, kept)
    groups = group(kept, flavour if scenario.policy.mode == "interleaved" else None)
    return Expansion(tuple(kept), tuple(groups), len(cells) - len(kept), tuple(unavailable))


def _check_caller_thread(scenario: Scenario, cells: Iterable[Cell]) -> None:
    """inter_op_threads = -1 is a session setting: a SavedModel or Keras cell with it is a scenario mistake,
    named before anything runs (the worker would refuse it)."""
    eager = sorted({(c.key.model, c.key.variant) for c in cells if c.key.inter_op_threads < 0 and pool_only(c.key.variant)})
    if not eager:
        return
    from bench.errors import ScenarioError
    from bench.scenario.parse import locate

    line = locate(scenario.text, ("sweep", "inter_op_threads"))
    named = ", ".join(f"{m} {v}" for m, v in eager)
    raise ScenarioError(
        f"{scenario.path or 'scenario'}:{line}: sweep.inter_op_threads: {CALLER_THREAD_SCOPE}, but {named} run on "
        "TensorFlow's inter-op pool: leave them out or add "
        f'[[exclude]] format = "{eager[0][1]}" and inter_op_threads = -1')


def process_key(cell: Cell, flavour: Callable[[Cell], str | None] | None) -> tuple[Any, ...]:
    """What a worker process fixes at start-up. Separate mode: the variant too. Interleaved: the Keras
    flavour the variant needs instead ("1" tf-keras, "0" Keras 3, None either), so that what can load
    together does; `_join_flavours` then lets the either-kind join one of the others."""
    k = cell.key
    settings = (k.model, k.device, k.intra_op_threads, k.inter_op_threads, k.env_toggles, k.affinity, k.python,
                k.fleet_target)
    return (*settings, k.variant) if flavour is None else (*settings, flavour(cell))


def _join_flavours(by_key: dict[tuple[Any, ...], list[Cell]]) -> dict[tuple[Any, ...], list[Cell]]:
    """Interleaved: cells that load under either Keras join the Keras 3 process of the same settings, else
    the tf-keras one; only a variant that needs the other Keras gets a process of its own."""
    out: dict[tuple[Any, ...], list[Cell]] = {}
    for key, cells in by_key.items():
        if key[-1] is None:
            for flavour in ("0", "1"):
                if (*key[:-1], flavour) in by_key:
                    key = (*key[:-1], flavour)
                    break
        out.setdefault(key, []).extend(cells)
    return out


def group(cells: Iterable[Cell], flavour: Callable[[Cell], str | None] | None = None) -> list[Group]:
    """Cells sharing a worker process, in first-seen order; inside a group, each variant and call by
    ascending batch size. `flavour` given: interleaved grouping (see `process_key`)."""
    by_key: dict[tuple[Any, ...], list[Cell]] = {}
    for cell in cells:
        by_key.setdefault(process_key(cell, flavour), []).append(cell)
    if flavour is not None:
        by_key = _join_flavours(by_key)
    return [Group(cs[0].key, tuple(sorted(cs, key=lambda c: c.batch_size))) for cs in by_key.values()]


def schedule(
    groups: Iterable[Group],
    repetitions: int,
    shuffle_seed: int | None = None,
    done: frozenset[tuple[str, int]] = frozenset(),
) -> list[Job]:
    """Round-robin over groups, one round per repetition; `done` holds finished (cell_id, repetition)."""
    groups = list(groups)
    rng = random.Random(shuffle_seed) if shuffle_seed is not None else None
    jobs: list[Job] = []
    for rep in range(repetitions):
        order = list(groups)
        if rng is not None:
            rng.shuffle(order)
        for g in order:
            todo = tuple(c for c in g.cells if (c.cell_id, rep) not in done)
            if todo:
                jobs.append(Job(g, rep, todo))
    return jobs
