"""Profiling: where one inference's time goes.

- `ops`       per-op profile (traced Session runs; frozen concrete function for eager formats;
              op list and delegate partition for TFLite) and framework overhead
- `trace`     Chrome / Perfetto trace JSON of a traced step
- `flops`     FLOPs at a concrete batch size on the inference subgraph
- `peak`      measured peak FLOP/s of the device (large matmul)
- `coldstart` cold-start anatomy of a fresh process
- `diff`      two profiles side by side (pure, no TensorFlow)

Importing this package does not import TensorFlow; the functions do, in a worker process.
The measurement engine calls exactly `profile_model` and `count_flops` after timing a cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from infer_core.model import Model


def profile_model(model: Model, feeds: Mapping[str, np.ndarray], runs: int = 5) -> dict[str, Any]:
    """The per-op profile of a loaded model on `feeds` (JSON-able; keys in `records.py`), with the
    device's measured peak FLOP/s under "peak" (probed once per process, about a second)."""
    from infer_core.profiling.ops import profile_model as _profile_model

    return _profile_model(model, feeds, runs)


def count_flops(model: Model, batch_size: int, feeds: Mapping[str, np.ndarray] | None = None) -> int | None:
    """FLOPs of one inference of `batch_size` samples; None for TFLite (no TensorFlow graph)."""
    from infer_core.profiling.flops import count_flops as _count_flops

    return _count_flops(model, batch_size, feeds)


__all__ = ["profile_model", "count_flops"]
