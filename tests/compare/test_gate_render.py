"""reports.gate rules and exit codes; reports.render_compare output and escaping."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from compare_fixtures import ENV, WriteRun, assert_comparison_can_reject, cell

from reports.compare import Comparison, compare, env_differences
from reports.escape import md_text as md
from reports.gate import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_PROBLEM, gate
from reports.load import load_runs
from reports.render_compare import render_json, render_markdown, render_terminal
from tests.reports.gfm import assert_tables_render

STEADY = [1.00, 1.04, 0.97, 1.02, 0.99]
NOISY = [0.7, 1.3, 1.0, 0.8, 1.2]


def _frame(write_run: WriteRun, base, cur, env=None):
    b = load_runs([write_run("b", base)])
    c = load_runs([write_run("c", cur, env=env)])
    return compare(b, c), env_differences(b, c)


def test_gate_passes_unchanged(write_run: WriteRun) -> None:
    frame, _ = _frame(write_run, [cell("m", STEADY, seed=1)], [cell("m", STEADY, seed=2)])
    result = gate(frame)
    assert (result.verdict, result.exit_code) == ("pass", EXIT_OK)
    assert_comparison_can_reject(frame)  # 5 vs 5 at 0.01: the rank test could have failed it (best p 1/252)


@pytest.mark.parametrize("kind", ["slower", "failed", "missing"])
def test_gate_fails_on_problems(write_run: WriteRun, kind: str) -> None:
    base = [cell("m", STEADY, seed=1)]
    cur = {
        "slower": [cell("m", [x * 1.3 for x in STEADY], seed=2)],
        "failed": [cell("m", [1.0], status="crashed", error="SIGSEGV")],
        "missing": [cell("other", STEADY)],
    }[kind]
    frame, _ = _frame(write_run, base, cur)
    result = gate(frame, strict=False)
    assert (result.verdict, result.exit_code) == ("fail", EXIT_PROBLEM)
    assert any(kind[:4] in m for m in result.messages("problem"))


def test_inconclusive_exit_3_only_when_strict(write_run: WriteRun) -> None:
    frame, _ = _frame(write_run, [cell("m", NOISY, seed=1)], [cell("m", [x * 1.1 for x in NOISY], seed=2)])
    assert gate(frame).exit_code == EXIT_OK
    strict = gate(frame, strict=True)
    assert (strict.verdict, strict.exit_code) == ("inconclusive", EXIT_INCONCLUSIVE)


def test_problem_beats_inconclusive_under_strict(write_run: WriteRun) -> None:
    base = [cell("a", NOISY, seed=1), cell("b", STEADY, seed=2)]
    cur = [cell("a", NOISY, seed=3), cell("b", [x * 1.3 for x in STEADY], seed=4)]
    frame, _ = _frame(write_run, base, cur)
    assert gate(frame, strict=True).exit_code == EXIT_PROBLEM


def test_empty_comparison_is_not_a_pass() -> None:
    frame = pd.DataFrame(columns=["verdict", "mde", "tested", "reps_needed"])
    assert gate(Comparison(frame)).exit_code == EXIT_PROBLEM


def test_blind_gate_says_so(write_run: WriteRun) -> None:
    frame, _ = _frame(write_run, [cell("m", NOISY, seed=1)], [cell("m", NOISY, seed=2)])
    warnings = gate(frame).messages("warning")
    assert any("could not have detected a 5% slowdown" in w and "repetitions per side" in w for w in warnings)


# ---- rendering ----------------------------------------------------------------------------------------

HOSTILE = "<script>alert(1)</script>|*x*_[y](z)"


def test_markdown_verdict_first_then_regressions_then_details(write_run: WriteRun) -> None:
    base = [cell("fast_model", STEADY, seed=1), cell("slow_model", STEADY, seed=2)]
    cur = [cell("fast_model", STEADY, seed=3), cell("slow_model", [x * 1.3 for x in STEADY], seed=4)]
    frame, diffs = _frame(write_run, base, cur)
    text = render_markdown(frame, gate(frame), diffs)
    lines = text.splitlines()
    assert lines[0].startswith("### ❌") and "FAIL" in lines[0] and "1 slower" in lines[0]
    assert text.index("#### Regressions") < text.index("<details>")
    regressions = text[text.index("#### Regressions"): text.index("<details>")]
    assert "slow\\_model" in regressions and "fast\\_model" not in regressions
    assert "+30" in regressions or "+29" in regressions or "+31" in regressions
    assert "Smallest detectable slowdown" in text
    assert "Not like-for-like" not in text
    regressions_table, details_table = assert_tables_render(text, at_least=2)  # environments match: no third
    assert (len(regressions_table.header), regressions_table.row_cells) == (8, [8])
    assert (len(details_table.header), details_table.row_cells) == (10, [10, 10])


def test_markdown_escapes_every_string_from_a_file(write_run: WriteRun) -> None:
    base = [cell(HOSTILE, STEADY, seed=1)]
    cur = [cell(HOSTILE, [1.0], status="crashed", error="boom @octocat\n| --- |\n<img src=x>")]
    env = {**ENV, "cpu_model": "<b>Evil</b> | CPU"}
    frame, diffs = _frame(write_run, base, cur, env=env)
    text = render_markdown(frame, gate(frame), diffs)
    assert "<script>" not in text and "<img" not in text and "<b>" not in text
    assert "@octocat" not in text
    assert "&lt;script&gt;" in text
    for line in text.splitlines():
        if line.startswith("| ") and "crashed" in line:
            # unescaped pipes would add columns: 10 columns in the details table, 8 in regressions
            assert line.replace("\\|", "").count("|") in (9, 11)
    assert_tables_render(text, at_least=3)  # and GitHub renders every table, hostile text and all
    assert md("a|b\nc") == "a\\|b c"


def test_markdown_warns_not_like_for_like(write_run: WriteRun) -> None:
    env = {**ENV, "tensorflow": {"version": "2.20.0"}}
    frame, diffs = _frame(write_run, [cell("m", STEADY, seed=1)], [cell("m", STEADY, seed=2)], env=env)
    text = render_markdown(frame, gate(frame), diffs)
    assert "Not like-for-like" in text and "tensorflow.version" in text.replace("\\", "")
    assert assert_tables_render(text)[-1].row_cells == [4]  # the environment differences: one row, four cells
    terminal = render_terminal(frame, gate(frame), diffs)
    assert "not like-for-like" in terminal and "2.21.0 -> 2.20.0" in terminal


def test_terminal_table_plain_text(write_run: WriteRun) -> None:
    frame, diffs = _frame(write_run, [cell("m", STEADY, seed=1)], [cell("m", [x * 1.3 for x in STEADY], seed=2)])
    text = render_terminal(frame, gate(frame), diffs, width=140)
    assert text.splitlines()[0].startswith("FAIL: 1 slower")
    assert "\x1b[" not in text
    assert "m · frozen · cpu · b1" in text and "slower" in text


def test_json_is_strict_json(write_run: WriteRun) -> None:
    frame, diffs = _frame(write_run, [cell("m", [1.0, 1.1], seed=1), cell("g", STEADY)], [cell("m", [1.0], seed=2)])
    document = json.loads(render_json(frame, gate(frame), diffs))
    assert document["verdict"] == "fail" and document["exit_code"] == 1
    assert document["counts"]["missing"] == 1 and document["counts"]["inconclusive"] == 1
    by_model = {c["model"]: c for c in document["cells"]}
    assert by_model["g"]["ratio"] is None
    assert document["settings"]["threshold"] == 0.05
