"""The serving sections of the report from a results file with load cells, capacity and tune records:
Markdown and terminal text, and the HTML in a real headless Chromium (no console errors, the curve plot
drawn, a hostile model name shown as text). Plus LoadGen itself answering on a stand-in (the cross-check's tool)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from reports.api import render_report
from reports.load import load_runs
from reports.load_views import curves, split_runs
from reports.schema import CellRecord, dumps

HOSTILE = "<script>alert(1)</script>|m"
UNFINISHED = "300 of 1000 queries unfinished 1 s (max_duration) after the schedule ended: the model cannot serve 1600 QPS"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def block(qps: float, p50: float, p99: float, **more: object) -> dict[str, object]:
    return {"point": f"server:{qps:g}", "scenario": "server", "target_qps": qps, "achieved_qps": qps * 0.99,
            "samples_per_query": 1, "latency_ns": {"p50": int(p50 * 1e6), "p99": int(p99 * 1e6)}, "observed_ns": int(p99 * 1e6),
            "bound_ns": int(p99 * 1.1e6), "slo_ms": 5.0, "percentile": 99.0, "valid": True, "stable": True,
            "reasons": [], "issue_delay_ns": {"p99": 100_000}, **more}


def write_run(path: Path) -> Path:
    lines = [dumps({"kind": "header", "run_id": "r1", "env": {"host": "h"}})]
    for qps, p50, p99 in [(100, 0.5, 1.0), (200, 0.5, 1.2), (400, 0.6, 1.9), (800, 2.0, 9.0)]:
        rec = CellRecord(cell_id=f"m/frozen/cpu/b1/server:{qps}", group_id="m/frozen/cpu", repetition=0, model=HOSTILE,
                         variant="frozen", load_point=f"server:{qps}", latencies_ns=[int(p50 * 1e6)] * 10, iterations=10,
                         load=block(qps, p50, p99, passed=p99 <= 5.0, phase="search"))
        lines.append(dumps({**rec.to_json(), "run_id": "r1"}))
    lost = block(1600, 4.0, 0.0, passed=False, phase="search", valid=False, queries_issued=1000, queries_unfinished=300,
                 unfinished_over_ns=1_000_000_000, late_allowed=2, observed_ns=None, bound_ns=None,
                 reasons=[UNFINISHED], latency_ns={"p50": 4_000_000, "p90": None, "p99": None, "max": None})
    rec = CellRecord(cell_id="m/frozen/cpu/b1/server:1600", group_id="m/frozen/cpu", repetition=0, model=HOSTILE,
                     variant="frozen", load_point="server:1600", latencies_ns=[4_000_000] * 700, iterations=700, load=lost)
    lines.append(dumps({**rec.to_json(), "run_id": "r1"}))
    lines.append(dumps({"kind": "capacity", "run_id": "r1", "model": HOSTILE, "variant": "frozen", "slo_ms": 5.0,
                        "percentile": 99.0, "rule": "observed", "capacity_qps": 400.0, "range": [380.0, 420.0],
                        "estimates": [400.0, None, 380.0, 420.0], "best_observed_ns": 1_000_000}))
    lines.append(dumps({"kind": "tune", "run_id": "r1", "model": HOSTILE, "slo_ms": 5.0, "percentile": 99.0,
                        "objective": "qps", "rows": [{"label": "frozen threads=2", "score": 900.0, "range": [850.0, 950.0],
                                                     "rounds": 3}], "winner": {"label": "frozen threads=2"},
                        "baseline_qps": 300.0, "gain": 3.0, "batching_parameters": "max_batch_size { value: 8 }\n"}))
    path.mkdir(parents=True)
    (path / "results.jsonl").write_text("\n".join(lines) + "\n")
    return path


def test_views_split_load_cells_and_find_the_knee(tmp_path: Path) -> None:
    runs = split_runs(load_runs([write_run(tmp_path / "r")]))
    assert runs.cells.empty and len(runs.serving) == 7  # 5 load cells + capacity + tune
    (curve,) = curves(runs)
    assert [p["target_qps"] for p in curve.points] == [100, 200, 400, 800]  # the point with an infinite p99 is no point
    assert curve.knee is not None and curve.knee["target_qps"] == 400  # p99 1.9 <= 2 x 1.0; 9.0 is past the knee


def test_markdown_and_terminal_sections(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r")
    md = str(render_report([run], "md"))
    assert "## Serving load and capacity" in md and "380–420 (3 of 4)" in md and "3.00× the single-stream batch-1" in md
    assert "range over processes" in md and "interval" not in md.split("## Serving load and capacity")[1]
    assert "<script>" not in md and "&lt;script&gt;" in md
    # the point that lost 30% of its queries: p50 a number, p99 and the bound over what each unfinished query waited
    assert re.search(r"\| server:1600 \| 1,584 \| 4\\\.00 \| &gt; 1,000 \| &gt; 1,000 \| no \| no \| 300 of 1000 queries unfinished", md)
    term = str(render_report([run], "term"))
    assert "Capacity at the SLO" in term and "server:800" in term
    assert re.search(r"server:1600\s+1,584\s+4\.00\s+> 1,000\s+> 1,000\s+no", term)


def test_html_in_chromium(tmp_path: Path, require_service: Callable[[bool, str], None]) -> None:
    require_service(CHROMIUM is not None, "headless chromium not installed (apt-get install -y chromium)")
    assert CHROMIUM is not None
    page = tmp_path / "report.html"
    page.write_text(str(render_report([write_run(tmp_path / "r")], "html")), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--enable-logging=stderr", "--v=0",
             f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom"]
    done = subprocess.run([CHROMIUM, *flags, page.resolve().as_uri()], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stderr.splitlines() if ":CONSOLE" in line] == []
    dom = done.stdout
    assert re.search(r'<figure class="plot" data-plot="serving">\s*<svg', dom)
    assert "Serving load and capacity" in dom and "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "<td>&gt; 1,000</td>" in dom and UNFINISHED in dom
    assert 'data-js-error' not in re.search(r"<html[^>]*>", dom).group(0)  # type: ignore[union-attr]


def test_loadgen_answers_on_a_stand_in(require_service: Callable[[bool, str], None]) -> None:
    try:
        import mlperf_loadgen  # noqa: F401
    except ImportError:
        require_service(False, "mlcommons-loadgen not installed (pip install -e '.[loadgen]')")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_load_vs_loadgen as cross

    def runner() -> None:
        time.sleep(0.002)

    theirs = cross.loadgen(runner, 100.0, 300, seed=0, slo_ms=500.0)
    ours = cross.ours(runner, 100.0, 300, seed=0)
    assert theirs["valid"] is False  # 300 queries are too few for LoadGen's early stopping at p99: no claim
    assert theirs["p99"] >= 2_000_000 and ours["p99"] >= 2_000_000  # a sleep never ends early
    assert len(theirs["arrivals"]) == len(ours["arrivals"]) == 300  # LoadGen's schedule, reproduced from its seed
    json.dumps(ours["block"])
