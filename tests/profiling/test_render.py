"""Renderers: plain text at a fixed width, Markdown and HTML escaping, SVG figures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from infer_core.profiling.coldstart import anatomy, first_call_phases, grappler_phase, phase, split_grappler
from infer_core.profiling.diff import diff_profiles
from infer_core.profiling.peak import achieved
from infer_core.profiling.records import new_profile, summarise
from reports import profiles

EVIL = "a|b<script>alert(1)</script>*[x]"


def _profile(name: str = "conv/Relu") -> dict:
    ops = [{"name": name, "type": "_FusedConv2D", "device": "CPU:0", "time_s": 6e-4, "calls": 1},
           {"name": "dense/MatMul", "type": "MatMul", "device": "CPU:0", "time_s": 2e-4, "calls": 1}]
    return new_profile(variant="frozen", call_path="session.callable_from_options", batch_size=32,
                       source="session_step_stats", label="traced", runs=5, step_samples=20,
                       notes=["framework overhead = step - ops"], **summarise(ops, 1e-3))


def test_text_names_the_top_ops_overhead_and_share_of_peak() -> None:
    text = profiles.profile_text(_profile(), achieved(27_000_000, 1e-3, {"peak_flops": 100e9}), top=5)
    assert "conv/Relu" in text and "_FusedConv2D" in text and "60.0%" in text
    assert "framework overhead 0.200 ms" in text
    assert "top op types: _FusedConv2D 60.0%, MatMul 20.0%" in text
    assert "27.00 GFLOP/s, 27.0% of the measured peak 100.00 GFLOP/s" in text
    assert all(len(line) <= profiles.WIDTH for line in text.splitlines())


def test_text_prints_markup_in_names_as_itself() -> None:
    assert "[bold]x" in profiles.profile_text(_profile("[bold]x"))


def test_markdown_and_html_escape_names_from_the_model() -> None:
    md = profiles.profile_markdown(_profile(EVIL))
    assert "<script>" not in md and "a\\|b" in md
    html = profiles.profile_html(_profile(EVIL))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.startswith('<section class="op-profile">') and html.endswith("</section>")


def test_tflite_profile_shows_the_op_list_and_no_op_times() -> None:
    part = {"ops": [{"index": 0, "op": "CONV_2D", "delegate": 2}, {"index": 1, "op": "SOFTMAX", "delegate": None}],
            "partition": [{"node": 2, "ops": [0], "op_types": {"CONV_2D": 1}}], "undelegated": [1]}
    p = new_profile(variant="tflite", batch_size=1, step_s=1e-4, source="tflite_op_list", tflite=part,
                    notes=["2 ops: 1 taken over by 1 delegate node(s), 1 on built-in kernels"])
    text = profiles.profile_text(p)
    assert "CONV_2D" in text and "delegate node 2" in text and "built-in kernel" in text
    assert "top 10 ops" not in text and "% step" not in text


def test_diff_renders_ops_on_one_side() -> None:
    before, after = _profile(), _profile()
    before["ops"].append({"name": "w/Read", "type": "ReadVariableOp", "device": "CPU:0", "time_s": 1e-5, "calls": 1})
    d = diff_profiles(before, after, "checkpoint", "frozen")
    text = profiles.diff_text(d)
    assert "ops only in checkpoint" in text and "w/Read" in text
    assert "| w/Read | ReadVariableOp |" in profiles.diff_markdown(d).replace("\\", "")
    assert "<table" in profiles.diff_html(d)


def _coldstart(variant: str) -> dict:
    phases = [phase("process start", 0.1, "process"), phase("import tensorflow", 2.0, "import"),
              phase("load: variable restore", 0.05, "load"), phase("load: other", 0.03, "load"),
              *first_call_phases(0.04, 0.01, None)]
    return anatomy(variant, split_grappler(phases, 0.02, grappler_phase("session.callable_from_options")), [])


def test_first_call_is_one_time_work_and_the_inference() -> None:
    phases = first_call_phases(first_s=0.04, warm_s=0.01, traced=1)
    assert [p["seconds"] for p in phases] == pytest.approx([0.03, 0.01])
    assert "traced 1 function(s)" in phases[0]["note"]


def test_grappler_estimate_is_carved_out_of_the_phase_that_holds_it() -> None:
    a = _coldstart("checkpoint")
    names = [p["name"] for p in a["phases"]]
    assert names[3:5] == ["load: graph optimisation (grappler)", "load: other (rest)"]
    assert [p["seconds"] for p in a["phases"][3:5]] == pytest.approx([0.02, 0.01])
    assert a["total_s"] == pytest.approx(0.1 + 2.0 + 0.05 + 0.03 + 0.04)
    assert grappler_phase("session.run(feed_dict)") == "first call: one-time work"
    capped = split_grappler([phase("first call: one-time work", 0.01, "first_call")], 0.5,
                            "first call: one-time work")
    assert [p["seconds"] for p in capped] == pytest.approx([0.01, 0.0])
    untouched = [phase("load: other", 0.01, "load")]
    assert split_grappler(untouched, None, "load: other") == untouched


def test_coldstart_renders_a_stacked_bar_per_format_as_svg() -> None:
    items = [_coldstart("checkpoint"), _coldstart("frozen")]
    svg = profiles.coldstart_svg(items)
    ET.fromstring(svg)  # well-formed XML
    assert "checkpoint" in svg and "import tensorflow" in svg
    assert "variable restore" in profiles.coldstart_text(items)
    assert "<svg" in profiles.coldstart_html(items)


def test_roofline_plots_achieved_against_the_measured_peak() -> None:
    points = [{"variant": "frozen", "batch_size": b, "achieved_flops": r} for b, r in ((1, 2e9), (32, 20e9))]
    svg = profiles.roofline_svg(points, 100e9)
    ET.fromstring(svg)
    assert "measured peak 100.0 GFLOP/s" in svg
    assert profiles.roofline_html([{"variant": "tflite", "batch_size": 1, "achieved_flops": None}], 1e9) == ""


def test_achieved_is_flops_over_step_and_share_of_peak() -> None:
    a = achieved(1_000_000, 1e-3, {"peak_flops": 1e10})
    assert a["achieved_flops"] == 1e9 and a["fraction_of_peak"] == 0.1
    assert achieved(None, 1e-3, None)["achieved_flops"] is None


def _cell(variant: str, batch: int, median_ms: float, profiled: bool) -> dict:
    prof = _profile() if profiled else None
    if prof is not None:
        prof["peak"] = {"peak_flops": 100e9}
    return {"kind": "cell", "model": "mnist_cnn", "variant": variant, "device": "cpu", "batch_size": batch,
            "status": "ok", "latencies_ns": [int(median_ms * 1e6)] * 3, "flops_per_sample": 843_708,
            "profile": prof, "repetition": 0}


def test_cells_sections_show_roofline_and_each_profiled_cell() -> None:
    cells = [_cell("frozen", 32, 1.0, True), _cell("tflite", 32, 0.5, False), _cell("frozen", 1, 0.1, False)]
    a = profiles.cell_achieved(cells[0], 100e9)
    assert a["flops"] == 843_708 * 32 and a["achieved_flops"] == pytest.approx(843_708 * 32 / 1e-3)
    assert a["fraction_of_peak"] == pytest.approx(a["achieved_flops"] / 100e9)
    assert len(profiles.roofline_points(cells)) == 3 and profiles.measured_peak(cells) == 100e9
    html = profiles.cells_html(cells)
    assert html.count('class="op-profile"') == 1 and 'class="roofline"' in html
    md = profiles.cells_markdown(cells)
    assert md.startswith("## Profiles") and md.count("### ") == 1 and "conv/Relu" in md


def test_cells_sections_are_empty_without_profiles_or_flops() -> None:
    cell = _cell("frozen", 1, 0.1, False)
    cell["flops_per_sample"] = None
    assert profiles.cells_html([cell]) == "" and profiles.cells_markdown([cell]) == ""


def test_a_busy_machine_is_called_out() -> None:
    p = _profile()
    p.update(load_average=[5.0, 6.0], cpu_count=2)
    assert "the machine was busy (load average 6.0 on 2 cores)" in profiles.profile_text(p)
    p.update(load_average=[0.5, 1.0])
    assert "busy" not in profiles.profile_text(p)


def test_tflite_cold_start_imports_litert_not_tensorflow() -> None:
    from infer_core.runtime import runtime_module

    assert runtime_module("tflite+int8") == "ai_edge_litert.interpreter"
    assert runtime_module("checkpoint") == runtime_module("keras+xla") == "tensorflow"


def test_the_runtime_start_is_apart_from_the_loads_in_the_zoomed_bars() -> None:
    """The runtime's start (kind "runtime"; "import" in older anatomies) is shown only in the whole-start bars."""
    a = _coldstart("checkpoint")
    a["phases"].insert(2, phase("runtime: first session", 0.5, "runtime"))
    svg = profiles.coldstart_svg([a])
    assert svg.count("runtime: first session") == 1  # in the legend; the zoomed panel leaves it out
    assert profiles.STARTUP_KINDS == ("process", "import", "runtime")


