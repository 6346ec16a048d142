"""Facts about the running TensorFlow, from inside a worker (added to every cell record)."""

from __future__ import annotations

import sys
from typing import Any


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
