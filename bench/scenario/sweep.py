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
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.scenario import ExcludeRule, ModelEntry, Scenario


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
    fleet_target: str = ""  # a cluster host (or host class with distribute); '' = this machine

    @property
    def group_id(self) -> str:
        parts = [self.model, self.variant, self.device]
        if self.intra_op_threads or self.inter_op_threads:
            parts.append(f"t{self.intra_op_threads}x{self.inter_op_threads}")
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

    @property
    def cell_id(self) -> str:
        """Stable across runs and repetitions: a record is identified by (cell_id, repetition)."""
        return f"{self.key.group_id}/b{self.batch_size}"

    def identity(self) -> dict[str, Any]:
        """The IDENTITY_FIELDS of reports.schema."""
        d = asdict(self.key)
        d["batch_size"] = self.batch_size
        return d


@dataclass(frozen=True)
class Group:
    key: GroupKey
    cells: tuple[Cell, ...]  # ascending batch size

    @property
    def group_id(self) -> str:
        return self.key.group_id


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
        for variant, device, intra, inter, env, aff, py, target in itertools.product(
            variants, sw.devices, sw.intra_op_threads, sw.inter_op_threads, _env_combinations(sw.env), sw.affinity,
            sw.python, sw.hosts or ("",),
        ):
            key = GroupKey(model.name, variant, device, intra, inter, env, aff, py, target)
            cells += [Cell(key, b) for b in sorted(sw.batch_sizes)]
    return cells, unavailable


def expand(scenario: Scenario) -> Expansion:
    """Every cell of the scenario, minus the excluded ones, grouped by process key."""
    cells, unavailable = _all_cells(scenario)
    kept = [c for c in cells if not any(_matches(rule, c) for rule in scenario.exclude)]
    return Expansion(tuple(kept), tuple(group(kept)), len(cells) - len(kept), tuple(unavailable))


def group(cells: Iterable[Cell]) -> list[Group]:
    """Cells sharing a process key, in first-seen order, each group by ascending batch size."""
    by_key: dict[GroupKey, list[Cell]] = {}
    for cell in cells:
        by_key.setdefault(cell.key, []).append(cell)
    return [Group(key, tuple(sorted(cs, key=lambda c: c.batch_size))) for key, cs in by_key.items()]


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