def test_cold_starts_attached_to_profiled_cells_become_stacked_bars() -> None:
    cells = [_cell("checkpoint", 1, 1.0, True), _cell("checkpoint", 32, 1.0, True), _cell("frozen", 1, 1.0, True)]
    cells[0]["profile"]["coldstart"] = _coldstart("checkpoint")
    cells[1]["profile"]["coldstart"] = _coldstart("checkpoint")
    cells[2]["profile"]["coldstart"] = _coldstart("frozen")
    assert [a["variant"] for a in profiles.coldstarts(cells)] == ["checkpoint", "frozen"]
    assert 'class="coldstart"' in profiles.cells_html(cells)


def test_report_hooks_read_a_real_results_file(tmp_path) -> None:
    """Through reports' own loader: a results.jsonl with one profiled cell and one plain cell."""
    import json

    from reports.load import load_runs
    from reports.schema import dumps

    profiled, plain = _cell("frozen", 32, 1.0, True), _cell("tflite", 1, 0.1, False)
    plain["flops_per_sample"] = None
    lines = [dumps({"kind": "header", "run_id": "r1", "env": {"host": "h"}})]
    lines += [dumps({**c, "run_id": "r1", "cell_id": f"c{i}", "host": "h"}) for i, c in enumerate((profiled, plain))]
    (tmp_path / "results.jsonl").write_text("\n".join(lines) + "\n")

    class Data:  # what render_html/render_md hand over: a ReportData, of which the hooks read `runs`
        runs = load_runs([tmp_path])

    html = profiles.html_section(Data())
    assert html.count('class="op-profile"') == 1 and 'class="roofline"' in html
    assert "conv/Relu" in profiles.markdown_section(Data())
    assert json.dumps([c["variant"] for c in profiles.report_cells(Data())]) == '["frozen"]'


def test_a_failed_profile_renders_as_one_line_everywhere() -> None:
    p = {"error": "ProfilingError: cannot freeze <x>"}
    assert profiles.profile_text(p).startswith("profiling failed: ProfilingError")
    assert "&lt;x&gt;" in profiles.profile_html(p) and "<x>" not in profiles.profile_html(p)
    assert "profiling failed" in profiles.profile_markdown(p)
    assert "top 10 ops" not in profiles.profile_text(p) and "<table" not in profiles.profile_html(p)


def test_flops_are_given_per_sample_and_per_call() -> None:
    p = _profile()  # batch 32
    text = profiles.profile_text(p, achieved(27_000_000, 1e-3, {"peak_flops": 100e9}, batch_size=32))
    assert "843,750 FLOPs per sample, 27,000,000 per call (batch 32)" in text
    assert "per inference" not in text
    p["batch_size"] = 1  # the batch size also comes from the profile when `achieved` has none
    assert "843,708 FLOPs per sample (= per call: batch 1)" in profiles.profile_text(p, achieved(843_708, 1e-3, None))
    cell = _cell("frozen", 32, 1.0, True)
    assert "843,708 FLOPs per sample, 26,998,656 per call (batch 32)" in profiles.cells_markdown([cell])
