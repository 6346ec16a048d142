"""The test module the infer-bench pytest plugin collects: one test, parametrised per scenario cell.

Collected only when pytest runs with --infer-bench-scenario (bench.integrations.pytest_plugin adds this file to
what pytest collects and parametrises `infer_bench_cell`).
"""

from __future__ import annotations

from typing import Any

from bench.integrations.pytest_plugin import PluginState, run_cell


def test_infer_bench_cell(benchmark: Any, infer_bench_cell: Any, infer_bench_state: PluginState) -> None:
    run_cell(benchmark, infer_bench_cell, infer_bench_state)
