"""The one table and page layer (reports.tables, reports.page) and who uses it: the report,
`profile --html`, the profile tables inside the report; @-mentions in every Markdown output."""

from __future__ import annotations

import re
from pathlib import Path

import synth

from bench.cli.profile import html_page
from reports import profiles
from reports.api import render_report
from reports.compare import compare, env_differences
from reports.escape import md_text
from reports.gate import gate
from reports.load import load_runs
from reports.page import content_security_policy, html_document, report_css
from reports.render_compare import render_markdown
from reports.tables import Row, html_table, md_table

OP = {"name": "conv/Relu @octocat", "type": "_FusedConv2D", "device": "CPU:0", "time_s": 6e-4, "calls": 1}


def profile() -> dict:
    from infer_core.profiling.records import new_profile, summarise

    return new_profile(variant="frozen", call_path="session.callable_from_options", batch_size=32,
                       source="session_step_stats", label="traced", runs=5, step_samples=20, **summarise([OP], 1e-3))


def test_markdown_table_by_hand() -> None:
    assert md_table(["a", "n"], [["x", "1"], ["y", "22"]], "lr") == (
        "| a | n |\n| :--- | ---: |\n| x | 1 |\n| y | 22 |")


def test_html_table_marks_numeric_columns_and_row_classes() -> None:
    html = html_table([("a", False), ("n", True)], [["x", "1"], Row(["y", "2"], "group")], caption="c", css_class="t")
    assert html == ('<table class="t"><caption>c</caption><thead><tr><th>a</th><th class="n">n</th></tr></thead>'
                    '<tbody><tr><td>x</td><td class="n">1</td></tr>'
                    '<tr class="group"><td>y</td><td class="n">2</td></tr></tbody></table>')


def test_profile_tables_use_the_class_the_report_css_right_aligns() -> None:
    html = profiles.profile_html(profile())
    assert 'class="num"' not in html
    assert re.search(r'<td class="n">[\d.]+</td>', html)  # ms, % step, calls
    assert "td.n,th.n{text-align:right" in report_css()


def test_one_document_with_csp_for_the_report_and_profile_html(tmp_path: Path) -> None:
    page = html_page("infer-bench profile: m <x>", profiles.profile_html(profile()))
    report = render_report([synth.standard_run(tmp_path / "r")], "html")
    assert isinstance(report, str)
    for doc in (page, report):
        assert f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">' in doc
        assert report_css() in doc
    assert "<title>infer-bench profile: m &lt;x&gt;</title>" in page and "<h1>infer-bench profile: m &lt;x&gt;</h1>" in page
    assert html_document("t", "<p>b</p>", extra_css=".x{}").count(".x{}</style>") == 1


def test_at_mentions_are_neutralised_in_every_markdown_output(tmp_path: Path) -> None:
    assert md_text("ping @octocat") == "ping &#64;octocat"
    run = synth.write_run(tmp_path / "r", [synth.cell("frozen", 1, [1_000_000] * 20, model="m @octocat")])
    report = render_report([run], "md")
    assert isinstance(report, str) and "m &#64;octocat" in report
    assert "@octocat" not in profiles.profile_markdown(profile())
    assert "@octocat" not in profiles.diff_markdown(_diff())
    runs = load_runs([run])
    comparison = compare(runs, runs)
    assert "@octocat" not in render_markdown(comparison, gate(comparison), env_differences(runs, runs))
    for text in (report, profiles.profile_markdown(profile()), render_markdown(comparison, gate(comparison))):
        assert "&#64;octocat" in text


def _diff() -> dict:
    from infer_core.profiling.diff import diff_profiles

    return diff_profiles(profile(), profile(), "a", "b")
