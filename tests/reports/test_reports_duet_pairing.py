"""Which duet cells a report pairs as a duet: only partners (each names the other, timed in one window), in
every repetition; duet cells of the same round that ran in different duets pair by round. Hand-made records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import synth

from reports.aggregate import aggregate
from reports.load import load_runs
from reports.views import speedups

MS = {"checkpoint": 1.0, "frozen": 0.5, "tflite": 0.25, "keras": 2.0}
DUETS = "paired in duets (two processes at once), n=2"
BY_ROUND = "paired by round (separate processes), n=2"


def cell_id(variant: str) -> str:
    return f"mnist_cnn/{variant}/cpu/b1"


def duet_cell(variant: str, rep: int, partner: str | None, duet_id: str) -> dict[str, Any]:
    """A duet worker's cell (one worker per variant) timed with `partner`'s cell, or without (None: not recorded)."""
    block = None if partner is None else {"id": duet_id, "partners": [cell_id(partner)], "partner_lost": False,
                                          "lost_ns": None}
    return synth.cell(variant, 1, [int(MS[variant] * 1e6)] * 20, repetition=rep, mode="duet", duet=block,
                      worker={"pid": 1000 + 10 * rep + list(MS).index(variant)})


def scope(tmp_path: Path, pairs: dict[int, list[tuple[str, str]]], variant: str = "frozen") -> str:
    """The ci_scope of `variant` vs checkpoint when, in each repetition, each (x, y) ran as a duet."""
    records = [duet_cell(v, rep, partner, f"r{rep}d{n}")
               for rep, duets in pairs.items() for n, (x, y) in enumerate(duets) for v, partner in ((x, y), (y, x))]
    runs = load_runs([synth.write_run(tmp_path, records)])
    table = speedups(aggregate(runs), pd.DataFrame(), "checkpoint").set_index("variant")
    return str(table.loc[variant, "ci_scope"])


def test_partners_in_every_round_are_paired_as_duets(tmp_path: Path) -> None:
    both = [("checkpoint", "frozen"), ("tflite", "keras")]
    assert scope(tmp_path, {0: both, 1: both}) == DUETS


def test_cells_of_the_same_round_in_different_duets_pair_by_round(tmp_path: Path) -> None:
    crossed = [("checkpoint", "tflite"), ("frozen", "keras")]
    assert scope(tmp_path, {0: crossed, 1: crossed}) == BY_ROUND
    assert scope(tmp_path, {0: crossed, 1: crossed}, "tflite") == DUETS  # its own partner: a duet


def test_partners_in_only_some_rounds_pair_by_round(tmp_path: Path) -> None:
    assert scope(tmp_path, {0: [("checkpoint", "frozen"), ("tflite", "keras")],
                            1: [("checkpoint", "tflite"), ("frozen", "keras")]}) == BY_ROUND


@pytest.mark.parametrize("record", ["one-sided", "before it was recorded"])
def test_a_cell_must_name_its_partner_and_be_named_by_it(tmp_path: Path, record: str) -> None:
    """One side names the other but not back (a re-timed cell, another duet), or runs from before the duet block
    existed (mode "duet" alone cannot tell partners from neighbours): by round."""
    records = []
    for rep in (0, 1):
        records += [duet_cell("checkpoint", rep, "frozen", f"d{rep}"),
                    duet_cell("frozen", rep, "tflite" if record == "one-sided" else None, f"d{rep}")]
    runs = load_runs([synth.write_run(tmp_path, records)])
    table = speedups(aggregate(runs), pd.DataFrame(), "checkpoint").set_index("variant")
    assert table.loc["frozen", "ci_scope"] == BY_ROUND
