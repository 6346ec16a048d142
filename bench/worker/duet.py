"""Duet measurement, worker side: two workers time each batch size in one shared window.

The parent (bench.runner.duet) gives the two workers of a duet a folder of their own, a name each ("a", "b")
and the duet's id. Before each batch size's timed loop — after its first call and warmup — a worker arrives
at the meeting: it writes `arrive.<me>.<batch size>.json` (its arrival on CLOCK_MONOTONIC, the window it wants,
the cells it times) and waits, sleeping 1 ms between looks (never spinning beside its partner), for the
partner's arrival at the same batch size. Both then derive the same window from the two files: it starts
`LEAD_NS` after the later arrival and lasts the longer of the two wanted windows. Each sleeps until the start
and times until the deadline (`bench.timing.meet`). CLOCK_MONOTONIC is one clock for every process of a Linux
machine, so the recorded windows (`window_ns`) of the two cells can be compared directly.

A meeting ends without a partner when the partner
  - arrived at a larger batch size (it had nothing to time at this one): this batch size is timed alone;
  - left (`done.<name>`: it finished its cells): the rest is timed alone;
  - is gone without leaving (`gone.<name>`, written by the parent the moment the partner's process ended: it
    crashed, was killed, or raised): the partner is lost, seen at the next look (every millisecond), and this
    worker times the rest alone without meeting again; its records say `partner_lost` and when;
  - did not come within `WAIT_S` while its process lives (it hangs, or loads for that long): this batch size
    is timed alone.
Cells timed alone say `mode = "separate"`; cells timed in a shared window say `mode = "duet"` and name their
partner's cells, so that reports pair only partners.

Limits (stated in the README): the two share the machine's caches, memory bandwidth and, on a 2-core
machine, every other core; only what hits both processes alike cancels in their ratio.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.timing import Measurement, Policy
from reports.schema import CellRecord

WAIT_S = 120.0  # the longest wait for a partner whose process lives
POLL_S = 0.001
LEAD_NS = 20_000_000  # from the later arrival to the window's start: time for the waiting side to notice

Clock = Callable[[], int]


def window_policy(policy: Policy) -> Policy:
    """The same fixed window for both partners: time until max_time, whatever the interval does."""
    return dataclasses.replace(policy, min_time=policy.max_time, min_iterations=1, max_iterations=None)


@dataclass(frozen=True)
class Met:
    """A meeting that took place: the shared window on CLOCK_MONOTONIC and the partner's cells timed in it."""

    start_ns: int
    deadline_ns: int
    partner_cells: tuple[str, ...]


@dataclass(frozen=True)
class Arrival:
    """What a worker writes when it arrives at a batch size's meeting."""

    at_ns: int
    window_ns: int
    cells: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"at_ns": self.at_ns, "window_ns": self.window_ns, "cells": list(self.cells)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Arrival:
        return cls(int(d["at_ns"]), int(d["window_ns"]), tuple(str(c) for c in d["cells"]))


def shared_window(mine: Arrival, theirs: Arrival) -> tuple[int, int]:
    """(start, deadline) both partners compute alike from the two arrivals."""
    start = max(mine.at_ns, theirs.at_ns) + LEAD_NS
    return start, start + max(mine.window_ns, theirs.window_ns)


class Place:
    """One worker's side of its duet's meeting place (the folder the parent made for the two)."""

    def __init__(self, duet: Mapping[str, Any], clock: Clock = time.monotonic_ns,
                 sleep: Callable[[float], None] = time.sleep, wait_s: float = WAIT_S) -> None:
        self.folder, self.me = Path(str(duet["dir"])), str(duet["me"])
        self.partner, self.duet_id = str(duet["partner"]), str(duet["id"])
        self.clock, self.sleep, self.wait_s = clock, sleep, wait_s
        self.lost_ns: int | None = None  # when this worker saw the partner's process gone before it left

    def meet(self, batch_size: int, cells: Sequence[str], window_ns: int) -> Met | None:
        """Arrive at `batch_size` and wait for the partner; at the shared start, the window. None: time alone."""
        if self.lost_ns is not None:
            return None
        mine = Arrival(self.clock(), window_ns, tuple(cells))
        self._write(f"arrive.{self.me}.{batch_size}.json", mine.to_json())
        theirs = self._wait(batch_size, mine.at_ns)
        if theirs is None:
            return None
        start, deadline = shared_window(mine, theirs)
        ahead = start - self.clock()
        if ahead > 0:
            self.sleep(ahead / 1e9)
        return Met(start, deadline, theirs.cells)

    def leave(self) -> None:
        """Say this worker has measured all it had to, so its partner does not wait for it."""
        (self.folder / f"done.{self.me}").touch()

    def _wait(self, batch_size: int, since_ns: int) -> Arrival | None:
        name, prefix = f"arrive.{self.partner}.{batch_size}.json", f"arrive.{self.partner}."
        while True:
            names = os.listdir(self.folder)
            if name in names:
                return Arrival.from_json(json.loads((self.folder / name).read_text()))
            if f"done.{self.partner}" in names or _passed(names, prefix, batch_size):
                return None
            if f"gone.{self.partner}" in names:
                self.lost_ns = self.clock()
                return None
            if self.clock() - since_ns > self.wait_s * 1e9:
                return None
            self.sleep(POLL_S)

    def _write(self, name: str, body: Mapping[str, Any]) -> None:
        """Whole or not at all: the partner never reads half a file."""
        temporary = self.folder / f".{name}.{self.me}.tmp"
        temporary.write_text(json.dumps(dict(body)))
        os.replace(temporary, self.folder / name)


def _passed(names: Sequence[str], prefix: str, batch_size: int) -> bool:
    """Whether the partner arrived at a larger batch size (it had nothing to time at this one)."""
    return any(n.startswith(prefix) and n.endswith(".json") and int(n[len(prefix):-5]) > batch_size
               for n in names)


_PLACES: dict[str, Place] = {}


def place_of(duet: Mapping[str, Any]) -> Place:
    """This worker process's side of its duet (one per process: it remembers a lost partner)."""
    key = str(duet["dir"])
    if key not in _PLACES:
        _PLACES[key] = Place(duet)
    return _PLACES[key]


class Step:
    """One batch size of a duet worker: the meeting hook for `bench.timing` and what to record of it."""

    def __init__(self, place: Place, batch_size: int, cells: Sequence[str]) -> None:
        self.place, self.batch_size, self.cells = place, batch_size, tuple(cells)
        self.met: Met | None = None
        self.tries = 0

    def __call__(self, window_ns: int) -> int | None:
        """`bench.timing.Meeting`: meet once; a batch size timed again (a cell failed) is timed alone."""
        self.met = self.place.meet(self.batch_size, self.cells, window_ns) if self.tries == 0 else None
        self.tries += 1
        return self.met.deadline_ns if self.met is not None else None

    def stamp(self, record: CellRecord, measured: Measurement) -> None:
        """The record's mode, timed window and duet block (`reports.schema`)."""
        record.mode = "duet" if self.met is not None else "separate"
        record.window_ns = list(measured.window_ns) if measured.window_ns is not None else None
        record.duet = {"id": self.place.duet_id, "partners": list(self.met.partner_cells) if self.met else [],
                       "partner_lost": self.place.lost_ns is not None, "lost_ns": self.place.lost_ns}
