"""reports.startup: the runtime start per worker process, apart from each format's own load and first call."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import synth

from reports.api import build
from reports.render_html import render_html
from reports.render_md import render_md
from reports.render_term import render_term
from reports.startup import MISSING, RUNTIME_LABEL, cold_starts, rows

STARTS = {0: 4.0, 1: 5.0, 2: 9.0}  # seconds: the runtime start of each repetition's worker process


def shared_workers(tmp_path: Path, runtime: bool = True) -> Path:
    """Three worker processes, each measuring checkpoint and frozen at batch sizes 1 and 8 (four cells per process):
    loads differ per process, first calls per cell."""
    records = []
    for rep, start in STARTS.items():
        worker = {"pid": 100 + rep, **({"runtime_start": {"import tensorflow": start - 0.5, "runtime: first session": 0.5}}
                                     if runtime else {})}
        for variant, load in (("checkpoint", 0.07), ("frozen", 0.02)):
            for batch in (1, 8):
                records.append(synth.cell(variant, batch, [1_000_000] * 20, repetition=rep, worker=worker,
                                          load_s=load * (1 + rep), first_call_s=0.001 * batch * (1 + rep)))
    return synth.write_run(tmp_path / "r", records)


def test_the_runtime_start_is_one_value_per_process_never_a_sum(tmp_path: Path) -> None:
    [panel] = cold_starts(build([shared_workers(tmp_path)]))
    runtime = panel.runtime
    assert runtime is not None and runtime.count == 3  # processes, not the 12 cells that carry it
    assert (runtime.median, runtime.low, runtime.high) == (5.0, 4.0, 9.0)
    checkpoint, frozen = panel.formats
    assert checkpoint.load is not None and checkpoint.load.count == 3  # one load per process, whatever its batch sizes
    assert checkpoint.load.median == 0.07 * 2 and frozen.load is not None and frozen.load.median == 0.02 * 2
    assert checkpoint.first_call is not None and checkpoint.first_call.count == 6  # one first call per cell
    assert rows(panel)[0] == [RUNTIME_LABEL, "5.00 (4.00–9.00)", "–", "3"]
    assert rows(panel)[1] == ["checkpoint", "0.140", "0.00550", "3"]  # first calls 1-3 ms at batch 1, 8-24 ms at 8


def test_old_records_without_a_runtime_start_load_and_say_where_it_went(tmp_path: Path) -> None:
    data = build([shared_workers(tmp_path, runtime=False)])
    [panel] = cold_starts(data)
    assert panel.runtime is None and rows(panel)[0] == [RUNTIME_LABEL, MISSING, "–", "–"]
    for text in (render_term(data, color=False), render_md(data), render_html(data)):
        words = " ".join(text.split())  # the terminal wraps the note
        assert MISSING in words and "loaded first has it in its load" in words


def test_every_report_shows_the_runtime_start_apart_from_the_formats(tmp_path: Path) -> None:
    data = build([shared_workers(tmp_path)])
    term = render_term(data, color=False)
    assert re.search(r"runtime start, per process\s+5\.00 \(4\.00–9\.00\)\s+–\s+3", term)
    assert re.search(r"checkpoint\s+0\.140\s+0\.00550\s+3", term)
    assert "| runtime start, per process | 5.00 (4.00–9.00) | – | 3 |" in render_md(data)
    html = render_html(data)
    section = html[html.index('id="coldstart"'):]
    section = section[:section.index("</section>")]
    assert "<td>runtime start, per process</td>" in section and "5.00 (4.00–9.00)" in section
    svg = section[section.index("<svg"):section.index("</svg>") + 6]
    ET.fromstring(svg)
    assert "runtime start" in svg and "once per worker process (3 processes)" in svg
