"""Renderers: stored expected text at fixed width with colour off, escaping, machine formats.

Regenerate the stored text after an intended change with
`INFER_BENCH_UPDATE_EXPECTED=1 pytest tests/reports/test_reports_render.py` and review the diff.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
import synth

from reports.api import FORMATS, build, render_report, render_reports
from reports.errors import ReportsError
from reports.escape import html_text, md_text
from reports.render_html import render_html
from reports.render_md import render_md
from reports.render_term import render_term

EXPECTED = Path(__file__).parent / "expected"
UPDATE = os.environ.get("INFER_BENCH_UPDATE_EXPECTED") == "1"


def check_expected(name: str, text: str) -> None:
    path = EXPECTED / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing {path}: run with INFER_BENCH_UPDATE_EXPECTED=1 once"
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.standard_run(tmp_path_factory.mktemp("runs") / "r")


def test_terminal_report_matches_stored_text(run_dir: Path) -> None:
    text = render_term(build([run_dir], slo_ms=1.0), width=100, color=False)
    assert "\x1b[" not in text
    assert max(len(line) for line in text.splitlines()) <= 100
    check_expected("standard_term.txt", text)


def test_terminal_colour_marks_faster_formats(run_dir: Path) -> None:
    text = render_term(build([run_dir]), color=True)
    assert re.search(r"\x1b\[32m\s*1\.99×", text)  # frozen vs checkpoint at batch 1, significant: green
    assert re.search(r"\x1b\[1;31mdiffers", text)  # tflite's outputs differ: bold red


def test_markdown_report_matches_stored_text(run_dir: Path) -> None:
    check_expected("standard_md.md", render_md(build([run_dir], slo_ms=1.0)))


def test_markdown_fits_a_pr_comment_by_dropping_detail_first(run_dir: Path) -> None:
    data = build([run_dir])
    full = render_md(data)
    small = render_md(data, max_chars=len(full) - 1)
    assert len(small) < len(full) and "Per-model tables left out to fit a PR comment" in small
    assert "## Summary" in small and "## Speedup vs checkpoint" in small
    tiny = render_md(data, max_chars=100)  # cannot fit: still the summary, fewest speedup rows
    assert "## Summary" in tiny


def test_markdown_summary_comes_first_and_details_collapse(run_dir: Path) -> None:
    text = render_md(build([run_dir]))
    assert text.index("## Summary") < text.index("## Speedup vs checkpoint") < text.index("<details>")
    assert "1.99× faster" in text


def test_hostile_strings_are_text_in_html_and_markdown(run_dir: Path) -> None:
    html = render_html(build([run_dir]))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert len(re.findall(r"<script>", html)) == 1  # only the report's own hashed error hook
    md = render_md(build([run_dir]))
    assert "<script>" not in md
    for line in md.splitlines():
        if line.startswith("| ") and "alert" in line:
            unescaped_pipes = len(re.findall(r"(?<!\\)\|", line))
            header = next(h for h in md.splitlines() if h.startswith("| ") and h.count("|") == unescaped_pipes)
            assert header  # same number of cells as some header: the hostile `|` did not split a cell


def test_rich_markup_in_a_model_name_prints_as_itself(tmp_path: Path) -> None:
    name = "[bold red]evil[/] [link=http://x]y[/link]"
    run = synth.write_run(tmp_path / "r", [synth.cell("frozen", 1, [1_000_000] * 20, model=name)])
    text = render_report([run], "term")
    assert isinstance(text, str)
    assert "[bold red]evil[/]" in text and "[link=http://x]y[/link]" in text


def test_html_is_self_contained(run_dir: Path) -> None:
    html = render_html(build([run_dir]))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(http" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert html.count('data-plot="throughput"') == 2 and html.count('data-plot="distribution"') == 2
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "SVG ids must be unique across figures"


def test_html_lists_failures_with_their_errors(run_dir: Path) -> None:
    html = render_html(build([run_dir]))
    section = html[html.index('id="failures"') :]
    for status in ("failed", "skipped", "timeout"):
        assert f'status {status}"' in section
    assert "worker timed out after 60 s" in section and "no representative dataset" in section


def test_csv_json_and_parquet_carry_the_tidy_frame(run_dir: Path) -> None:
    csv = render_report([run_dir], "csv")
    assert isinstance(csv, str)
    frame = pd.read_csv(io.StringIO(csv))
    assert len(frame) == 13 and "p99_ms" in frame.columns and "_p50_draws" not in frame.columns
    body = json.loads(render_report([run_dir], "json"))
    assert len(body["cells"]) == 13 and body["baseline"] == "checkpoint"
    assert {r["status"] for r in body["failures"]} == {"failed", "skipped", "timeout"}
    parquet = render_report([run_dir], "parquet")
    assert isinstance(parquet, bytes)
    back = pd.read_parquet(io.BytesIO(parquet))
    assert len(back) == 13 and back["p50_ms"].notna().sum() == 10


def test_every_format_renders_a_run_with_only_failed_cells(tmp_path: Path) -> None:
    records = [
        synth.cell("checkpoint", 1, [], status="crashed", error="Segmentation fault", signal=11),
        synth.cell("frozen", 1, [], status="skipped", error="skipped by request"),
    ]
    run = synth.write_run(tmp_path / "r", records)
    for fmt in FORMATS:
        out = render_report([run], fmt)
        assert out
    assert "2 cell runs produced no measurement" in render_report([run], "md")


def test_a_run_without_cells_renders(tmp_path: Path) -> None:
    """A run whose results hold only the header: the reports for people say there are no cells (once, in the
    summary, instead of "no measurements" under every heading); the tables for machines have their columns and no
    row."""
    from reports.summary import NO_CELLS

    run = synth.write_run(tmp_path / "r", [])
    out = {fmt: render_report([run], fmt) for fmt in FORMATS}
    term, md, html = str(out["term"]), str(out["md"]), str(out["html"])
    assert "No cells" in term and " ".join(term.split()).count(NO_CELLS) == 1
    assert f"**No cells**\n\n- {md_text(NO_CELLS)}" in md and "## Results\n\nNo cells." in md
    assert f"<li>{html_text(NO_CELLS)}</li>" in html and "<p>No cells.</p>" in html
    assert "every cell produced measurements" not in html
    for text in (term, md):
        assert "no measurements" not in text.lower()
    frame = pd.read_csv(io.StringIO(str(out["csv"])))
    assert frame.empty and {"model", "variant", "p50_ms", "speedup"} <= set(frame.columns)
    parquet = out["parquet"]
    assert isinstance(parquet, bytes) and pd.read_parquet(io.BytesIO(parquet)).empty
    document = json.loads(str(out["json"]))
    assert document["cells"] == [] and document["speedups"] == [] and document["failures"] == []


def test_two_runs_side_by_side(tmp_path: Path) -> None:
    a = synth.write_run(tmp_path / "a", synth.sweep_records(reps=1, run_id="a", host="h1"), "a", "h1")
    b = synth.write_run(tmp_path / "b", synth.sweep_records(reps=1, run_id="b", host="h2", speed=0.5), "b", "h2")
    text = render_report([a, b], "term")
    assert "mnist_cnn · cpu · a" in text and "mnist_cnn · cpu · b" in text  # the directories given
    html = render_report([a, b], "html")
    assert isinstance(html, str) and html.count('data-plot="throughput"') == 1  # one plot, runs overlaid
    figure = html[html.index('data-plot="throughput"') : html.index("</figure>", html.index('data-plot="throughput"'))]
    assert "frozen · a" in figure and "frozen · b" in figure
    assert html.count('data-plot="distribution"') == 2  # distributions stay per run


def test_render_reports_builds_once_and_matches_render_report(run_dir: Path) -> None:
    many = render_reports([run_dir], ["md", "term", "csv"])
    assert many["md"] == render_report([run_dir], "md")
    assert many["term"] == render_report([run_dir], "term")
    with pytest.raises(ReportsError, match="unknown report format"):
        render_reports([run_dir], ["md", "docx"])


def test_bad_options_are_user_errors(run_dir: Path) -> None:
    with pytest.raises(ReportsError, match="unknown report format"):
        render_report([run_dir], "pdf")
    with pytest.raises(ReportsError, match="unknown baseline format"):
        render_report([run_dir], "md", baseline_format="onnx")
    with pytest.raises(ReportsError, match="positive"):
        render_report([run_dir], "md", slo_ms=0)


def test_html_glance_marks_one_process_cells_and_shows_them_no_interval(tmp_path: Path) -> None:
    """One worker process: the at-a-glance grids say "1 proc" where a margin or a speedup has no interval at the
    level of the noise; the within-process interval is only in the cell's tooltip, so labelled."""
    ns = {"checkpoint": 1_000_000, "frozen": 800_000, "tflite": 200_000}
    run = synth.write_run(tmp_path / "r", [synth.cell(v, 1, [t] * 50) for v, t in ns.items()])
    html = render_report([run], "html")
    glance = html[html.index("Fastest format at each batch size"):html.index("Throughput and latency")]
    assert "4.00× (1 proc)" in glance  # tflite over frozen, untested
    assert 'title="within one process: 1.25–1.25×">1.25×</span> <span class="muted small">1 proc</span>' in glance
