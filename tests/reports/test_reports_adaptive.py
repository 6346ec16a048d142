"""reports.adaptive: which ratios a run has, paired how, and how wide their intervals are."""

from __future__ import annotations

import math

import pytest

from reports.adaptive import ratio_widths
from reports.schema import CellRecord


def record(variant: str, rep: int, ms: float, call: str = "fastest", pid: int | None = None) -> dict[str, object]:
    return CellRecord(cell_id=f"{variant}/{call}/{rep}", group_id="g", repetition=rep, model="m", variant=variant,
                      call=call, latencies_ns=[int(ms * 1e6)] * 5, worker={"pid": pid if pid is not None else rep}).to_json()


def test_formats_over_the_checkpoint_and_calls_over_their_fastest_path() -> None:
    shifts = [1.0, 1.4, 0.8]
    records = [record(v, r, ms * s) for r, s in enumerate(shifts)
               for v, ms in (("checkpoint", 1.0), ("frozen", 0.5), ("tflite", 0.25))]
    records += [record("frozen", r, 0.75 * s, call="idiomatic") for r, s in enumerate(shifts)]
    widths = {w.label: w for w in ratio_widths(records)}
    assert sorted(widths) == ["m b1: frozen idiomatic/frozen", "m b1: frozen/checkpoint", "m b1: tflite/checkpoint"]
    assert all(w.pairs == 3 and w.half_width == pytest.approx(0.0, abs=1e-4) for w in widths.values())
    assert widths["m b1: frozen/checkpoint"].reached(0.03, 3) and not widths["m b1: frozen/checkpoint"].reached(0.03, 4)


def test_one_process_has_no_width_and_noisy_ratios_are_wide() -> None:
    one = ratio_widths([record("checkpoint", 0, 1.0), record("frozen", 0, 0.5)])
    assert one[0].pairs == 1 and math.isinf(one[0].half_width) and not one[0].reached(0.5, 1)
    # ratios 0.5, 0.6, 0.4: logs sd 0.2027; t(2) 4.303 -> half-width exp(4.303*0.2027/sqrt 3) - 1 = 65.5%
    noisy = [record("checkpoint", r, 1.0) for r in range(3)] + [record("frozen", r, ms) for r, ms in enumerate((0.5, 0.6, 0.4))]
    assert ratio_widths(noisy)[0].half_width == pytest.approx(0.655, abs=0.01)
