"""Facts about the worker process, from inside it (added to every cell record it measures, as "worker").

Besides what only a running TensorFlow knows, the facts hold the process's runtime start (RUNTIME_START): the
seconds of each step of it (import tensorflow, runtime: first session, ...; infer_core.runtime), paid once by the
process before its first model loads. It is a fact of the process, not of a cell: every cell of the process
carries the same one, and no model's load_s, load_phases or first_call_s holds any of it.
"""

from __future__ import annotations

import sys
from typing import Any

RUNTIME_START = "runtime_start"  # {step name: seconds}; absent in records made before it was measured


def tf_runtime_facts() -> dict[str, Any]:
    """What only a running TensorFlow knows, from inside a worker. Where the model did not need
    TensorFlow (LiteRT loads without it) it says so instead: importing it to ask costs seconds."""
    if "tensorflow" not in sys.modules:
        return {"tensorflow_imported": False}
    import tensorflow as tf

    facts: dict[str, Any] = {"tf_version": tf.__version__, "tf_git_version": tf.version.GIT_VERSION}
    try:
        from tensorflow.python.util import _pywrap_util_port

        facts["onednn"] = bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        facts["onednn"] = None
    facts["gpus_seen"] = len(tf.config.list_physical_devices("GPU"))
    return facts
