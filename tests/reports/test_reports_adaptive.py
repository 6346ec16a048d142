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


def test_processes_needed_for_the_target_at_the_spread_seen() -> None:
    # the noisy ratios above: logs sd 0.2027. ±50%: t(n-1)/sqrt(n) <= ln 1.5 / 0.2027 = 2.00 -> n = 4
    # (n = 3: 4.303/1.732 = 2.48; n = 4: 3.182/2 = 1.59). ±3%: about (1.97 * 0.2027 / ln 1.03)² ≈ 183.
    noisy = [record("checkpoint", r, 1.0) for r in range(3)] + [record("frozen", r, ms) for r, ms in enumerate((0.5, 0.6, 0.4))]
    assert ratio_widths(noisy, target=0.5)[0].needed == 4
    assert 178 <= (ratio_widths(noisy)[0].needed or 0) <= 188
    assert ratio_widths([record("checkpoint", 0, 1.0), record("frozen", 0, 0.5)])[0].needed is None


def test_the_summary_says_what_the_target_would_take() -> None:
    from reports.summary import adaptive_line

    record = {"rounds": 7, "stopped": "time_budget", "elapsed_s": 91.0, "target": 0.03,
              "ratios": [{"label": "m b1: tflite/checkpoint", "pairs": 7, "half_width": 0.095, "reached": False,
                          "procs_needed": 28},
                         {"label": "m b1: frozen/checkpoint", "pairs": 7, "half_width": 0.04, "reached": False,
                          "procs_needed": 11},
                         {"label": "m b32: frozen/checkpoint", "pairs": 7, "half_width": 0.02, "reached": True,
                          "procs_needed": 4}]}
    line = adaptive_line("run", record)
    # 91 s / 7 rounds = 13 s a round; 28 rounds = 364 s, about 6 min; the budget rounded up to 10 s: 370
    assert line.endswith("1 of 3 ratios within ±3%; widest m b1: tflite/checkpoint (±9.5%); ±3% on every ratio would "
                         "take about 28 processes per group at the spread seen (~6 min at this run's 13 s per round: "
                         "--time-budget 370)")
    record["ratios"][0]["procs_needed"] = None
    assert adaptive_line("run", record).endswith("more than 200 processes per group at the spread seen")
    for r in record["ratios"]:
        del r["procs_needed"]  # a run recorded before the counts: the line as it was
    assert adaptive_line("run", record).endswith("widest m b1: tflite/checkpoint (±9.5%)")
