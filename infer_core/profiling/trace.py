"""Chrome / Perfetto trace JSON of one traced step (open in ui.perfetto.dev or chrome://tracing).

TensorFlow ships the converter: `tensorflow.python.client.timeline.Timeline` turns a run's step
stats into the Trace Event Format. Each op becomes a complete event named by its op type, with
the node name in `args.name`. Returns the JSON text; writing it is the caller's business.
"""

from __future__ import annotations

import json
from typing import Any


def chrome_trace(step_stats: Any, graph: Any = None, show_memory: bool = False) -> str:
    """The trace of one run as JSON text."""
    from tensorflow.python.client import timeline

    return str(timeline.Timeline(step_stats, graph=graph).generate_chrome_trace_format(show_memory=show_memory))


def trace_op_names(trace_json: str) -> set[str]:
    """Node names of the op events in a trace (what a reader checks a trace against)."""
    events = json.loads(trace_json).get("traceEvents", [])
    return {e["args"]["name"] for e in events if e.get("ph") == "X" and "name" in e.get("args", {})}
