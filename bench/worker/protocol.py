"""What the parent sends a measuring worker, typed: one `MeasureTask` (JSON on the worker's stdin).

Both sides import this module: the runner builds the task, the worker reads it. It is light on
purpose (no TensorFlow, no numpy beyond what ModelSpec needs), so the parent can import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.timing import Policy
from infer_core.model import ModelSpec
from reports.schema import IDENTITY_FIELDS, CellRecord


@dataclass(frozen=True)
class CellRef:
    """A cell as the plan names it; the worker fills in the measurement."""

    cell_id: str
    group_id: str
    repetition: int
    identity: Mapping[str, Any]

    @property
    def batch_size(self) -> int:
        return int(self.identity["batch_size"])

    @property
    def variant(self) -> str:
        return str(self.identity["variant"])

    @property
    def call(self) -> str:
        return str(self.identity.get("call") or "fastest")

    def record(self, **measured: Any) -> CellRecord:
        """This cell's record with the given measurement fields (the rest at their defaults)."""
        return CellRecord(cell_id=self.cell_id, group_id=self.group_id, repetition=self.repetition,
                          **dict(self.identity), **measured)

    def to_json(self) -> dict[str, Any]:
        return {"cell_id": self.cell_id, "group_id": self.group_id, "repetition": self.repetition,
                **{k: self.identity[k] for k in IDENTITY_FIELDS}}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CellRef:
        return cls(str(d["cell_id"]), str(d["group_id"]), int(d["repetition"]),
                   {k: d.get(k, "fastest" if k == "call" else "") for k in IDENTITY_FIELDS})


@dataclass(frozen=True)
class MeasureTask:
    """One worker's job: load each variant's spec, then measure every cell under `policy`. Cells of the same
    batch size are measured together, their calls alternated round by round (interleaved)."""

    specs: Mapping[str, ModelSpec]  # variant -> what to load
    cells: tuple[CellRef, ...]
    policy: Policy
    seed: int = 0
    inputs_file: str | None = None
    memory_limit_mb: int | None = None
    fault: Mapping[str, Any] | None = field(default=None)  # test hook (INFER_BENCH_TEST_HOOKS=1 only)
    duet: Mapping[str, Any] | None = None  # {"dir", "me", "partner", "id"}: share each batch size's timed window (bench.worker.duet)
    load: Mapping[str, Any] | None = None  # LoadSettings JSON for cells with a load point (bench.worker.load)

    name = "measure"

    @property
    def spec(self) -> ModelSpec:
        """The first variant's spec: its device and environment are the whole process's."""
        return next(iter(self.specs.values()))

    def to_json(self) -> dict[str, Any]:
        return {"task": self.name, "specs": {v: s.to_json() for v, s in self.specs.items()},
                "cells": [c.to_json() for c in self.cells],
                "policy": self.policy.to_json(), "seed": self.seed, "inputs_file": self.inputs_file,
                "memory_limit_mb": self.memory_limit_mb, "fault": dict(self.fault) if self.fault else None,
                "duet": dict(self.duet) if self.duet else None, "load": dict(self.load) if self.load else None}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> MeasureTask:
        return cls(specs={v: ModelSpec.from_json(s) for v, s in d["specs"].items()},
                   cells=tuple(CellRef.from_json(c) for c in d["cells"]),
                   policy=Policy(**d["policy"]), seed=int(d.get("seed") or 0), inputs_file=d.get("inputs_file"),
                   memory_limit_mb=d.get("memory_limit_mb"), fault=d.get("fault"), duet=d.get("duet"),
                   load=d.get("load"))
