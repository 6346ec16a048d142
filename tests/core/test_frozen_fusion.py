"""The zoo's frozen graph runs the same fused kernels as its checkpoint.

With all-zero biases (untrained weights) grappler's constant folding rewrote BiasAdd(x, 0) to x in
the frozen graph, so Conv2D/MatMul + BiasAdd + Relu were no longer fused there while the
checkpoint kept them fused: "checkpoint vs frozen" then measured an artefact of the zoo, not of
the formats (benchmarks/results/frozen_fusion.txt). The zoo now has seeded non-zero biases.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.helpers import snippet

pytestmark = pytest.mark.slow

KERNELS = """
import json
from pathlib import Path
import numpy as np, tensorflow as tf
import infer_core
from bench.zoo_export import spec_for
from infer_core.inputs import synthesize_for
out = {{}}
for variant in ("frozen", "checkpoint"):
    model = infer_core.load(spec_for(Path({path!r}), variant))
    feeds = synthesize_for(model, 2, seed=0)
    md = tf.compat.v1.RunMetadata()
    model.session.run(model.fetch_tensors, {{t: feeds[i.name] for t, i in zip(model.feed_tensors, model.inputs)}},
                      options=tf.compat.v1.RunOptions(output_partition_graphs=True), run_metadata=md)
    out[variant] = sorted({{n.op for g in md.partition_graphs for n in g.node if "Conv" in n.op or "MatMul" in n.op}})
biases = [tf.make_ndarray(n.attr["value"].tensor) for n in tf.compat.v1.GraphDef.FromString(
    open({frozen!r}, "rb").read()).node if n.op == "Const" and n.name.endswith("/bias")]
out["zero_biases"] = sum(not b.any() for b in biases)
out["biases"] = len(biases)
print(json.dumps(out))
"""


def test_zoo_frozen_graph_is_fused_like_its_checkpoint(mnist_dir: Path) -> None:
    got = snippet(KERNELS.format(path=str(mnist_dir), frozen=str(mnist_dir / "frozen.pb")), legacy=True)
    assert got["biases"] == 2 and got["zero_biases"] == 0
    assert got["frozen"] == got["checkpoint"], got
    assert any("FusedConv2D" in op for op in got["frozen"]) and any("FusedMatMul" in op for op in got["frozen"]), got
