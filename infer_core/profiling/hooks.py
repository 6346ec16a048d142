"""What each model family hands to profiling: the objects behind `Model.profile_target()`,
`Model.inference_graph()` and `Model.session_graph()` (infer_core/model.py).

Plain holders, no TensorFlow and no other infer_core import, so the model base class can name them;
infer_core.profiling.targets builds them for each format family.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np


@dataclass
class SessionTarget:
    session: Any
    graph: Any
    feed_tensors: list[Any]  # aligned with the model's inputs
    fetch_tensors: list[Any]
    source: str
    label: str
    owned: bool  # True when the Session was made here (and must be closed here)

    def feed_dict(self, input_names: Sequence[str], feeds: Mapping[str, np.ndarray]) -> dict[Any, np.ndarray]:
        """The feeds keyed by this Session's tensors; `input_names` are the model's inputs, in order."""
        return {t: np.asarray(feeds[name]) for t, name in zip(self.feed_tensors, input_names, strict=True)}

    def close(self) -> None:
        if self.owned:
            self.session.close()


@dataclass(frozen=True)
class TFLiteTarget:
    """A LiteRT interpreter: its op list and delegate partition (no per-op times)."""

    interpreter: Any


ProfileTarget: TypeAlias = SessionTarget | TFLiteTarget


@dataclass(frozen=True)
class InferenceGraph:
    """A model's inference graph for FLOP counting: GraphDef and feed/fetch tensor names."""

    graph_def: Any
    input_names: list[str]  # tensor names, aligned with the model's inputs
    output_names: list[str]
