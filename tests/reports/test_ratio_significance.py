"""A ratio's interval shown and its "significant" cannot disagree: one `stats.RatioInterval` decides both, the point
shown lies inside the interval shown, and every renderer that colours or words a ratio as significant (Markdown,
terminal, HTML, the summary) reads that one decision and prints the numbers at a precision that shows it.

Property tests over random per-process medians (hypothesis), then a report of a real results file whose speedups
are clearly faster, clearly within noise and slightly but consistently slower.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import synth
from hypothesis import given, settings
from hypothesis import strategies as st

from reports import numbers as fmt
from reports import stats
from reports.api import build
from reports.render_html import _significance_class, render_html
from reports.render_md import _speedup_cells, render_md
from reports.render_term import _speed_texts
from reports.summary import _call_clause, _speedup_clause
from reports.views import paired_speedup

RATIO = re.compile(r"^(\d+\.\d+)×$")
INTERVAL = re.compile(r"^(\d+\.\d+)–(\d+\.\d+)×$")
CHANGE = re.compile(r"^([+-]\d+(?:\.\d+)?)%$")
CHANGE_INTERVAL = re.compile(r"^([+-]\d+(?:\.\d+)?)…([+-]\d+(?:\.\d+)?)%$")

positive = st.floats(min_value=0.02, max_value=50.0, allow_nan=False, allow_infinity=False)


@st.composite
def paired_cells(draw: st.DrawFn) -> tuple[pd.Series, pd.Series]:
    """Two cells measured in the same 2-12 worker processes: per-process medians, the second's a ratio away from
    the first's with a spread from none to ±20%, and pooled medians anywhere within their processes' range."""
    n = draw(st.integers(min_value=2, max_value=12))
    base = draw(st.lists(positive, min_size=n, max_size=n))
    center = draw(st.floats(min_value=0.7, max_value=1.4))
    spread = draw(st.sampled_from([0.0, 1e-9, 0.001, 0.01, 0.05, 0.2]))
    noise = draw(st.lists(st.floats(min_value=-1.0, max_value=1.0), min_size=n, max_size=n))
    other = [b / (center * float(np.exp(spread * e))) for b, e in zip(base, noise, strict=True)]
    at = draw(st.floats(min_value=0.0, max_value=1.0)), draw(st.floats(min_value=0.0, max_value=1.0))
    return _cell(base, at[0]), _cell(other, at[1])


def _cell(medians: list[float], at: float) -> pd.Series:
    low, high = min(medians), max(medians)
    procs = {r: (1000 + r, "interleaved", m) for r, m in enumerate(medians)}
    return pd.Series({"p50_ms": low + (high - low) * at, "_procs": procs, "_p50_draws": None})


def _speedup_row(base: pd.Series, other: pd.Series) -> pd.Series:
    got = paired_speedup(base, other, 0.95)
    return pd.Series({"speedup": float(base["p50_ms"] / other["p50_ms"]), "batch_size": 1, "rerun_runs": None, **got})


def _shown(point: str, interval: str) -> tuple[float, float, float]:
    p, i = RATIO.match(point), INTERVAL.match(interval)
    assert p and i, (point, interval)
    return float(p.group(1)), float(i.group(1)), float(i.group(2))


@settings(max_examples=300, deadline=None)
@given(point=st.floats(min_value=1e-3, max_value=1e3), ratios=st.lists(st.floats(min_value=1e-2, max_value=1e2),
                                                                        min_size=2, max_size=20))
def test_the_ratio_interval_holds_its_point_and_decides_on_itself(point: float, ratios: list[float]) -> None:
    got = stats.ratio_interval(point, ratios)
    assert got.rerun_low <= got.low <= got.point <= got.high <= got.rerun_high
    assert got.significant == (got.low > 1.0 or got.high < 1.0)
    low, high, rerun_low, rerun_high = stats.t_interval_around(point, ratios)  # a cell's, placed the same way
    assert rerun_low <= low <= point <= high <= rerun_high
    within = stats.within_process_ratio(point, min(ratios), max(ratios), pairs=1)
    assert within.low <= within.point <= within.high and not within.significant


@settings(max_examples=300, deadline=None)
@given(cells=paired_cells())
def test_a_speedup_row_shows_an_interval_that_agrees_with_its_significance(cells: tuple[pd.Series, pd.Series]) -> None:
    row = _speedup_row(*cells)
    assert row["ci_lo"] <= row["speedup"] <= row["ci_hi"]
    assert row["significant"] == stats.excludes_one(row["ci_lo"], row["ci_hi"])
    # Markdown: bold exactly where the printed interval excludes 1, the printed point inside it
    cell, interval = _speedup_cells(row)
    p, lo, hi = _shown(cell.strip("*"), interval)
    assert lo <= p <= hi
    assert cell.startswith("**") == row["significant"] == (lo > 1.0 or hi < 1.0)
    # terminal: green or red exactly there, the same text
    point_text, interval_text = _speed_texts(row)
    assert (point_text.plain, interval_text.plain) == (cell.strip("*"), interval)
    assert bool(point_text.style) == row["significant"]
    # HTML: "good" or "bad" exactly there, on the side of 1 the point is
    assert _significance_class(row) == ("" if not row["significant"] else "good" if p > 1 else "bad")
    # the summary's clause shows the interval of what it says (a slowdown inverted), and it excludes 1 there too
    clause = _speedup_clause(pd.Series({**row, "pairs": row["pairs"]}))
    found = re.search(r": (\d+\.\d+)× (faster|slower) \(95% CI (\d+\.\d+)–(\d+\.\d+)×", clause)
    assert found, clause
    shown = float(found.group(1)), float(found.group(3)), float(found.group(4))
    assert shown[1] <= shown[0] <= shown[2]
    assert row["significant"] == (shown[1] > 1.0 or shown[2] < 1.0)


@settings(max_examples=200, deadline=None)
@given(cells=paired_cells())
def test_a_call_overhead_is_within_noise_exactly_where_its_interval_says(cells: tuple[pd.Series, pd.Series]) -> None:
    own, fastest = cells
    got = paired_speedup(own, fastest, 0.95)
    ratio = float(own["p50_ms"] / fastest["p50_ms"])
    row = pd.Series({"ratio": ratio, "overhead_ms": own["p50_ms"] - fastest["p50_ms"], "call_path": "model(x)",
                     "batch_size": 1, "rerun_lo": np.nan, "rerun_hi": np.nan, **got})
    clause = _call_clause(row)
    if not row["significant"]:
        assert "within noise" in clause and "95% CI" not in clause
        return
    found = re.search(r"\(([+-][\d.]+%), 95% CI ([+-][\d.]+)…([+-][\d.]+)%", clause)
    assert found and CHANGE.match(found.group(1)), clause
    point, low, high = float(found.group(1)[:-1]), float(found.group(2)), float(found.group(3))
    assert low <= point <= high and (low > 0 or high < 0), clause


@pytest.mark.parametrize(("point", "low", "high", "texts"), [
    (1.013, 1.004, 1.021, ("1.013×", "1.004–1.021×")),  # 1.00 would read as touching 1: one more decimal
    (1.5, 1.0000004, 2.0, ("1.5000000×", "1.0000004–2.0000000×")),
    (0.99, 0.98, 0.9996, ("0.9900×", "0.9800–0.9996×")),
    (1.01, 0.996, 1.03, ("1.01×", "1.00–1.03×")),  # includes 1: two decimals, and reads as including it
    (2.0, 1.9, 2.1, ("2.00×", "1.90–2.10×")),
])
def test_ratio_texts_show_which_side_of_1_an_interval_lies(point: float, low: float, high: float,
                                                            texts: tuple[str, str]) -> None:
    assert fmt.ratio_texts(point, low, high) == texts


def test_change_texts_show_which_side_of_0_an_interval_lies() -> None:
    assert fmt.change_texts(1.85, 1.80, 1.90) == ("+85%", "+80…+90%")
    assert fmt.change_texts(1.006, 1.003, 1.009) == ("+0.6%", "+0.3…+0.9%")
    assert fmt.change_texts(0.996, 0.9921, 0.9996) == ("-0.40%", "-0.79…-0.04%")
    assert fmt.change_texts(1.002, 0.997, 1.004) == ("+0%", "-0…+0%")  # within noise: never said significant


# ---------------------------------------------------------------- a report of a real results file

def _run(tmp_path: Path) -> Path:
    """Five worker processes, each format in each (interleaved): frozen twice as fast, tflite within ±1% of the
    checkpoint, saved_model 1.5% slower in every process (significant, and its interval's low end near 1)."""
    rng = np.random.default_rng(5)
    shifts = [1.0, 1.06, 0.95, 1.1, 0.98]
    factors = {"checkpoint": [1.0] * 5, "frozen": [0.5, 0.51, 0.49, 0.5, 0.505],
               "tflite": [1.01, 0.99, 1.0, 1.008, 0.993], "saved_model": [1.013, 1.016, 1.014, 1.017, 1.015]}
    records: list[dict[str, Any]] = []
    for rep, shift in enumerate(shifts):
        for variant, by_rep in factors.items():
            latencies = np.full(50, 2.0 * shift * by_rep[rep] * 1e6) + rng.integers(-2, 3, 50)
            records.append(synth.cell(variant, 1, latencies, repetition=rep, mode="interleaved", worker={"pid": 77 + rep}))
    return synth.write_run(tmp_path / "r", records)


def test_every_renderer_marks_exactly_the_speedups_whose_shown_interval_excludes_1(tmp_path: Path) -> None:
    data = build([_run(tmp_path)])
    marked = dict(zip(data.speedups["variant"], data.speedups["significant"], strict=True))
    assert marked == {"frozen": True, "saved_model": True, "tflite": False}
    md = render_md(data)
    table = md[md.index("## Speedup vs checkpoint"):].split("\n## ")[0]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| mnist")]
    assert len(rows) == 3
    for cells in rows:
        point, low, high = _shown(cells[3].strip("*"), cells[4])
        assert low <= point <= high
        assert cells[3].startswith("**") == (low > 1.0 or high < 1.0) == marked[cells[2].replace("\\", "")]
    html = render_html(data)
    spans = re.findall(r'<span class="(good|bad|)">(\d+\.\d+×)</span></td><td class="n">(\d+\.\d+–\d+\.\d+×)</td>', html)
    assert len(spans) == 3
    for css, point, interval in spans:
        p, low, high = _shown(point, interval)
        assert low <= p <= high and bool(css) == (low > 1.0 or high < 1.0)
