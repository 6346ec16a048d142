"""Parity in every report (issue 15, item 5): every model's parity table whatever the baseline,
quantised pairs shown and never failing, no "frozen vs checkpoint" box for a run of neither."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import synth

from reports.aggregate import aggregate
from reports.api import render_report
from reports.load import load_runs
from reports.summary import summarize
from reports.views import build_report


def _run(tmp_path: Path, variants: tuple[str, ...], parity: list[dict]) -> Path:
    records = synth.sweep_records(variants, (1, 8), reps=1, n=200)
    return synth.write_run(tmp_path / "r", records + parity)


def _quantised(model: str, a: str, b: str) -> dict:
    record = synth.parity(model, a, b, ok=True, max_abs=4e-2)
    record["pairs"][0].update(fp32=False, top1_agreement=0.97)
    return record


def test_parity_table_without_a_checkpoint(tmp_path: Path) -> None:
    variants = ("saved_model", "keras", "tflite", "tflite+int8dyn")
    parity = [synth.parity("mnist_cnn", "saved_model", "keras", max_abs=1e-7),
              synth.parity("mnist_cnn", "saved_model", "tflite", ok=False, max_abs=2e-2),
              _quantised("mnist_cnn", "tflite", "tflite+int8dyn")]
    run = _run(tmp_path, variants, parity)
    data = build_report(load_runs([run]), aggregate(load_runs([run])))
    assert data.baseline is None and data.speedups.empty  # no checkpoint: no speedup table
    assert list(zip(data.parity["a"], data.parity["b"], data.parity["verdict"], strict=True)) == [
        ("saved_model", "keras", "same"), ("saved_model", "tflite", "differs"), ("tflite", "tflite+int8dyn", "quantised")]
    html, md, term = (render_report([run], f) for f in ("html", "md", "term"))
    assert isinstance(html, str) and isinstance(md, str) and isinstance(term, str)
    section = html[html.index('<section id="parity">'):]
    section = section[: section.index("</section>")]
    assert section.count("<tr>") == 4 and "tflite+int8dyn" in section and ">quantised<" in section
    assert "## Output parity" in md and "| mnist\\_cnn | tflite | tflite+int8dyn | probs | 4.0e-02 | 97.0% | quantised |" in md
    assert "Output parity" in term and "quantised" in term and "differs" in term


def test_quantised_pair_in_the_speedup_table_is_labelled_not_failed(tmp_path: Path) -> None:
    run = _run(tmp_path, ("checkpoint", "tflite+int8"), [_quantised("mnist_cnn", "checkpoint", "tflite+int8")])
    runs = load_runs([run])
    data = build_report(runs, aggregate(runs))
    assert set(data.speedups["parity"]) == {"quantised"}
    assert np.allclose(data.speedups["parity_max_abs"], 4e-2)


def test_no_frozen_vs_checkpoint_box_when_the_run_has_neither(tmp_path: Path) -> None:
    run = _run(tmp_path, ("saved_model", "tflite"), [])
    runs = load_runs([run])
    headings = [item.heading for item in summarize(build_report(runs, aggregate(runs)))]
    assert "Frozen graph vs checkpoint" not in headings
    html = render_report([run], "html")
    assert isinstance(html, str) and "Frozen graph vs checkpoint" not in html
    one = _run(tmp_path / "one", ("checkpoint", "tflite"), [])
    runs = load_runs([one])
    items = {item.heading: item.lines for item in summarize(build_report(runs, aggregate(runs)))}
    assert items["Frozen graph vs checkpoint"][0].startswith("not measured")  # one of the pair: still said
