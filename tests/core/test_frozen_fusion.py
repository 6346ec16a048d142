"""The zoo's frozen graph runs the same fused kernels as its checkpoint.

With all-zero biases (untrained weights) grappler's constant folding rewrote BiasAdd(x, 0) to x in
the frozen graph, so Conv2D/MatMul + BiasAdd + Relu were no longer fused there while the
checkpoint kept them fused: "checkpoint vs frozen" then measured an artefact of the zoo, not of
the formats (benchmarks/results/frozen_fusion.txt). The zoo now has seeded non-zero biases. The
kernels are read as a user sees them: `infer-bench profile --json`, which records executed op types.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.helpers import cli, snippet

pytestmark = pytest.mark.slow

BIASES = """
import json, tensorflow as tf
gd = tf.compat.v1.GraphDef.FromString(open({frozen!r}, "rb").read())
biases = [tf.make_ndarray(n.attr["value"].tensor) for n in gd.node if n.op == "Const" and n.name.endswith("/bias")]
print(json.dumps({{"biases": len(biases), "zero_biases": sum(not b.any() for b in biases)}}))
"""


def _conv_matmul_kernels(model: Path, out: Path) -> list[str]:
    # the executed kernels, not their speed: one traced run, no peak FLOP/s probe
    proc = cli("profile", str(model), "--batch", "8", "--runs", "1", "--no-peak", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    by_type = json.loads(out.read_text())["profile"]["by_type"]
    return sorted(t["type"] for t in by_type if "Conv" in t["type"] or "MatMul" in t["type"])


def test_zoo_frozen_graph_is_fused_like_its_checkpoint(mnist_dir: Path, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:  # three independent processes, two at a time
        biases = pool.submit(snippet, BIASES.format(frozen=str(mnist_dir / "frozen.pb")))
        kernels = pool.map(_conv_matmul_kernels, [mnist_dir / "frozen.pb", mnist_dir / "checkpoint"],
                           [tmp_path / "frozen.json", tmp_path / "checkpoint.json"])
        frozen, checkpoint = list(kernels)
        got = biases.result()
    assert got["biases"] == 2 and got["zero_biases"] == 0
    assert frozen == checkpoint, (frozen, checkpoint)
    assert any("FusedConv2D" in op for op in frozen) and any("FusedMatMul" in op for op in frozen), frozen
