"""The parity a run stores: every format of the sweep, quantised TFLite variants included (shown,
never failing), as `infer-bench check` compares them. Real workers on the zoo's mnist_cnn."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.runner.session import expand_checked, export_zoo, parity_records
from bench.scenario import load

pytestmark = pytest.mark.slow


def test_quantised_tflite_variants_get_parity_rows_that_never_fail(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[sweep]\nformats = ["tflite", "tflite+int8dyn"]\nbatch_sizes = [1]\n'
                    'devices = ["cpu"]\n[[models]]\nzoo = "mnist_cnn"\n')
    s = load(path)
    e = expand_checked(s)
    [record] = parity_records(s, e, export_zoo(s, e), frozenset())
    assert record["error"] is None
    pairs = [(p["a"], p["b"], p["fp32"], p["ok"]) for p in record["pairs"]]
    assert pairs == [("tflite", "tflite+int8dyn", False, True)]
    assert 0.5 <= record["pairs"][0]["top1_agreement"] <= 1.0
